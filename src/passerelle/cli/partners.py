"""`passerelle partner add|list|remove` and `passerelle agency key`: who the unit exchanges
with, and the key it signs with."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from passerelle.cli.commands import SpeakingCommand, SpeakingGroup
from passerelle.cli.context import Runtime, agency_option, needs_runtime, resolve_agency
from passerelle.core.audit import AuditEntry
from passerelle.core.errors import InvalidInput
from passerelle.core.exchange import AGREEMENT_SCHEMA, MAX_FEED_BYTES, Replayed, parse_page
from passerelle.core.message import message_of
from passerelle.exchange.signing import (
    MAX_DOCUMENT_BYTES,
    Refused,
    agency_key,
    claimed,
    rotate_key,
    seal,
    unseal,
)
from passerelle.fetch.guard import parse_allow_setting
from passerelle.language import said, say, translate
from passerelle.services import exchange


@click.group("partner", cls=SpeakingGroup)
def partner_group() -> None:
    """Partner agencies (another Passerelle, or a file drop)."""


@partner_group.command("add")
@click.argument("code")
@agency_option
@click.option("--name", default="", help="The partner agency's name.")
@click.option("--url", "base_url", default="", help="Its Passerelle's address (none: file drop).")
@click.option("--key", "public_key", required=True, help="Its Ed25519 public key (base64).")
@click.option("--contact", default="", help="How to reach its liaison officer.")
@needs_runtime
def partner_add(
    rt: Runtime,
    code: str,
    agency_code: str | None,
    name: str,
    base_url: str,
    public_key: str,
    contact: str,
) -> None:
    """Add the partner CODE to the agency's partners."""
    with rt.database.unit_of_work(write=True) as uow:
        agency = resolve_agency(uow, agency_code)
        partner = exchange.add_partner(
            uow,
            agency_id=agency.id,
            actor="cli",
            code=code,
            name=name,
            base_url=base_url,
            public_key=public_key,
            contact=contact,
            allowed=parse_allow_setting(rt.settings.partner_allow),
        )
        uow.commit()
    click.echo(
        say("partner %(code)s added (%(address)s)", code=partner.code, address=partner.base_url)
        if partner.base_url
        else say("partner %(code)s added (file drop)", code=partner.code)
    )


@partner_group.command("list")
@agency_option
@needs_runtime
def partner_list(rt: Runtime, agency_code: str | None) -> None:
    """List the partners: address, agreements and the last sync."""
    with rt.database.unit_of_work() as uow:
        agency = resolve_agency(uow, agency_code)
        for partner in uow.exchange.partners(agency.id):
            agreements = uow.exchange.agreements(agency.id, partner.id)
            states = ",".join(translate(a.status.value) for a in agreements)
            if partner.last_error:
                status = said(partner.last_error)
            elif partner.last_ok_at:
                status = say("synced %(time)s", time=f"{partner.last_ok_at:%Y-%m-%d %H:%M}")
            else:
                status = say("never synced")
            address = partner.base_url or say("file drop")
            click.echo(f"{partner.code}\t{address}\t{states or say('no agreement')}\t{status}")


@partner_group.command("remove")
@click.argument("code")
@agency_option
@needs_runtime
def partner_remove(rt: Runtime, code: str, agency_code: str | None) -> None:
    """Remove a partner whose agreements are all ended."""
    with rt.database.unit_of_work(write=True) as uow:
        agency = resolve_agency(uow, agency_code)
        partner = uow.exchange.partner_by_code(agency.id, code)
        if partner is None:
            raise click.UsageError(say("%(code)s is not a partner", code=code))
        exchange.remove_partner(uow, agency_id=agency.id, actor="cli", partner_id=partner.id)
        uow.commit()
    click.echo(say("partner %(code)s removed", code=code))


@click.command("key", cls=SpeakingCommand)
@agency_option
@click.option("--rotate", is_flag=True, help="Make a new key pair (give partners the new key).")
@needs_runtime
def agency_key_command(rt: Runtime, agency_code: str | None, rotate: bool) -> None:
    """Print the agency's Ed25519 public key (created at first use)."""
    with rt.database.unit_of_work(write=True) as uow:
        agency = resolve_agency(uow, agency_code)
        if rotate:
            public = rotate_key(uow, agency.id, rt.settings.secret_key)
            uow.audit.append(
                AuditEntry(
                    "agency.key_rotated", "cli", agency.id, "agency", agency.id, {"key": public}
                )
            )
        else:
            public, _ = agency_key(uow, agency.id, rt.settings.secret_key)
        uow.commit()
    click.echo(public)


@partner_group.command("receive")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@needs_runtime
def partner_receive(rt: Runtime, path: Path) -> None:
    """Take in a signed agreement or answer received by file drop (its signature checked
    against the sending partner's key)."""
    body, sender = _read_signed(path, "document")
    window = exchange.FILE_DROP_WINDOW
    with rt.database.unit_of_work(write=True) as uow:
        document = unseal(body, exchange.sender_key(uow, sender), max_bytes=MAX_DOCUMENT_BYTES)
        try:
            if document.get("schema") == AGREEMENT_SCHEMA:
                agreement = exchange.receive_proposal(uow, document=document, window=window)
            else:
                agreement = exchange.receive_answer(uow, document=document, window=window)
        except Replayed as exc:
            uow.rollback()
            exchange.record_replay(uow, exc)
            uow.commit()
            raise
        uow.commit()
    click.echo(
        say(
            "agreement %(id)s from %(sender)s: %(state)s",
            id=agreement.id,
            sender=sender.get("from"),
            state=translate(agreement.status.value),
        )
    )


@partner_group.command("export-feed")
@click.argument("code")
@agency_option
@click.option(
    "--cursor",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="The cursor the partner last reached (it says so on its partners page).",
)
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path))
@needs_runtime
def export_feed(rt: Runtime, code: str, agency_code: str | None, cursor: int, output: Path) -> None:
    """Write, signed, what the agreements with partner CODE let flow after CURSOR (for a
    partner reached by file drop)."""
    with rt.database.unit_of_work(write=True) as uow:
        agency = resolve_agency(uow, agency_code)
        partner = uow.exchange.partner_by_code(agency.id, code)
        if partner is None:
            raise InvalidInput(
                "%(code)s is not a partner of %(agency)s", code=code, agency=agency.code
            )
        page = exchange.build_feed(
            uow, publisher_id=agency.id, subscriber=partner, cursor=cursor, now=datetime.now(UTC)
        )
        _, key = agency_key(uow, agency.id, rt.settings.secret_key)
        uow.commit()
    output.write_bytes(seal(page.as_dict(), key))
    click.echo(
        say(
            "%(entries)s entries, cursor %(start)s to %(end)s, in %(path)s",
            entries=len(page.entries),
            start=cursor,
            end=page.next_cursor,
            path=output,
        )
    )


@partner_group.command("import-feed")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@agency_option
@needs_runtime
def import_feed(rt: Runtime, path: Path, agency_code: str | None) -> None:
    """Take in a signed feed received by file drop: checked as a pulled one, from our cursor."""
    body, claims = _read_signed(path, "feed")
    if "publisher" not in claims:
        raise InvalidInput("%(path)s is not a signed Passerelle feed", path=path)
    publisher = str(claims["publisher"])
    with rt.database.unit_of_work(write=True) as uow:
        agency = resolve_agency(uow, agency_code)
        partner = uow.exchange.partner_by_code(agency.id, publisher)
        if partner is None:
            raise InvalidInput(
                "%(code)s is not a partner of %(agency)s", code=publisher, agency=agency.code
            )
        now = datetime.now(UTC)
        try:
            page = parse_page(unseal(body, partner.public_key, max_bytes=MAX_FEED_BYTES))
            outcome = exchange.take_page(uow, partner=partner, page=page, now=now)
        except InvalidInput as exc:
            uow.rollback()
            uow.exchange.record_sync(partner.id, at=now, outcome="refused", detail=message_of(exc))
            uow.commit()
            raise
        uow.commit()
    for refused in outcome.refused:
        warning = say("warning: %(source)s: %(reason)s", source=path, reason=said(refused))
        click.echo(f"passerelle: {warning}", err=True)
    click.echo(
        say(
            "%(imported)s imported, %(retracted)s withdrawn from %(partner)s",
            imported=outcome.imported,
            retracted=outcome.retracted,
            partner=publisher,
        )
    )


def _read_signed(path: Path, what: str) -> tuple[bytes, dict[str, Any]]:
    """A file received by file drop and what it claims (its signature is checked later)."""
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            "cannot read %(path)s: %(strerror)s", path=path, strerror=exc.strerror
        ) from None
    try:
        return body, claimed(body)
    except Refused:
        raise InvalidInput(
            "%(path)s is not a signed Passerelle %(what)s", path=path, what=what
        ) from None
