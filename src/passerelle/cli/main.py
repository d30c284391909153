"""`passerelle`: a thin CLI over the services. Exit codes: 0 ok, 1 failure, 2 bad input,
3 an outside service failed.

The command starts at once: each subcommand lives in its own module, imported only when it
runs (the web stack, the database, NumPy, Spark and the language models load only for the
commands that need them); `--help` reads the short help from `COMMANDS` below."""

from __future__ import annotations

import importlib
from typing import Any

import click

from passerelle.cli.commands import SpeakingGroup, shorten
from passerelle.core.errors import PasserelleError
from passerelle.language import translate

# name: (module, attribute, short help as the command's docstring says it)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "agency": ("passerelle.cli.admin", "agency", "Agencies (tenants)."),
    "audit": ("passerelle.cli.audit", "audit_group", "The keyed, chained audit log."),
    "bank": (
        "passerelle.cli.banks",
        "bank_group",
        "Banks of signals with labels (positive, or negative: known benign).",
    ),
    "db": ("passerelle.cli.admin", "db", "The database schema."),
    "demo": (
        "passerelle.cli.admin",
        "demo",
        "Seed the fictional demo agencies and people, then serve the console (dev only).",
    ),
    "extract": (
        "passerelle.cli.scanning",
        "extract_command",
        "Print the main text of a page or file, as an analyst would read it.",
    ),
    "host": (
        "passerelle.cli.admin",
        "host",
        "The directory of hosting providers (where notices go).",
    ),
    "import": (
        "passerelle.cli.crawl",
        "import_command",
        "Read the candidates of a crawl scan (Parquet); with --into-queue, queue them.",
    ),
    "jobs": (
        "passerelle.cli.admin",
        "jobs_group",
        "Persisted jobs (URL re-checks), run outside the web server.",
    ),
    "partner": (
        "passerelle.cli.partners",
        "partner_group",
        "Partner agencies (another Passerelle, or a file drop).",
    ),
    "scan": (
        "passerelle.cli.scanning",
        "scan_command",
        "Scan files, folders, URLs and WARC/ARC archives against the banks.",
    ),
    "secret": (
        "passerelle.cli.secret",
        "secret_group",
        "The instance secret (PASSERELLE_SECRET_KEY).",
    ),
    "serve": ("passerelle.cli.admin", "serve", "Serve the console and the API."),
    "spark": (
        "passerelle.cli.crawl",
        "spark_group",
        "Crawl-scale scans on Spark (extra `spark`): WARC files in, candidates out.",
    ),
    "user": ("passerelle.cli.admin", "user", "People and their roles."),
}


def load_command(name: str) -> click.Command:
    module, attribute, _ = COMMANDS[name]
    command = getattr(importlib.import_module(module), attribute)
    assert isinstance(command, click.Command)  # the registry names commands only
    return command


class PasserelleGroup(SpeakingGroup):
    """The root group: subcommands loaded on demand, Passerelle errors turned into a message
    and an exit code, everything said in the operator's language."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name) if cmd_name in COMMANDS else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [
            (name, shorten(translate(text), limit))
            for name, (_, _, text) in sorted(COMMANDS.items())
        ]
        with formatter.section(translate("Commands")):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PasserelleError as exc:
            from passerelle.cli.context import exit_code_for, fail
            from passerelle.language import error_text

            fail(error_text(exc), exit_code_for(exc))


@click.group(cls=PasserelleGroup)
@click.version_option(package_name="passerelle", help="Show the version and exit.")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Passerelle: find terrorist content, have a human decide, refer it, share it."""
    # The settings are read by the command that runs (`needs_runtime`), not here: the help
    # of a group or a command (`passerelle bank --help`) shows even where they are wrong.
    ctx.obj = None


def main() -> None:
    cli(prog_name="passerelle")


if __name__ == "__main__":
    main()
