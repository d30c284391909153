"""`passerelle secret`: check that PASSERELLE_SECRET_KEY opens this instance, and rotate it."""

from __future__ import annotations

import os
from pathlib import Path

import click

from passerelle.cli.commands import SpeakingGroup
from passerelle.cli.context import Runtime, needs_runtime
from passerelle.core.errors import InvalidInput
from passerelle.language import say
from passerelle.secret import check_secret, rotate_secret
from passerelle.settings import secret_weakness


@click.group("secret", cls=SpeakingGroup)
def secret_group() -> None:
    """The instance secret (PASSERELLE_SECRET_KEY)."""


@secret_group.command("check")
@needs_runtime
def secret_check(rt: Runtime) -> None:
    """Exit 0 if the secret opens the agency keys and the audit chain's keys, 1 if not."""
    check_secret(rt.database, rt.settings.secret_key)
    click.echo(say("PASSERELLE_SECRET_KEY opens this instance's keys"))


def _read_new_secret(path: Path | None) -> str:
    if path is None:
        raise InvalidInput(
            "give the new secret with --new-secret-file FILE or PASSERELLE_NEW_SECRET_KEY"
        )
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            "cannot read the new secret from %(path)s: %(error)s", path=path, error=exc
        ) from None


@secret_group.command("rotate")
@click.option(
    "--new-secret-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A file holding the new secret (one line).",
)
@needs_runtime
def secret_rotate(rt: Runtime, new_secret_file: Path | None) -> None:
    """Re-seal the agency keys and the audit chain's keys, and re-encrypt preserved content,
    under a new secret (stop the console and the jobs first). The current secret is
    PASSERELLE_SECRET_KEY; the new one comes from --new-secret-file or
    PASSERELLE_NEW_SECRET_KEY. Interrupted, run it again with the same two secrets: it goes
    on where it stopped. Then set PASSERELLE_SECRET_KEY to the new secret."""
    env_secret = os.environ.get("PASSERELLE_NEW_SECRET_KEY", "")
    new = env_secret.strip() if env_secret and new_secret_file is None else ""
    new = new or _read_new_secret(new_secret_file)
    weakness = secret_weakness(new)
    if weakness is not None and rt.settings.env != "dev":
        raise InvalidInput("the new secret is too weak: %(weakness)s", weakness=weakness)
    outcome = rotate_secret(
        rt.database, old=rt.settings.secret_key, new=new, content_dir=rt.settings.content_dir
    )
    if outcome.epoch is None:
        click.echo(say("keys: already sealed under the new secret (an earlier run)"))
    else:
        click.echo(
            say(
                "keys: %(count)s agency keys and the audit keys re-sealed; audit chain goes on"
                " with key epoch %(epoch)s",
                count=outcome.keys_resealed,
                epoch=outcome.epoch,
            )
        )
    click.echo(
        say(
            "preserved content: %(done)s re-encrypted, %(before)s already done,"
            " %(damaged)s unreadable",
            done=outcome.files_reencrypted,
            before=outcome.files_already_done,
            damaged=outcome.files_damaged,
        )
    )
    click.echo(say("now set PASSERELLE_SECRET_KEY to the new secret"))
