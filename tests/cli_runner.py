"""`passerelle` run in-process by the tests, with its own environment."""

from __future__ import annotations

from click.testing import CliRunner, Result

from passerelle.cli.main import cli


class Cli:
    def __init__(self, env: dict[str, str], *, catch_exceptions: bool = True) -> None:
        self.env = env
        self.catch_exceptions = catch_exceptions

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(
            cli, list(args), env=self.env, input=stdin, catch_exceptions=self.catch_exceptions
        )
