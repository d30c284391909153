"""Commands of the administration of an instance: the database, agencies, people, hosting
providers, jobs, the server and the demo (loaded only when one of them runs)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from passerelle.cli.commands import SpeakingCommand, SpeakingGroup
from passerelle.cli.context import (
    EXIT_BAD_INPUT,
    Runtime,
    agency_option,
    fail,
    needs_runtime,
    resolve_agency,
)
from passerelle.cli.partners import agency_key_command
from passerelle.core.errors import DatabaseUnavailable, InvalidInput, NotFound
from passerelle.core.ports import UnitOfWork
from passerelle.db.migrate import upgrade
from passerelle.exchange.signing import agency_key
from passerelle.language import error_text, said, say
from passerelle.secret import check_secret
from passerelle.services import admin, auth, refer
from passerelle.services.passwords import prepare_password

# --- database ---------------------------------------------------------------------------------


@click.group(cls=SpeakingGroup)
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@needs_runtime
def db_upgrade(rt: Runtime) -> None:
    """Apply every pending migration (SQLite or PostgreSQL); the audit chain is keyed from
    here on (events written before are sealed as they are)."""
    upgrade(rt.database.engine)
    with rt.database.unit_of_work(write=True) as uow:
        uow.audit.ensure_keyed()
        uow.commit()
    click.echo(say("database is up to date"))


# --- agencies ---------------------------------------------------------------------------------


@click.group(cls=SpeakingGroup)
def agency() -> None:
    """Agencies (tenants)."""


@agency.command("add")
@click.argument("code")
@click.option("--name", required=True, help="Full name, shown in the console.")
@click.option("--jurisdiction", required=True, help="FR or CA-QC.")
@needs_runtime
def agency_add(rt: Runtime, code: str, name: str, jurisdiction: str) -> None:
    """Create an agency with a short CODE (e.g. unite-fr)."""
    with rt.database.unit_of_work(write=True) as uow:
        created = admin.create_agency(
            uow, code=code, name=name, jurisdiction=jurisdiction, actor="cli"
        )
        agency_key(uow, created.id, rt.settings.secret_key)  # its signing key, for partners
        uow.commit()
    click.echo(say("agency %(code)s created (%(id)s)", code=created.code, id=created.id))


@agency.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@needs_runtime
def agency_list(rt: Runtime, as_json: bool) -> None:
    """List agencies."""
    with rt.database.unit_of_work() as uow:
        agencies = uow.agencies.list()
    for item in agencies:
        if as_json:
            row = {
                "id": item.id,
                "code": item.code,
                "name": item.name,
                "jurisdiction": item.jurisdiction.value,
            }
            click.echo(json.dumps(row, ensure_ascii=False, sort_keys=True))
        else:
            click.echo(f"{item.code}\t{item.jurisdiction.value}\t{item.name}")


# --- users ------------------------------------------------------------------------------------


def _read_password(prompt: bool, password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if prompt:
        value: str = click.prompt(say("Password"), hide_input=True, confirmation_prompt=True)
        return value
    fail(say("give the password with --password-stdin or answer the prompt"), EXIT_BAD_INPUT)


# `passerelle user` is the operator's tool on the machine (it holds the database and the
# instance secret, and acts as "cli", never as a person of an agency): it sets roles when it
# creates people, the first administrators included, and has no command that changes the
# roles of an existing person. The console refuses that anyone changes their own roles
# (services.admin.change_roles); here there is no "own" to refuse.
@click.group(cls=SpeakingGroup)
def user() -> None:
    """People and their roles."""


@user.command("add")
@click.argument("username")
@click.option("--agency", "agency_code", required=True, help="Agency code.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    help="analyst, approver, controller, liaison or admin (repeatable).",
)
@click.option("--name", "display_name", default="", help="Name shown in the console.")
@click.option("--locale", default="fr", show_default=True, help="fr or en.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@needs_runtime
def user_add(
    rt: Runtime,
    username: str,
    agency_code: str,
    roles: tuple[str, ...],
    display_name: str,
    locale: str,
    password_stdin: bool,
) -> None:
    """Create a user in an agency."""
    # Hashed (Argon2, slow on purpose) before the write transaction opens.
    password = prepare_password(_read_password(not password_stdin, password_stdin))
    with rt.database.unit_of_work(write=True) as uow:
        created = admin.create_user(
            uow,
            agency_code=agency_code,
            username=username,
            password=password,
            roles=roles,
            display_name=display_name,
            locale=locale,
            actor="cli",
        )
        uow.commit()
    listed = ", ".join(sorted(created.roles))
    click.echo(say("user %(name)s created (%(roles)s)", name=created.username, roles=listed))


@user.command("list")
@click.option("--agency", "agency_code", default=None, help="Only this agency.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@needs_runtime
def user_list(rt: Runtime, agency_code: str | None, as_json: bool) -> None:
    """List users."""
    with rt.database.unit_of_work() as uow:
        agencies = {a.id: a.code for a in uow.agencies.list()}
        if agency_code:
            users = uow.users.list_in_agency(uow.agencies.get_by_code(agency_code).id)
        else:
            users = uow.users.list_all()
    for item in users:
        roles = sorted(r.value for r in item.roles)
        state = say("active") if item.is_active else say("disabled")
        if as_json:
            row = {
                "username": item.username,
                "agency": agencies[item.agency_id],
                "roles": roles,
                "active": item.is_active,
                "locale": item.locale.value,
            }
            click.echo(json.dumps(row, ensure_ascii=False, sort_keys=True))
        else:
            click.echo(f"{item.username}\t{agencies[item.agency_id]}\t{','.join(roles)}\t{state}")


@user.command("disable")
@click.argument("username")
@needs_runtime
def user_disable(rt: Runtime, username: str) -> None:
    """Disable a user and end their sessions."""
    with rt.database.unit_of_work(write=True) as uow:
        admin.disable_user(uow, username=username, actor="cli")
        uow.commit()
    click.echo(say("user %(name)s disabled", name=username))


@user.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@needs_runtime
def user_set_password(rt: Runtime, username: str, password_stdin: bool) -> None:
    """Set a user's password, unlock the account and end their sessions."""
    password = prepare_password(_read_password(not password_stdin, password_stdin))
    with rt.database.unit_of_work(write=True) as uow:
        admin.set_password(uow, username=username, password=password, actor="cli")
        uow.commit()
    click.echo(say("password of %(name)s set", name=username))


@user.command("token")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for.")
@needs_runtime
def user_token(rt: Runtime, username: str, name: str) -> None:
    """Create an API token for a user and print it once."""
    with rt.database.unit_of_work(write=True) as uow:
        credentials = uow.users.find_credentials(username)
        if credentials is None:
            raise NotFound("no user named %(name)s", name=repr(username))
        _, secret = auth.create_api_token(uow, user=credentials.user, name=name)
        uow.commit()
    click.echo(secret)


# --- hosting providers -----------------------------------------------------------------------


@click.group(cls=SpeakingGroup)
def host() -> None:
    """The directory of hosting providers (where notices go)."""


@host.command("add")
@click.argument("domain")
@agency_option
@click.option("--email", required=True, help="Contact address for notices.")
@click.option("--name", default="", help="Name of the provider.")
@click.option("--language", default="fr", show_default=True, help="Language of notices: fr or en.")
@needs_runtime
def host_add(
    rt: Runtime, domain: str, agency_code: str | None, email: str, name: str, language: str
) -> None:
    """Add a hosting provider for DOMAIN (and its subdomains)."""
    with rt.database.unit_of_work(write=True) as uow:
        agency = resolve_agency(uow, agency_code)
        added = refer.add_host(
            uow,
            agency_code=agency.code,
            actor="cli",
            domain=domain,
            name=name,
            email=email,
            language=language,
        )
        uow.commit()
    click.echo(
        say(
            "host %(domain)s added (%(email)s, %(language)s)",
            domain=added.domain,
            email=added.email,
            language=added.language,
        )
    )


@host.command("list")
@agency_option
@needs_runtime
def host_list(rt: Runtime, agency_code: str | None) -> None:
    """List the directory."""
    with rt.database.unit_of_work() as uow:
        agency = resolve_agency(uow, agency_code)
        hosts = uow.referrals.hosts(agency.id)
    for item in hosts:
        click.echo(f"{item.domain}\t{item.email}\t{item.language}\t{item.name}")


# --- jobs ----------------------------------------------------------------------------------


@click.group("jobs", cls=SpeakingGroup)
def jobs_group() -> None:
    """Persisted jobs (URL re-checks), run outside the web server."""


@jobs_group.command("run")
@click.option("--once", is_flag=True, help="Run the due jobs once and stop (for cron).")
@click.option(
    "--every",
    default=60,
    show_default=True,
    type=click.IntRange(5, 3600),
    help="Seconds between two looks for due jobs.",
)
@needs_runtime
def jobs_run(rt: Runtime, once: bool, every: int) -> None:
    """Run due jobs; several runners may share one database: a job never runs twice at once."""
    import time
    from datetime import timedelta

    from passerelle.cli.scanning import fetcher_for
    from passerelle.fetch.guard import AddressGuard, parse_allow_setting
    from passerelle.jobs.runner import run_once
    from passerelle.services.matchers import MatcherCache

    check_secret(rt.database, rt.settings.secret_key)
    # The same indexes on disk as `scan` and the console, kept open from round to round.
    matchers = MatcherCache(rt.settings.index_dir)
    with fetcher_for(rt.settings) as fetcher:
        while True:
            retention = timedelta(days=rt.settings.retention_days)
            try:
                runs = run_once(
                    rt.database,
                    fetcher,
                    store=rt.store,
                    retention=retention,
                    secret=rt.settings.secret_key,
                    partner_guard=AddressGuard(parse_allow_setting(rt.settings.partner_allow)),
                    matchers=matchers,
                    index_root=rt.settings.index_dir,
                )
            except DatabaseUnavailable as exc:
                if once:
                    raise
                click.echo(
                    say(
                        "jobs: %(error)s; next look in %(seconds)s s",
                        error=error_text(exc),
                        seconds=every,
                    ),
                    err=True,
                )
                runs = []
            for run in runs:
                state = (
                    say("error: %(message)s", message=said(run.failure))
                    if run.failure
                    else said(run.summary)
                )
                click.echo(f"{run.kind}\t{run.agency_id}\t{state}")
            if once:
                return
            time.sleep(every)


@jobs_group.command("list")
@needs_runtime
def jobs_list(rt: Runtime) -> None:
    """List the persisted jobs and when they run next."""
    with rt.database.unit_of_work() as uow:
        jobs = uow.jobs.all_jobs()
    for job in jobs:
        last = (
            say("last %(time)s", time=f"{job.last_run_at:%Y-%m-%d %H:%M}")
            if job.last_run_at
            else say("never run")
        )
        following = say("next %(time)s", time=f"{job.run_at:%Y-%m-%d %H:%M}")
        runs = say("runs %(count)s", count=job.runs)
        click.echo(f"{job.kind}\t{job.agency_id}\t{following}\t{last}\t{runs}")


# --- serving ----------------------------------------------------------------------------------


def _serve(rt: Runtime, host: str, port: int, workers: int | None = None) -> None:
    import uvicorn

    from passerelle.settings import WORKER_SETTINGS

    # Links in notices name the address actually served unless one is configured.
    rt.settings = rt.settings.model_copy(update={"host": host, "port": port})
    count = workers or rt.settings.web_workers
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "info",
        "access_log": rt.settings.access_log,
    }
    if count == 1:
        from passerelle.web.app import create_app

        uvicorn.run(create_app(rt.settings, rt.database), **options)
        return
    # Several processes share the listening socket; each builds its app from these settings.
    # What must hold across them is in the database (sessions, lock-outs, rate limits, seen
    # nonces, the audit chain); SQLite's writers wait for each other's lock.
    rt.database.dispose()
    os.environ[WORKER_SETTINGS] = rt.settings.model_dump_json()
    uvicorn.run("passerelle.web.app:create_worker_app", factory=True, workers=count, **options)


@click.command(cls=SpeakingCommand)
@click.option("--host", default=None, help="Address to listen on (default: settings).")
@click.option("--port", default=None, type=int, help="Port (default: settings).")
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 64),
    help="Server processes (default: PASSERELLE_WEB_WORKERS, 1).",
)
@needs_runtime
def serve(rt: Runtime, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the console and the API."""
    from passerelle.db.engine import check_connection

    check_connection(rt.database.engine)
    check_secret(rt.database, rt.settings.secret_key)  # refuse before serving any 500
    _serve(rt, host or rt.settings.host, port or rt.settings.port, workers)


# The demo's two units are partners served by this very instance, on the loopback network.
DEMO_PARTNER_ALLOW = "127.0.0.0/8,::1/128"


def _seed_demo_partners(uow: UnitOfWork, secret: str, address: str) -> None:
    """The two demo units are each other's partner, both on this instance (no agreement
    yet: a liaison proposes one, the other accepts)."""
    from passerelle.fetch.guard import parse_allow_setting
    from passerelle.services.exchange import add_partner

    units = [uow.agencies.get_by_code(code) for code in ("demo-fr", "demo-qc")]
    keys = {unit.code: agency_key(uow, unit.id, secret)[0] for unit in units}
    for here, there in (units, units[::-1]):
        if uow.exchange.partner_by_code(here.id, there.code) is None:
            add_partner(
                uow,
                agency_id=here.id,
                actor="demo",
                code=there.code,
                name=there.name,
                base_url=address,
                public_key=keys[there.code],
                contact=f"liaison.{there.code[-2:]}@demo.invalid",
                allowed=parse_allow_setting(DEMO_PARTNER_ALLOW),
            )


@click.command(cls=SpeakingCommand)
@click.option("--host", default=None, help="Address to listen on (default: settings).")
@click.option("--port", default=None, type=int, help="Port (default: settings).")
@click.option("--no-serve", is_flag=True, help="Seed the demo data and stop.")
@click.option(
    "--article",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A news article (text or HTML) to add as a page reported by the public.",
)
@needs_runtime
def demo(
    rt: Runtime, host: str | None, port: int | None, no_serve: bool, article: Path | None
) -> None:
    """Seed the fictional demo agencies and people, then serve the console (dev only)."""
    from importlib import resources

    from passerelle.core.content import Content
    from passerelle.services.demo import seed_demo, seed_demo_cases

    if rt.settings.env != "dev":
        raise InvalidInput("the demo runs only with PASSERELLE_ENV=dev")
    upgrade(rt.database.engine)
    with rt.database.unit_of_work(write=True) as uow:
        logins = seed_demo(uow)
        folder = resources.files("passerelle") / "demo_content"
        images = sorted(
            (p for p in folder.iterdir() if p.name.endswith(".jpg")), key=lambda p: p.name
        )
        contents = [
            Content(
                source=f"demo:{p.name}", data=p.read_bytes(), url=f"https://demo.invalid/{p.name}"
            )
            for p in images
        ]
        known = (folder / "stand-in-original.jpg").read_bytes()
        article_bytes = None
        if article is not None:
            try:
                article_bytes = article.read_bytes()
            except OSError as exc:
                raise InvalidInput(
                    "cannot read the article %(article)s: %(strerror)s",
                    article=article,
                    strerror=exc.strerror,
                ) from None
        seed_demo_cases(uow, known=known, scanned=contents, store=rt.store, article=article_bytes)
        address = f"http://{host or rt.settings.host}:{port or rt.settings.port}/"
        _seed_demo_partners(uow, rt.settings.secret_key, address.rstrip("/"))
        uow.commit()
    click.echo(say("Passerelle demo: %(address)s", address=address))
    click.echo(say("Demo logins (password for all: %(password)s):", password=logins[0].password))
    for login in logins:
        click.echo(f"  {login.username:<22} {', '.join(login.roles):<12} {login.agency}")
    if not no_serve:
        if not rt.settings.public_agency:  # the demo opens the public form to the French unit
            rt.settings = rt.settings.model_copy(update={"public_agency": "demo-fr"})
        if not rt.settings.partner_allow:  # its two units reach each other on this machine
            rt.settings = rt.settings.model_copy(update={"partner_allow": DEMO_PARTNER_ALLOW})
        click.echo(
            say(
                "Public report form: %(address)ssignaler (fr), %(address)sreport (en)",
                address=address,
            )
        )
        _serve(rt, host or rt.settings.host, port or rt.settings.port)


agency.add_command(agency_key_command)
