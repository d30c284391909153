"""`passerelle bank …`: create, list, add, remove, import, export."""

from __future__ import annotations

import contextlib
import gc
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import click

from passerelle.cli.commands import SpeakingGroup
from passerelle.cli.context import Runtime, agency_option, fail, needs_runtime, resolve_agency
from passerelle.core.bank import EntryInput, bank_description
from passerelle.core.errors import InvalidInput
from passerelle.core.marking import TLP_ORDER, Tlp, parse_tlp
from passerelle.core.message import Message, message_of
from passerelle.core.taxonomy import Labels, parse_category, parse_tags, parse_tier
from passerelle.exchange.bankfile import (
    BadLine,
    detect_format,
    read_csv,
    read_pytx,
    read_pytx_csv,
    write_csv,
    write_pytx,
)
from passerelle.exchange.bankformats import READ_FORMATS, WRITE_FORMATS, write_entries
from passerelle.exchange.misp import read_misp_event
from passerelle.exchange.stix import read_stix_bundle
from passerelle.language import said, say, translate, translate_plural
from passerelle.scan import ScanOptions
from passerelle.services import banks as bank_service
from passerelle.services.bank_desk import file_entries

ACTOR = "cli"
TLP_CHOICES = [t.value for t in TLP_ORDER]
SNIFF_BYTES = 64 * 1024


# What `bank recount` corrected, by what it counts.
RECOUNTED = {
    "cases": "%(agency)s: case counts: %(count)s corrected",
    "decisions": "%(agency)s: decision counts: %(count)s corrected",
    "superseded": "%(agency)s: decisions' supersession times: %(count)s corrected",
}


def _labels(category: str | None, tier: str | None, tags: tuple[str, ...]) -> Labels:
    return Labels(
        category=parse_category(category) if category else None,
        tier=parse_tier(tier) if tier else None,
        tags=parse_tags(list(tags)),
    )


label_options = [
    click.option("--category", default=None, help="Art. 2(7) category: a, b, c, d or e."),
    click.option(
        "--tier",
        default=None,
        help="threat_to_life, crisis, designated_entity or promotional.",
    ),
    click.option("--tag", "tags", multiple=True, help="A free tag (repeatable)."),
]


def with_labels(func: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(label_options):
        func = option(func)
    return func


@click.group("bank", cls=SpeakingGroup)
def bank_group() -> None:
    """Banks of signals with labels (positive, or negative: known benign)."""


@bank_group.command("create")
@click.argument("name")
@agency_option
@click.option("--negative", is_flag=True, help="A bank of known-benign signals.")
@click.option("--description", default="", help="What the bank holds.")
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="TYPE=VALUE",
    help="Match threshold for a signal type, e.g. pdq=24 (repeatable).",
)
@needs_runtime
def bank_create(
    rt: Runtime,
    name: str,
    agency_code: str | None,
    negative: bool,
    description: str,
    thresholds: tuple[str, ...],
) -> None:
    """Create a bank."""
    parsed: dict[str, str] = {}
    for item in thresholds:
        kind, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput(
                "--threshold must look like TYPE=VALUE, got %(item)s", item=repr(item)
            )
        parsed[kind.strip()] = value.strip()
    with rt.database.unit_of_work(write=True) as uow:
        agency = resolve_agency(uow, agency_code)
        created = bank_service.create_bank(
            uow,
            agency_code=agency.code,
            name=name,
            kind="negative" if negative else "positive",
            description=description,
            thresholds=parsed,
            actor=ACTOR,
        )
        uow.commit()
    click.echo(
        say(
            "bank %(name)s created (%(kind)s)",
            name=created.name,
            kind=translate(created.kind.value),
        )
    )


@bank_group.command("recount")
@needs_runtime
def bank_recount(rt: Runtime) -> None:
    """Count again, from the rows, what the database keeps counted: each bank's entries,
    and each agency's cases and decisions (the queue and the transparency report read
    them). In one transaction, audited; prints what was corrected."""
    with rt.database.unit_of_work(write=True) as uow:
        done = bank_service.recount(uow, actor=ACTOR)
        uow.commit()
    for result in done:
        if not result.corrected:
            click.echo(say("%(agency)s: counts right", agency=result.agency_code))
            continue
        for name in result.banks:
            click.echo(
                say(
                    "%(agency)s: bank %(name)s: counts corrected",
                    agency=result.agency_code,
                    name=name,
                )
            )
        for what, wrong in (
            ("cases", result.cases),
            ("decisions", result.decisions),
            ("superseded", result.superseded),
        ):
            if wrong:
                click.echo(say(RECOUNTED[what], agency=result.agency_code, count=wrong))


@bank_group.command("list")
@agency_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@needs_runtime
def bank_list(rt: Runtime, agency_code: str | None, as_json: bool) -> None:
    """List banks with their number of entries."""
    with rt.database.unit_of_work() as uow:
        agency = resolve_agency(uow, agency_code)
        listed = bank_service.list_banks(uow, agency_code=agency.code)
    for bank, count in listed:
        if as_json:
            row = {
                "name": bank.name,
                "kind": bank.kind.value,
                "origin": bank.origin.value,
                "entries": count,
                "thresholds": bank.thresholds,
                "description": bank.description,
            }
            click.echo(json.dumps(row, ensure_ascii=False, sort_keys=True))
        else:
            entries = translate_plural("%(n)s entry", "%(n)s entries", count) % {"n": count}
            recorded = bank_description(bank.description)
            description = said(recorded) if recorded else bank.description
            click.echo(f"{bank.name}\t{bank.kind.value}\t{entries}\t{description}")


def _file_entries(path: Path, labels: Labels, note: str, options: ScanOptions) -> list[EntryInput]:
    """The signals a scan computes for a file, as the console's "add a file" does."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            "cannot read %(path)s: %(error)s", path=path, error=exc.strerror or exc
        ) from None
    return file_entries(data, source=str(path), labels=labels, note=note, options=options)


@bank_group.command("add")
@click.argument("name")
@agency_option
@click.option("--type", "signal_type", default=None, help="sha256, md5, pdq, url, text or vpdq.")
@click.option("--value", default=None, help="The signal (for text: the text itself).")
@click.option(
    "--file",
    "file_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Add the sha256, md5 and (for an image) pdq or (for a video) vpdq of this file.",
)
@with_labels
@click.option("--note", default="", help="Free note kept with the entry.")
@needs_runtime
def bank_add(
    rt: Runtime,
    name: str,
    agency_code: str | None,
    signal_type: str | None,
    value: str | None,
    file_path: Path | None,
    category: str | None,
    tier: str | None,
    tags: tuple[str, ...],
    note: str,
) -> None:
    """Add a signal, or the signals of a file, to a bank."""
    labels = _labels(category, tier, tags)
    if file_path is not None:
        options = ScanOptions(
            max_pixels=rt.settings.scan_max_pixels, video=rt.settings.video_limits()
        )
        entries = _file_entries(file_path, labels, note, options)
    elif signal_type and value is not None:
        entries = [EntryInput(signal_type, value, labels, note)]
    else:
        raise InvalidInput("give --type and --value, or --file")
    with rt.database.unit_of_work(write=True) as uow:
        agency = resolve_agency(uow, agency_code)
        report = bank_service.add_entries(
            uow, agency_code=agency.code, bank_name=name, entries=entries, actor=ACTOR
        )
        if report.problems:
            raise report.problems[0][1]
        uow.commit()
    click.echo(
        say(
            "%(added)s added, %(duplicates)s already in bank %(name)s",
            added=report.added,
            duplicates=report.duplicates,
            name=name,
        )
    )


@bank_group.command("remove")
@click.argument("name")
@agency_option
@click.option("--type", "signal_type", required=True, help="sha256, md5, pdq, url, text or vpdq.")
@click.option("--value", required=True, help="The signal to remove.")
@needs_runtime
def bank_remove(
    rt: Runtime, name: str, agency_code: str | None, signal_type: str, value: str
) -> None:
    """Remove one signal from a bank."""
    with rt.database.unit_of_work(write=True) as uow:
        agency = resolve_agency(uow, agency_code)
        bank_service.remove_entry(
            uow,
            agency_code=agency.code,
            bank_name=name,
            signal_type=signal_type,
            value=value,
            actor=ACTOR,
        )
        uow.commit()
    click.echo(say("removed from bank %(name)s", name=name))


@bank_group.command("import")
@click.argument("name")
@click.argument("path", type=click.Path(path_type=Path))
@agency_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(READ_FORMATS)),
    default=None,
    help="csv, pytx (python-threatexchange: '<type> <value>' lines), pytx-csv (pytx's"
    " 'dataset --csv'), stix (a STIX 2.1 bundle) or misp (a MISP event). Default: told from"
    " the content.",
)
@click.option("--signal-type", default=None, help="pytx files without a type column: this type.")
@click.option(
    "--tlp",
    type=click.Choice(TLP_CHOICES),
    default=None,
    help="Mark the entries at least this strictly (entries the file marks keep their marking"
    " if stricter); without it, unmarked entries stay the unit's own (AMBER when shared).",
)
@with_labels
@needs_runtime
def bank_import(
    rt: Runtime,
    name: str,
    path: Path,
    agency_code: str | None,
    fmt: str | None,
    signal_type: str | None,
    tlp: str | None,
    category: str | None,
    tier: str | None,
    tags: tuple[str, ...],
) -> None:
    """Import entries; bad lines are reported and the good ones kept. CSV and pytx files are
    read as they come and written in chunks, one transaction each (a progress bar on a
    terminal): memory stays flat whatever the size of the file."""
    chosen = fmt or _sniff(path)
    labels = _labels(category, tier, tags)
    with rt.database.unit_of_work() as uow:
        agency_code = resolve_agency(uow, agency_code).code
    tally = ImportTally(parse_tlp(tlp) if tlp else None)
    if chosen in ("stix", "misp"):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput("cannot read %(path)s: %(error)s", path=path, error=exc) from None
        except ValueError as exc:
            raise InvalidInput("%(path)s is not JSON: %(error)s", path=path, error=exc) from None
        reader = read_stix_bundle if chosen == "stix" else read_misp_event
        entries, bad = reader(document)
        tally.refused(path, bad)
        with rt.database.bulk():
            _import_chunk(rt, agency_code, name, path, entries, tally)
    else:
        try:
            with (
                path.open(encoding="utf-8", newline="") as handle,
                _without_cycle_collector(),
                rt.database.bulk(),
            ):
                _import_stream(
                    rt, agency_code, name, path, handle, chosen, labels, signal_type, tally
                )
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput("cannot read %(path)s: %(error)s", path=path, error=exc) from None
    click.echo(
        say(
            "%(added)s added, %(duplicates)s already there, %(refused)s refused",
            added=tally.added,
            duplicates=tally.duplicates,
            refused=tally.failed,
        )
    )
    if tally.failed and not tally.added and not tally.duplicates:
        sys.exit(2)


# Entries a transaction: each chunk rewrites the pages of the value indexes it lands on
# (random values touch most of them), so at a million entries chunks of 10,000 wrote the
# indexes through the log a hundred times; 100,000 a chunk take about 120 MB of memory.
IMPORT_CHUNK = 100_000


@contextlib.contextmanager
def _without_cycle_collector() -> Iterator[None]:
    """Python's cycle collector paused while a file streams in: a chunk makes hundreds of
    thousands of objects, none in a cycle, and each pass of the collector walked them all
    (a fifth of an import's time). Freed by their counts as before; the collector comes
    back after, even on an error."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _sniff(path: Path) -> str:
    """The format of a file, told from its first bytes (and its name for a CSV)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise InvalidInput(
            "cannot read %(path)s: %(error)s", path=path, error=exc.strerror or exc
        ) from None
    if head.lstrip("\ufeff \t\r\n").startswith(("{", "[")):
        try:
            return detect_format(path.read_text(encoding="utf-8"), path.suffix)
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput("cannot read %(path)s: %(error)s", path=path, error=exc) from None
        except InvalidInput as exc:
            raise InvalidInput("%(path)s: %(error)s", path=path, error=exc) from None
    return detect_format(head, path.suffix)


class ImportTally:
    def __init__(self, tlp: Tlp | None = None) -> None:
        self.added = self.duplicates = self.failed = 0
        self.tlp = tlp

    def refused(self, path: Path, messages: Sequence[Message | str]) -> None:
        for message in messages:
            click.echo(f"passerelle: {path}: {_text(message)}", err=True)
        self.failed += len(messages)


def _text(message: Message | str) -> str:
    return said(message) if isinstance(message, Message) else message


def _import_stream(
    rt: Runtime,
    agency_code: str,
    name: str,
    path: Path,
    handle: TextIO,
    chosen: str,
    labels: Labels,
    signal_type: str | None,
    tally: ImportTally,
) -> None:
    size = max(1, path.stat().st_size)
    progress = _progress() if sys.stderr.isatty() else None
    label = say("import %(file)s", file=path.name)
    task = progress.add_task(label, total=size) if progress else None
    read = 0

    def lines() -> Iterator[str]:
        nonlocal read
        for line in handle:
            read += len(line)
            yield line

    if chosen == "csv":
        rows = read_csv(lines())
    elif chosen == "pytx-csv":
        rows = read_pytx_csv(lines(), labels)
    else:
        rows = read_pytx(lines(), labels, signal_type)
    chunk: list[EntryInput] = []
    with progress if progress is not None else contextlib.nullcontext():
        for row in rows:
            if isinstance(row, BadLine):
                tally.refused(path, [message_of(row)])
                continue
            chunk.append(row)
            if len(chunk) >= IMPORT_CHUNK:
                _import_chunk(rt, agency_code, name, path, chunk, tally)
                chunk = []
                if progress is not None and task is not None:
                    progress.update(task, completed=min(read, size))
        _import_chunk(rt, agency_code, name, path, chunk, tally)


def _import_chunk(
    rt: Runtime,
    agency_code: str,
    name: str,
    path: Path,
    entries: list[EntryInput],
    tally: ImportTally,
) -> None:
    if not entries:
        return
    with rt.database.unit_of_work(write=True) as uow:
        report = bank_service.add_entries(
            uow,
            agency_code=agency_code,
            bank_name=name,
            entries=entries,
            actor=ACTOR,
            source=f"import:{path.name}",
            tlp=tally.tlp,
        )
        uow.commit()
    tally.refused(
        path,
        [
            Message("line %(line)s: %(problem)s", {"line": line, "problem": message_of(problem)})
            if line
            else message_of(problem)
            for line, problem in report.problems
        ],
    )
    tally.failed += report.error_count - len(report.errors)
    tally.added += report.added
    tally.duplicates += report.duplicates


def _progress() -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


@bank_group.command("export")
@click.argument("name")
@agency_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(WRITE_FORMATS)),
    default="csv",
    show_default=True,
    help="csv, pytx (python-threatexchange), stix (STIX 2.1 bundle) or misp (MISP event).",
)
@click.option(
    "--tlp",
    type=click.Choice(TLP_CHOICES),
    default=None,
    help="Mark every entry at least this strictly (each keeps its own marking if stricter;"
    " never a laxer one). A pytx file carries no marking: it holds only entries marked at most"
    " this (default amber).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
@needs_runtime
def bank_export(
    rt: Runtime,
    name: str,
    agency_code: str | None,
    fmt: str,
    tlp: str | None,
    output: Path | None,
) -> None:
    """Export a bank's entries (CSV and pytx are written as they are read: memory stays flat
    whatever the size of the bank)."""
    floor = parse_tlp(tlp) if tlp else None
    if fmt in ("csv", "pytx"):
        _export_stream(rt, name, agency_code, fmt, output, floor)
        return
    with rt.database.unit_of_work() as uow:
        agency = resolve_agency(uow, agency_code)
        _, entries, sources = bank_service.export_entries(
            uow, agency_code=agency.code, bank_name=name
        )
    text, skipped = write_entries(
        fmt,
        entries,
        sources=sources,
        agency_code=agency.code,
        agency_name=agency.name,
        title=f"{agency.name}: {name}",
        tlp=floor,
    )
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(say("cannot write %(path)s: %(error)s", path=output, error=exc.strerror or exc), 1)
    if skipped:
        click.echo(
            "passerelle: "
            + say(
                "%(count)s entries have no %(format)s form and were left out",
                count=skipped,
                format=fmt,
            ),
            err=True,
        )


def _export_stream(
    rt: Runtime,
    name: str,
    agency_code: str | None,
    fmt: str,
    output: Path | None,
    floor: Tlp | None,
) -> None:
    skipped = 0
    with rt.database.unit_of_work() as uow:
        agency = resolve_agency(uow, agency_code)
        _, entries, sources = bank_service.stream_entries(
            uow, agency_code=agency.code, bank_name=name
        )
        try:
            with (
                contextlib.nullcontext(sys.stdout)
                if output is None
                else output.open("w", encoding="utf-8", newline="")
            ) as out:
                if fmt == "csv":
                    write_csv(entries, out, floor)
                else:
                    _, skipped = write_pytx(entries, sources, out, floor or Tlp.AMBER)
        except OSError as exc:
            fail(say("cannot write %(path)s: %(error)s", path=output, error=exc.strerror or exc), 1)
    if skipped:
        click.echo(
            "passerelle: "
            + say(
                "%(count)s entries have no %(format)s form or are marked stricter than the file"
                " and were left out",
                count=skipped,
                format=fmt,
            ),
            err=True,
        )
