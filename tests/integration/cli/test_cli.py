"""The `passerelle` command: exact output and exit codes, good input and bad."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from passerelle.cli.main import cli
from passerelle.core.case import QueueFilters
from passerelle.db.engine import make_engine
from passerelle.db.session import Database
from passerelle.settings import load_settings
from tests.shared import shared


@pytest.fixture
def run(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    """Invoke the CLI in dev on a fresh database (both engines); the schema is upgraded first."""
    env = {
        "PASSERELLE_ENV": "dev",
        "PASSERELLE_DATABASE_URL": database_url,
        "PASSERELLE_DATA_DIR": str(tmp_path / "var"),
    }

    def invoke(*args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), env=env, input=stdin, catch_exceptions=False)

    assert invoke("db", "upgrade").output == "database is up to date\n"
    return invoke


def test_agency_and_user_lifecycle(run) -> None:  # type: ignore[no-untyped-def]
    result = run("agency", "add", "unite-fr", "--name", "Unité démo France", "--jurisdiction", "fr")
    assert result.exit_code == 0
    assert result.output.startswith("agency unite-fr created (")

    assert run("agency", "list").output == "unite-fr\tFR\tUnité démo France\n"
    listed = run("agency", "list", "--json").output
    assert '"code": "unite-fr"' in listed and '"name": "Unité démo France"' in listed

    result = run(
        "user",
        "add",
        "Analyste.Un",
        "--agency",
        "unite-fr",
        "--role",
        "analyst",
        "--role",
        "approver",
        "--password-stdin",
        stdin="un mot de passe long\n",
    )
    assert (result.exit_code, result.output) == (
        0,
        "user analyste.un created (analyst, approver)\n",
    )
    assert run("user", "list").output == "analyste.un\tunite-fr\tanalyst,approver\tactive\n"

    result = run(
        "user", "set-password", "analyste.un", "--password-stdin", stdin="autre mot de passe\n"
    )
    assert (result.exit_code, result.output) == (0, "password of analyste.un set\n")
    assert run("user", "disable", "analyste.un").output == "user analyste.un disabled\n"
    assert run("user", "list", "--agency", "unite-fr").output == (
        "analyste.un\tunite-fr\tanalyst,approver\tdisabled\n"
    )
    token = run("user", "token", "analyste.un", "--name", "script").output
    assert token.startswith("psl_") and len(token.strip()) > 40

    verify = run("audit", "verify")
    assert verify.exit_code == 0
    assert verify.output.startswith("audit log intact: 5 events, head ")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ("agency", "add", "x", "--name", "X", "--jurisdiction", "FR"),
            None,
            "passerelle: error: agency code must be 2-32 characters: lower-case letters, digits and"
            " '-', starting with a letter\n",
        ),
        (
            ("agency", "add", "unite-us", "--name", "X", "--jurisdiction", "US"),
            None,
            "passerelle: error: unknown jurisdiction 'US'; use one of: FR, CA-QC\n",
        ),
        (
            (
                "user",
                "add",
                "bob",
                "--agency",
                "nulle-part",
                "--role",
                "analyst",
                "--password-stdin",
            ),
            "un mot de passe long\n",
            "passerelle: error: no agency with code 'nulle-part'\n",
        ),
        (
            ("user", "add", "bob", "--agency", "unite-fr", "--role", "chef", "--password-stdin"),
            "un mot de passe long\n",
            "passerelle: error: unknown role 'chef'; roles are: analyst, approver, controller,"
            " liaison, admin\n",
        ),
        (
            ("user", "add", "bob", "--agency", "unite-fr", "--role", "analyst", "--password-stdin"),
            "court\n",
            "passerelle: error: password must be at least 12 characters\n",
        ),
        (("user", "disable", "personne"), None, "passerelle: error: no user named 'personne'\n"),
        (
            ("agency", "add", "unite-fr", "--name", "Bis", "--jurisdiction", "FR"),
            None,
            "passerelle: error: an agency with code 'unite-fr' already exists\n",
        ),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(run, args, stdin, message) -> None:  # type: ignore[no-untyped-def]
    run("agency", "add", "unite-fr", "--name", "Unité", "--jurisdiction", "FR")
    result = CliRunner().invoke(cli, list(args), input=stdin, env=_env_of(run))
    assert result.exit_code == 2
    assert result.output == message


def _env_of(run) -> dict[str, str]:  # type: ignore[no-untyped-def]
    # The fixture's closure holds the environment; reuse it for a runner that separates streams.
    env: dict[str, str] = run.__closure__[0].cell_contents
    return env


def test_demo_refuses_outside_dev(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["demo", "--no-serve"],
        env={
            "PASSERELLE_ENV": "test",
            "PASSERELLE_SECRET_KEY": "demo-refused-outside-dev-0123456789",
            "PASSERELLE_DATA_DIR": str(tmp_path),
        },
    )
    assert (result.exit_code, result.output) == (
        2,
        "passerelle: error: the demo runs only with PASSERELLE_ENV=dev\n",
    )


def test_demo_seeds_and_prints_the_logins(tmp_path: Path) -> None:
    env = {"PASSERELLE_ENV": "dev", "PASSERELLE_DATA_DIR": str(tmp_path / "var")}
    first = CliRunner().invoke(cli, ["demo", "--no-serve", "--port", "8123"], env=env)
    assert first.exit_code == 0, first.output
    lines = first.output.splitlines()
    assert lines[0] == "Passerelle demo: http://127.0.0.1:8123/"
    assert lines[1] == "Demo logins (password for all: demo-passerelle):"
    assert "  analyste.fr            analyst      Unité démo France" in lines
    assert "  approbateur.qc         approver     Unité démo Québec" in lines
    assert len(lines) == 12
    again = CliRunner().invoke(cli, ["demo", "--no-serve", "--port", "8123"], env=env)
    assert again.output == first.output
    verify = CliRunner().invoke(cli, ["audit", "verify"], env=env)
    # 2 agencies + 10 people, 2 demo banks and their entries, a demo host and 3 demo cases
    # in each unit, the two units as each other's partner
    assert verify.output.startswith("audit log intact: 26 events")
    from passerelle.db.engine import make_engine
    from passerelle.db.session import Database

    database = Database(make_engine(f"sqlite:///{tmp_path / 'var' / 'passerelle.db'}"))
    try:
        with database.unit_of_work() as uow:
            queues = {
                code: uow.queue.count_cases(uow.agencies.get_by_code(code).id)
                for code in ("demo-fr", "demo-qc")
            }
    finally:
        database.dispose()
    assert queues == {"demo-fr": 3, "demo-qc": 3}  # Québec roles have cases to try


def _subprocess(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    return subprocess.run(
        [sys.executable, "-m", "passerelle.cli.main", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_unreachable_database_is_one_line_and_exit_1() -> None:
    result = _subprocess(
        {
            "PASSERELLE_ENV": "dev",
            "PASSERELLE_DATABASE_URL": "postgresql+psycopg://passerelle:secret@127.0.0.1:9/nulle",
        },
        "db",
        "upgrade",
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(
        "passerelle: error: cannot reach the database at"
        " postgresql+psycopg://passerelle:***@127.0.0.1:9/nulle: "
    )
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"PASSERELLE_PORT": "quatre-vingt", "PASSERELLE_ENV": "dev"},
            "passerelle: error: bad settings: PASSERELLE_PORT must be a whole number\n",
        ),
        (
            {},
            "passerelle: error: bad settings: PASSERELLE_SECRET_KEY must be set outside dev"
            " (the default key is public)\n",
        ),
        (
            {"PASSERELLE_ENV": "dev", "PASSERELLE_DATABASE_URL": "mysql://x@y/z"},
            "passerelle: error: PASSERELLE_DATABASE_URL: unsupported database 'mysql' (use sqlite"
            " or postgresql)\n",
        ),
        (
            {"PASSERELLE_ENV": "dev", "PASSERELLE_DATABASE_URL": "pas une url"},
            "passerelle: error: PASSERELLE_DATABASE_URL is not a database URL: 'pas une url'\n",
        ),
    ],
)
def test_malformed_settings_stop_start_up(env: dict[str, str], message: str) -> None:
    result = _subprocess(env, "db", "upgrade")
    assert result.returncode == 2
    assert result.stderr == message


def test_demo_adds_the_seed_article_as_a_public_report_with_no_match(tmp_path: Path) -> None:
    env = {"PASSERELLE_ENV": "dev", "PASSERELLE_DATA_DIR": str(tmp_path / "var")}
    article = next(shared("seed").glob("*.txt"))
    args = ["demo", "--no-serve", "--article", str(article)]
    first = CliRunner().invoke(cli, args, env=env)
    assert first.exit_code == 0, first.output
    assert CliRunner().invoke(cli, args, env=env).exit_code == 0  # idempotent
    settings = load_settings(env="dev", data_dir=tmp_path / "var")
    database = Database(make_engine(settings.effective_database_url))
    try:
        with database.unit_of_work() as uow:
            agency = uow.agencies.get_by_code("demo-fr")
            cases = uow.queue.list_cases(agency.id, QueueFilters(), limit=10)
            (public,) = [c for c in cases if c.source == "public"]
            detail = uow.queue.get_case(agency.id, public.id)
    finally:
        database.dispose()
    assert len(cases) == 4
    assert detail.matches == [] and detail.summary.score == 0
    assert detail.summary.media_type == "text/plain" and detail.summary.language == "fr"
    assert "text" in detail.signals


def test_demo_names_an_article_it_cannot_read(tmp_path: Path) -> None:
    env = {"PASSERELLE_ENV": "dev", "PASSERELLE_DATA_DIR": str(tmp_path / "var")}
    missing = tmp_path / "absent.txt"
    result = CliRunner().invoke(cli, ["demo", "--no-serve", "--article", str(missing)], env=env)
    assert result.exit_code == 2
    assert f"cannot read the article {missing}" in result.output


def test_a_database_not_set_up_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    result = _subprocess(
        {"PASSERELLE_ENV": "dev", "PASSERELLE_DATA_DIR": str(tmp_path / "var")},
        "scan",
        str(shared("pdq", "images", "aaa-orig.jpg")),
    )
    assert result.returncode == 1
    assert result.stderr == (
        "passerelle: error: the database is not set up: run `passerelle db upgrade`\n"
    )
