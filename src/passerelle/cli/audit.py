"""`passerelle audit`: verify the keyed chain, and print its head to keep outside."""

from __future__ import annotations

import json
from typing import NoReturn

import click

from passerelle.cli.commands import SpeakingGroup
from passerelle.cli.context import EXIT_FAILURE, Runtime, fail, needs_runtime
from passerelle.core.audit import ChainReport, parse_head
from passerelle.language import said, say
from passerelle.services import audit

INTACT = "audit log intact: %(count)s events, head %(head)s"
INTACT_HOLDING = (
    "audit log intact: %(count)s events, head %(head)s, holds the head kept outside (#%(seq)s)"
)


@click.group("audit", cls=SpeakingGroup)
def audit_group() -> None:
    """The keyed, chained audit log."""


@audit_group.command("verify")
@click.option(
    "--head",
    "anchored",
    default=None,
    help="A head printed earlier by `passerelle audit head` and kept elsewhere"
    " (<event number>:<MAC>): the log must still hold it.",
)
@needs_runtime
def audit_verify(rt: Runtime, anchored: str | None) -> None:
    """Check the whole chain (links and MACs); exit 1 and name the first broken event if it
    is not intact."""
    anchor = parse_head(anchored) if anchored is not None else None
    with rt.database.unit_of_work() as uow:
        report = audit.verify_log(uow, anchor=anchor)
        head = audit.current_head(uow)
    if not report.is_intact:
        _fail_broken(report)
    values = {"count": report.checked, "head": head}
    click.echo(say(INTACT_HOLDING, **values, seq=anchor.seq) if anchor else say(INTACT, **values))


def _fail_broken(report: ChainReport) -> NoReturn:
    """Exit 1 naming the first event that does not hold, and why."""
    fail(
        say(
            "audit log broken at event #%(seq)s: %(reason)s",
            seq=report.broken_seq,
            reason=said(report.problem) if report.problem else "",
        ),
        EXIT_FAILURE,
    )


@audit_group.command("head")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of the text.")
@needs_runtime
def audit_head(rt: Runtime, as_json: bool) -> None:
    """Print the newest event's number and MAC, to keep outside the database (paste it into
    `passerelle audit verify --head` later).

    The chain is verified first: the head of a broken log is never printed (exit 1, naming
    the first broken event, as `audit verify` does)."""
    with rt.database.unit_of_work() as uow:
        report = audit.verify_log(uow)
        head = audit.current_head(uow)
    if not report.is_intact:
        _fail_broken(report)
    if as_json:
        click.echo(json.dumps({"seq": head.seq, "mac": head.mac, "head": str(head)}))
    else:
        click.echo(str(head))
