"""`passerelle scan` and `passerelle extract`."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from passerelle.batch import scan_all
from passerelle.cli.commands import SpeakingCommand
from passerelle.cli.context import (
    EXIT_FAILURE,
    Runtime,
    agency_option,
    fail,
    needs_runtime,
    resolve_agency,
)
from passerelle.core.bank import parse_bank_name
from passerelle.core.content import HTML, Content, decode_text, sniff_media_type
from passerelle.core.errors import InvalidInput, PasserelleError
from passerelle.core.match import Matcher
from passerelle.core.message import message_of
from passerelle.core.signals.url import canonicalize_url
from passerelle.intake import Problem
from passerelle.intake.archive import ArchiveStats, is_archive, iter_archive, sniff_archive
from passerelle.intake.files import iter_files, read_file
from passerelle.language import said, say, translate
from passerelle.scan import Language, ScanOptions, ScanResult, needed_signal_types
from passerelle.services.matchers import open_matcher
from passerelle.settings import Settings

if TYPE_CHECKING:
    from rich.progress import Progress

    from passerelle.fetch.fetcher import SafeFetcher

QUEUE_BATCH = 200


@dataclass(frozen=True, slots=True)
class Input:
    kind: str  # "url", "archive" or "file"
    value: str


def is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def plan_inputs(arguments: tuple[str, ...]) -> list[Input]:
    """Every input, checked before anything is scanned: an unusable one stops the command."""
    planned: list[Input] = []
    for argument in arguments:
        if is_url(argument):
            canonicalize_url(argument)
            planned.append(Input("url", argument))
            continue
        path = Path(argument)
        if not path.exists():
            raise InvalidInput("no such file, folder or URL: %(argument)s", argument=argument)
        for file in iter_files(path):
            planned.append(Input("archive" if _looks_archived(file) else "file", str(file)))
    return planned


def _looks_archived(path: Path) -> bool:
    if is_archive(path):
        return True
    try:
        sniff_archive(path)
    except (OSError, ValueError):
        return False
    return True


def fetcher_for(settings: Settings) -> SafeFetcher:
    from passerelle.fetch.fetcher import FetchLimits, SafeFetcher
    from passerelle.fetch.guard import AddressGuard, parse_allow_list

    allowed = parse_allow_list([n for n in settings.fetch_allow.split(",") if n.strip()])
    limits = FetchLimits(
        max_bytes=settings.fetch_max_bytes,
        timeout_seconds=settings.fetch_timeout_seconds,
        max_redirects=settings.fetch_max_redirects,
    )
    return SafeFetcher(AddressGuard(allowed), limits)


@dataclass
class Tally:
    items: int = 0
    failed: int = 0
    warnings: int = 0
    matched: int = 0
    records: int = 0
    # Cases by outcome (`services.ingest.Queued` values), with --into-queue.
    queued: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("opened", "seen_again", "already_recorded"), 0)
    )


def read_inputs(
    planned: list[Input], settings: Settings, tally: Tally, progress: Progress | None
) -> Iterator[Content | Problem]:
    task = progress.add_task(translate("scan"), total=len(planned)) if progress else None
    # The web client loads only when an address is to be fetched.
    wants_web = any(item.kind == "url" for item in planned)
    with fetcher_for(settings) if wants_web else contextlib.nullcontext() as fetcher:
        for item in planned:
            if item.kind == "url":
                try:
                    assert fetcher is not None  # opened above for addresses
                    yield fetcher.fetch(item.value).content
                except PasserelleError as exc:
                    yield Problem(item.value, message_of(exc))
            elif item.kind == "archive":
                stats = ArchiveStats()
                yield from iter_archive(
                    Path(item.value), max_record_bytes=settings.scan_max_bytes, stats=stats
                )
                tally.records += stats.records
            else:
                yield read_file(Path(item.value), max_bytes=settings.scan_max_bytes)
            if progress is not None and task is not None:
                progress.advance(task)


def _table_header() -> str:
    score, media, banks = translate("SCORE"), translate("MEDIA TYPE"), translate("BANKS")
    return f"{score:>5}  {media:<24}  {banks:<20}  {translate('SOURCE')}"


def _table_row(result: ScanResult) -> str:
    banks = ",".join(sorted({m.bank for m in result.matches})) or "-"
    return f"{result.score:>5}  {result.media_type:<24}  {banks:<20}  {result.source}"


@click.command("scan", cls=SpeakingCommand)
@click.argument("inputs", nargs=-1, required=True)
@agency_option
@click.option(
    "--bank", "bank_names", multiple=True, help="Match against this bank only (repeatable)."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line and per item.")
@click.option("--into-queue", is_flag=True, help="Open a case for each matched item (idempotent).")
@click.option(
    "--language",
    type=click.Choice(["matched", "always", "never"]),
    default="matched",
    show_default=True,
    help="Detect the language of matched items only (fast), of every text, or never.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes that scan in parallel (results keep the input order).",
)
@click.option(
    "--all-signals",
    is_flag=True,
    help="Compute every signal type of every item, not only those the banks hold.",
)
@click.option(
    "--batch",
    type=click.IntRange(1, 10_000),
    default=QUEUE_BATCH,
    show_default=True,
    help="With --into-queue: cases written per transaction.",
)
@needs_runtime
def scan_command(
    rt: Runtime,
    inputs: tuple[str, ...],
    agency_code: str | None,
    bank_names: tuple[str, ...],
    as_json: bool,
    into_queue: bool,
    workers: int,
    language: str,
    all_signals: bool,
    batch: int,
) -> None:
    """Scan files, folders, URLs and WARC/ARC archives against the banks."""
    planned = plan_inputs(inputs)
    matcher, agency = _matcher(rt, agency_code, list(bank_names), into_queue)
    options = ScanOptions(
        max_pixels=rt.settings.scan_max_pixels,
        video=rt.settings.video_limits(),
        language=cast(Language, language),
        keep_matched_content=into_queue,
        signal_types=scanned_types(matcher, all_signals),
    )
    if into_queue:
        prepare_queueing(rt)
    tally = Tally()
    show_progress = sys.stderr.isatty()
    progress = _progress_bar() if show_progress else None
    if not as_json:
        click.echo(_table_header())
    pending: list[ScanResult] = []
    with progress if progress is not None else _nothing():
        items = read_inputs(planned, rt.settings, tally, progress)
        for result in scan_all(items, matcher=matcher, options=options, workers=workers):
            if isinstance(result, Problem):
                _report_problem(result, tally, as_json)
                continue
            if not isinstance(result, ScanResult):
                continue
            tally.items += 1
            tally.matched += bool(result.matches)
            if as_json:
                click.echo(json.dumps(result.as_dict(), ensure_ascii=False, sort_keys=True))
            else:
                click.echo(_table_row(result))
            if into_queue and result.matches:
                pending.append(result)
                if len(pending) >= batch:
                    _queue(rt, agency, pending, tally)
    if into_queue:
        _queue(rt, agency, pending, tally)
        from passerelle.services.ingest import refresh_statistics

        refresh_statistics(rt.write_uow)
    _summary(tally, into_queue)
    if tally.failed:
        sys.exit(EXIT_FAILURE)


def _progress_bar() -> Progress:
    from rich.console import Console  # loaded for a terminal only
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


def scanned_types(matcher: Matcher, all_signals: bool) -> frozenset[str] | None:
    """The signal types computed for every item: those the banks hold (a matched item gets
    the others too), or all of them when asked or when there is no bank entry to match."""
    if all_signals or not len(matcher):
        return None
    return needed_signal_types(matcher.index.catalogue.kinds)


def _matcher(
    rt: Runtime, agency_code: str | None, bank_names: list[str], into_queue: bool
) -> tuple[Matcher, str | None]:
    """The matcher of the agency's index on disk (brought up to date, or built once when
    missing), restricted to the banks named."""
    if not bank_names and not into_queue:
        current = _current_matcher(rt, agency_code)
        if current is not None:
            return current
    with rt.database.unit_of_work() as uow:
        if not agency_code and not bank_names and not into_queue and not uow.agencies.list():
            return Matcher.build([], []), None
        agency = resolve_agency(uow, agency_code)
        bank_ids = [
            uow.banks.get_by_name(agency.id, parse_bank_name(name)).id for name in bank_names
        ]
        matcher = open_matcher(
            uow,
            agency_id=agency.id,
            index_root=rt.settings.index_dir,
            bank_ids=bank_ids or None,
        )
    return matcher, agency.code


def _current_matcher(rt: Runtime, agency_code: str | None) -> tuple[Matcher, str | None] | None:
    """The matcher of a SQLite instance's index when it is current (the same generation as
    the database), found without the ORM; None when the full path is needed (PostgreSQL, an
    agency to resolve with an error message, an index to bring up to date or build)."""
    from passerelle.core.index.store import UnusableIndex, open_index
    from passerelle.db.peek import glance

    seen = glance(rt.settings.effective_database_url)
    if seen is None:
        return None
    if not seen.agencies:
        return (Matcher.build([], []), None) if agency_code is None else None
    named = [a for a in seen.agencies if agency_code is None or a[1] == agency_code]
    if len(named) != 1:
        return None
    agency_id, code = named[0]
    try:
        index = open_index(rt.settings.index_dir / agency_id)
    except UnusableIndex:
        return None
    if index.generation != seen.generation:
        return None
    return Matcher(index), code


def _report_problem(problem: Problem, tally: Tally, as_json: bool) -> None:
    key = "error" if problem.fatal else "warning"
    if problem.fatal:
        tally.failed += 1
    else:
        tally.warnings += 1
    if as_json:
        click.echo(
            json.dumps(
                {"source": problem.source, key: problem.reason}, ensure_ascii=False, sort_keys=True
            )
        )
    reason = said(problem.message)
    if _names_its_source(problem):  # the fetcher's refusals name the URL they refuse
        line = (
            say("error: %(message)s", message=reason)
            if problem.fatal
            else say("warning: %(message)s", message=reason)
        )
    elif problem.fatal:
        line = say("error: %(source)s: %(reason)s", source=problem.source, reason=reason)
    else:
        line = say("warning: %(source)s: %(reason)s", source=problem.source, reason=reason)
    click.echo(f"passerelle: {line}", err=True)


def _names_its_source(problem: Problem) -> bool:
    """Whether the message already says where it comes from (said once, not twice)."""
    return problem.source in problem.message.params.values()


def _queue(rt: Runtime, agency: str | None, results: list[ScanResult], tally: Tally) -> None:
    """One transaction per batch; the content is published after the commit."""
    if not results or agency is None:
        return
    from passerelle.services.ingest import candidate_of, queue_batch  # with --into-queue only

    outcomes = queue_batch(
        rt.write_uow,
        agency_code=agency,
        candidates=[candidate_of(r) for r in results],
        actor="cli",
        store=rt.store,
    )
    for outcome in outcomes:
        tally.queued[outcome.value] = tally.queued.get(outcome.value, 0) + 1
    results.clear()


def prepare_queueing(rt: Runtime) -> None:
    """Before writing into the queue: finish what a crashed run left in the content store,
    and keep FAISS to one thread (one item at a time: OpenMP threads only spin on a small
    machine)."""
    from passerelle.services.ingest import sweep_content

    sweep_content(
        rt.write_uow, rt.store, grace_seconds=rt.settings.content_grace_seconds, staged_only=True
    )
    single_threaded_faiss()


def single_threaded_faiss() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"  # scanning processes spawned from here start with it
    import faiss

    faiss.omp_set_num_threads(1)


SCANNED = (
    "scanned %(items)s items (%(records)s archive records read), %(failed)s failed,"
    " %(warnings)s warnings, %(matched)s matched"
)
SCANNED_QUEUED = (
    SCANNED + "; queue: %(opened)s cases opened, %(seen_again)s seen again,"
    " %(already_recorded)s already recorded"
)


def _summary(tally: Tally, into_queue: bool) -> None:
    values = {
        "items": tally.items,
        "records": tally.records,
        "failed": tally.failed,
        "warnings": tally.warnings,
        "matched": tally.matched,
        **tally.queued,
    }
    line = say(SCANNED_QUEUED if into_queue else SCANNED, **values)
    click.echo(line, err=True)


@click.command("extract", cls=SpeakingCommand)
@click.argument("source")
@click.option("--json", "as_json", is_flag=True, help="text, title, date, language, image_urls.")
@needs_runtime
def extract_command(rt: Runtime, source: str, as_json: bool) -> None:
    """Print the main text of a page or file, as an analyst would read it."""
    if is_url(source):
        with fetcher_for(rt.settings) as fetcher:
            content = fetcher.fetch(source).content
    else:
        read = read_file(Path(source), max_bytes=rt.settings.scan_max_bytes)
        if isinstance(read, Problem):
            raise InvalidInput("%(source)s: %(reason)s", source=read.source, reason=read.message)
        content = read
    from passerelle.core.extract.html import extract_document, extract_plain

    media_type = sniff_media_type(content.data)
    text = decode_text(content.data)
    if media_type == HTML:
        document = extract_document(text, url=content.url)
    elif media_type == "text/plain":
        document = extract_plain(text)
    else:
        fail(say("%(source)s: no text to extract from %(type)s", source=source, type=media_type), 2)
    if as_json:
        click.echo(json.dumps(document.as_dict(), ensure_ascii=False, sort_keys=True))
    else:
        click.echo(document.text)
