"""`passerelle spark scan|export-banks` and `passerelle import`: crawl-scale scans on Spark
and their candidates back into the review queue."""

from __future__ import annotations

import json
from pathlib import Path

import click

from passerelle.cli.commands import SpeakingCommand, SpeakingGroup
from passerelle.cli.context import Runtime, agency_option, needs_runtime, resolve_agency
from passerelle.cli.scanning import prepare_queueing
from passerelle.core.bank import Bank, BankEntry, parse_bank_name
from passerelle.core.errors import InvalidInput
from passerelle.core.ports import Candidate
from passerelle.exchange.bankbundle import dump_bundle
from passerelle.exchange.candidates import read_candidates
from passerelle.intake import Problem
from passerelle.language import said, say
from passerelle.services.banks import load_banks
from passerelle.services.ingest import Queued, queue_batch, refresh_statistics
from passerelle.services.matchers import open_matcher

IMPORT_BATCH = 200


READ = "%(read)s candidates read, %(problems)s unreadable"
READ_QUEUED = (
    READ + "; queue: %(opened)s cases opened, %(seen_again)s seen again,"
    " %(already_recorded)s already imported"
)


def _banks(
    rt: Runtime, agency_code: str | None, bank_names: tuple[str, ...]
) -> tuple[list[Bank], list[BankEntry]]:
    with rt.database.unit_of_work() as uow:
        agency = resolve_agency(uow, agency_code)
        return load_banks(uow, agency_code=agency.code, bank_names=list(bank_names) or None)


def _index(
    rt: Runtime, agency_code: str | None, bank_names: tuple[str, ...]
) -> tuple[Path, list[str] | None]:
    """The agency's index on disk, brought up to the bank generation (the one `scan` and the
    console use), and the ids of the banks named."""
    with rt.database.unit_of_work() as uow:
        agency = resolve_agency(uow, agency_code)
        bank_ids = [
            uow.banks.get_by_name(agency.id, parse_bank_name(name)).id for name in bank_names
        ]
        matcher = open_matcher(uow, agency_id=agency.id, index_root=rt.settings.index_dir)
    assert matcher.index.path is not None  # opened from disk
    return matcher.index.path, bank_ids or None


@click.group("spark", cls=SpeakingGroup)
def spark_group() -> None:
    """Crawl-scale scans on Spark (extra `spark`): WARC files in, candidates out."""


@spark_group.command("scan")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--output", "-o", required=True, help="Where to write the candidates (Parquet).")
@agency_option
@click.option("--bank", "bank_names", multiple=True, help="Only this bank (repeatable).")
@click.option(
    "--master",
    default="local[*]",
    show_default=True,
    help="Spark master: local[N] on this machine, or a cluster's URL.",
)
@click.option("--full", is_flag=True, help="Compute every signal type, not only the banks' ones.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@needs_runtime
def spark_scan(
    rt: Runtime,
    inputs: tuple[str, ...],
    output: str,
    agency_code: str | None,
    bank_names: tuple[str, ...],
    master: str,
    full: bool,
    overwrite: bool,
) -> None:
    """Scan WARC files (paths, globs, folders, @list files, s3a:// URIs) on Spark."""
    from passerelle.spark.job import expand_inputs, make_session, run_scan

    files = expand_inputs(inputs)  # every input checked before Spark starts
    index, bank_ids = _index(rt, agency_code, bank_names)
    spark = make_session(master)
    try:
        counters = run_scan(
            spark,
            files,
            index=index,
            bank_ids=bank_ids,
            output=output,
            full=full,
            mode="overwrite" if overwrite else "errorifexists",
        )
    finally:
        spark.stop()
    click.echo(json.dumps(counters.as_dict(), indent=2, sort_keys=True))


@spark_group.command("export-banks")
@agency_option
@click.option("--bank", "bank_names", multiple=True, help="Only this bank (repeatable).")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path))
@needs_runtime
def export_banks(
    rt: Runtime, agency_code: str | None, bank_names: tuple[str, ...], output: Path
) -> None:
    """Write the agency's banks to a file for `spark-submit` (the cluster needs no database)."""
    banks, entries = _banks(rt, agency_code, bank_names)
    output.write_text(dump_bundle(banks, entries), encoding="utf-8")
    click.echo(
        say(
            "%(banks)s banks, %(entries)s entries written to %(path)s",
            banks=len(banks),
            entries=len(entries),
            path=output,
        )
    )


@click.command("import", cls=SpeakingCommand)
@click.argument("path", type=click.Path(path_type=Path))
@agency_option
@click.option("--into-queue", is_flag=True, help="Open a case for each candidate (idempotent).")
@click.option(
    "--batch",
    "batch_size",
    type=click.IntRange(1, 10_000),
    default=IMPORT_BATCH,
    show_default=True,
    help="Cases written per transaction.",
)
@needs_runtime
def import_command(
    rt: Runtime, path: Path, agency_code: str | None, into_queue: bool, batch_size: int
) -> None:
    """Read the candidates of a crawl scan (Parquet); with --into-queue, queue them."""
    candidates = read_candidates(path)
    tally = {q.value: 0 for q in Queued} | {"problems": 0, "read": 0}
    agency = None
    if into_queue:
        with rt.database.unit_of_work() as uow:
            agency = resolve_agency(uow, agency_code).code
        prepare_queueing(rt)
    batch: list[Candidate] = []
    for item in candidates:
        if isinstance(item, Problem):
            tally["problems"] += 1
            warning = say(
                "warning: %(source)s: %(reason)s", source=item.source, reason=said(item.message)
            )
            click.echo(f"passerelle: {warning}", err=True)
            continue
        tally["read"] += 1
        if agency is None:
            banks = ",".join(sorted({m["bank"] for m in json.loads(item.findings.matches_json)}))
            click.echo(f"{item.findings.score:>5}  {banks:<20}  {item.url or item.source}")
            continue
        batch.append(item)
        if len(batch) >= batch_size:
            _queue(rt, agency, batch, tally)
    if agency is not None:
        _queue(rt, agency, batch, tally)
        refresh_statistics(rt.write_uow)
    line = say(READ_QUEUED if into_queue else READ, **tally)
    click.echo(line, err=True)
    if tally["problems"] and not tally["read"]:
        raise InvalidInput("no readable candidate in %(path)s", path=path)


def _queue(rt: Runtime, agency: str, batch: list[Candidate], tally: dict[str, int]) -> None:
    """One transaction per batch; the content is published after the commit."""
    for queued in queue_batch(
        rt.write_uow, agency_code=agency, candidates=batch, actor="cli", store=rt.store
    ):
        tally[queued.value] += 1
    batch.clear()
