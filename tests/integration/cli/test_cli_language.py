"""The command line speaks the operator's language: French when the environment says fr or
names no language, Québec usage for fr_CA, English when it says en; errors, summaries and
prompts alike, lines for programs unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from passerelle.cli.main import cli

NBSP = "\u00a0"


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    """The CLI on a fresh SQLite database, in the language an environment asks for."""
    base = {
        "PASSERELLE_ENV": "dev",
        "PASSERELLE_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
        "PASSERELLE_DATA_DIR": str(tmp_path / "var"),
        "LANGUAGE": None,
        "LC_ALL": None,
        "LC_MESSAGES": None,
        "LANG": None,
    }

    def invoke(*args: str, stdin: str | None = None, **language: str) -> Result:
        env = base | language
        return CliRunner().invoke(cli, list(args), env=env, input=stdin)

    assert invoke("db", "upgrade", LANGUAGE="en").output == "database is up to date\n"
    return invoke


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ({"LANG": "fr_FR.UTF-8"}, "la base de données est à jour\n"),
        ({"LANG": "fr_CA.UTF-8"}, "la base de données est à jour\n"),
        ({"LANG": "C.UTF-8"}, "la base de données est à jour\n"),  # names no language
        ({}, "la base de données est à jour\n"),
        ({"LANG": "en_GB.UTF-8"}, "database is up to date\n"),
        ({"LANG": "fr_FR.UTF-8", "LC_ALL": "en_US.UTF-8"}, "database is up to date\n"),
        ({"LANG": "en_US.UTF-8", "LANGUAGE": "fr"}, "la base de données est à jour\n"),
    ],
)
def test_a_summary_is_in_the_language_of_the_environment(
    run, language: dict[str, str], said: str
) -> None:  # type: ignore[no-untyped-def]
    result = run("db", "upgrade", **language)
    assert (result.exit_code, result.output) == (0, said)


def test_errors_are_in_french(run) -> None:  # type: ignore[no-untyped-def]
    refused = run("user", "disable", "personne", LANG="fr_FR.UTF-8")
    assert (refused.exit_code, refused.output) == (
        2,
        f"passerelle: erreur{NBSP}: aucune personne nommée 'personne'\n",
    )
    english = run("user", "disable", "personne", LANG="en_GB.UTF-8")
    assert english.output == "passerelle: error: no user named 'personne'\n"
    bad = run("agency", "add", "x", "--name", "X", "--jurisdiction", "US", LANG="fr_FR.UTF-8")
    assert bad.exit_code == 2
    assert bad.output.startswith(f"passerelle: erreur{NBSP}: ")
    assert "unknown" not in bad.output


def test_a_bank_import_reports_in_french_and_lists_stay_as_they_are(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fr = {"LANG": "fr_FR.UTF-8"}
    run("agency", "add", "unite-fr", "--name", "Unité", "--jurisdiction", "FR", **fr)
    created = run("bank", "create", "connu", **fr)
    assert created.output.startswith("banque connu créée (")
    listing = tmp_path / "entrees.csv"
    listing.write_text("signal_type,value\nmd5," + "1" * 32 + "\nmd5,zz\n", encoding="utf-8")
    imported = run("bank", "import", "connu", str(listing), **fr)
    assert imported.exit_code == 0, imported.output
    assert "1 ajoutées, 0 déjà présentes, 1 refusées\n" in imported.output
    assert f"passerelle: {listing}: ligne 3{NBSP}: " in imported.output
    listed = run("bank", "list", **fr)
    assert listed.output.startswith("connu\tpositive\t1 entries\t")  # a line for programs


def test_the_password_prompt_is_in_french(run) -> None:  # type: ignore[no-untyped-def]
    fr = {"LANG": "fr_FR.UTF-8"}
    run("agency", "add", "unite-fr", "--name", "Unité", "--jurisdiction", "FR", **fr)
    asked = run(
        "user",
        "add",
        "analyste.un",
        "--agency",
        "unite-fr",
        "--role",
        "analyst",
        stdin="mot de passe assez long\nmot de passe assez long\n",
        **fr,
    )
    assert asked.exit_code == 0, asked.output
    assert asked.output.startswith("Mot de passe")
    assert asked.output.endswith("personne analyste.un créée (analyst)\n")
