"""Banks in the console: the list, a bank's entries (searched and paged by keyset), entries
added by value or by file, files imported and exported in every format of `bank import` and
`bank export`, entries withdrawn with a reason and reinstated. Routes parse, call one service
and render; who may do what is the services' affair."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from starlette.responses import Response, StreamingResponse

from passerelle.core.bank import EntryQuery, EntryState
from passerelle.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from passerelle.core.identity import User
from passerelle.core.marking import TLP_ORDER, Tlp, parse_tlp
from passerelle.core.ports import UnitOfWork
from passerelle.core.signals import SIGNAL_TYPES
from passerelle.core.taxonomy import Category, Labels, Tier
from passerelle.exchange.bankfile import dump_csv, write_pytx
from passerelle.exchange.bankformats import READ_FORMATS, WRITE_FORMATS, read_entries
from passerelle.exchange.misp import misp_event
from passerelle.exchange.stix import indicators, supporting_objects
from passerelle.scan import ScanOptions
from passerelle.services.bank_desk import (
    PAGE_SIZES,
    EntryPage,
    add_to_bank,
    add_value,
    check_may_add,
    check_may_import,
    file_entries,
    find_entries,
    get_bank,
    list_bank_summaries,
    may_add,
    may_administer,
    parse_entry_query,
    parse_labels,
    reinstate_entry,
    stream_bank,
    withdraw_entry,
)
from passerelle.services.banks import ImportReport
from passerelle.web.context import (
    ReadUow,
    Viewer,
    WriteUow,
    error_text,
    get_state,
    gettext_of,
    render,
)
from passerelle.web.csrf import require_csrf
from passerelle.web.htmx import redirect

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_csrf)])

EXPORT_BATCH = 1000
EXPORT_TYPES = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "pytx": ("text/plain; charset=utf-8", "txt"),
    "stix": ("application/json", "stix.json"),
    "misp": ("application/json", "misp.json"),
}
Text = Annotated[str, Form(max_length=200)]


@router.get("/banks", name="banks")
def banks(request: Request, viewer: Viewer, uow: ReadUow) -> Response:
    summaries = list_bank_summaries(uow, viewer=viewer)
    return render(request, "pages/banks.html", {"summaries": summaries})


def _bank_page(
    request: Request,
    uow: UnitOfWork,
    viewer: User,
    bank_id: str,
    *,
    query: EntryQuery | None = None,
    size: int = 50,
    search: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    report: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    bank = get_bank(uow, viewer=viewer, bank_id=bank_id)
    summary = next(s for s in list_bank_summaries(uow, viewer=viewer) if s.bank.id == bank.id)
    chosen = query or EntryQuery()
    page = (
        find_entries(uow, viewer=viewer, bank_id=bank.id, query=chosen, size=size)
        if not (problems or {}).get("search")
        else EntryPage([], None)
    )
    kept = {k: v for k, v in (search or {}).items() if v and k != "after"}
    context = {
        "bank": bank,
        "summary": summary,
        "page": page,
        "state": chosen.state.value,
        "search": search or {},
        "next_query": _query_string(kept | {"after": page.next_cursor}) if page.next_cursor else "",
        "first_query": _query_string(kept) if chosen.after else "",
        "size": size,
        "sizes": PAGE_SIZES,
        "may_add": may_add(viewer, bank),
        "may_administer": may_administer(viewer, bank),
        "signal_types": sorted(SIGNAL_TYPES),
        "categories": [c.value for c in Category],
        "tiers": [t.value for t in Tier],
        "states": [s.value for s in EntryState],
        "tlps": [t.value for t in TLP_ORDER],
        "read_formats": READ_FORMATS,
        "write_formats": WRITE_FORMATS,
        "problems": problems or {},
        "form": form or {},
        "report": report,
    }
    return render(request, "pages/bank.html", context, status_code=status_code)


def _query_string(values: dict[str, Any]) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v for k, v in values.items() if v})


@router.get("/banks/{bank_id}", name="bank_detail")
def bank_detail(
    request: Request,
    viewer: Viewer,
    uow: ReadUow,
    bank_id: str,
    q: Annotated[str, Query(max_length=2100)] = "",
    state: Annotated[str, Query(max_length=16)] = "",
    type: Annotated[str, Query(max_length=16)] = "",
    category: Annotated[str, Query(max_length=16)] = "",
    tier: Annotated[str, Query(max_length=32)] = "",
    tag: Annotated[str, Query(max_length=64)] = "",
    after: Annotated[str, Query(max_length=100)] = "",
    size: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Response:
    search = {
        "q": q,
        "state": state,
        "type": type,
        "category": category,
        "tier": tier,
        "tag": tag,
        "after": after,
        "size": str(size) if size != 50 else "",
    }
    try:
        query = parse_entry_query(
            text=q,
            state=state,
            signal_type=type,
            category=category,
            tier=tier,
            tag=tag,
            after=after,
        )
        if size not in PAGE_SIZES:
            raise InvalidInput("page size is 25, 50, 100 or 200", field="size")
    except InvalidInput as exc:
        get_bank(uow, viewer=viewer, bank_id=bank_id)  # another agency's bank: 404 first
        return _bank_page(
            request,
            uow,
            viewer,
            bank_id,
            search=search,
            problems={"search": error_text(request, exc)},
            status_code=422,
        )
    return _bank_page(request, uow, viewer, bank_id, query=query, size=size, search=search)


def _refused(
    request: Request,
    uow: UnitOfWork,
    viewer: User,
    bank_id: str,
    where: str,
    exc: Exception,
    form: dict[str, str] | None = None,
) -> Response:
    """The bank's page again, the problem next to the form it came from, what was typed
    kept. A refusal for the role (or a partner's bank) is 403, a state 409, input 422."""
    uow.rollback()
    if isinstance(exc, NotFound):
        raise exc
    status = 403 if isinstance(exc, PermissionDenied) else 409 if isinstance(exc, Conflict) else 422
    return _bank_page(
        request,
        uow,
        viewer,
        bank_id,
        problems={where: error_text(request, exc)},
        form=form,
        status_code=status,
    )


def _added(
    request: Request,
    uow: UnitOfWork,
    viewer: User,
    bank_id: str,
    where: str,
    report: ImportReport,
    refused: list[InvalidInput],
    form: dict[str, str] | None = None,
) -> Response:
    """After an addition or an import: what was kept, what was there already, and each line
    refused with its reason. Nothing usable at all is 422 (and nothing is written)."""
    failed = report.error_count + len(refused)
    problems = [(getattr(e, "line", 0), getattr(e, "cause", None) or e) for e in refused]
    problems = sorted(problems + report.problems, key=lambda problem: problem[0])
    if failed and not report.added and not report.duplicates:
        uow.rollback()
        status = 422
    else:
        uow.commit()
        status = 200
    if where == "add" and status == 200 and not failed:
        return redirect(request, request.url_for("bank_detail", bank_id=bank_id).path)
    outcome = {
        "where": where,
        "added": report.added,
        "duplicates": report.duplicates,
        "failed": failed,
        "errors": [_line_text(request, line, exc) for line, exc in problems[:200]],
    }
    return _bank_page(request, uow, viewer, bank_id, report=outcome, form=form, status_code=status)


def _line_text(request: Request, line: int, exc: InvalidInput) -> str:
    """A refused line of a file, in the person's language: its number and the reason the
    parser gave."""
    problem = error_text(request, exc)
    if not line:
        return problem
    return gettext_of(request)("line %(line)s: %(problem)s") % {"line": line, "problem": problem}


@router.post("/banks/{bank_id}/entries", name="add_bank_entry")
def add_entry(
    request: Request,
    viewer: Viewer,
    uow: WriteUow,
    bank_id: str,
    signal_type: Annotated[str, Form(max_length=16)] = "",
    value: Annotated[str, Form(max_length=200_000)] = "",
    category: Annotated[str, Form(max_length=16)] = "",
    tier: Annotated[str, Form(max_length=32)] = "",
    tags: Text = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """One signal typed: checked by its signal type's own parser before anything is
    written."""
    form = {"signal_type": signal_type, "value": value, "category": category, "tier": tier}
    form |= {"tags": tags, "note": note}
    try:
        report = add_value(
            uow,
            viewer=viewer,
            bank_id=bank_id,
            signal_type=signal_type,
            value=value,
            labels=(category, tier, tags),
            note=note,
        )
    except (InvalidInput, PermissionDenied, Conflict) as exc:
        return _refused(request, uow, viewer, bank_id, "add", exc, form)
    return _added(request, uow, viewer, bank_id, "add", report, [], form)


def _read_upload(upload: UploadFile | None) -> tuple[bytes, str]:
    if upload is None or not upload.filename:
        raise InvalidInput("choose a file", field="file")
    return upload.file.read(), upload.filename[:200]


@router.post("/banks/{bank_id}/file", name="add_bank_file")
def add_file(
    request: Request,
    viewer: Viewer,
    bank_id: str,
    file: Annotated[UploadFile | None, File()] = None,
    category: Annotated[str, Form(max_length=16)] = "",
    tier: Annotated[str, Form(max_length=32)] = "",
    tags: Text = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """The file's signals as `bank add --file` computes them (an image's PDQ, a video's
    vPDQ); the file is hashed in memory, outside any transaction, and never kept."""
    state = get_state(request)
    with state.database.unit_of_work() as uow:
        try:
            check_may_add(uow, viewer=viewer, bank_id=bank_id)
        except PermissionDenied as exc:
            return _refused(request, uow, viewer, bank_id, "file", exc)
    try:
        data, name = _read_upload(file)
        labels = parse_labels(category, tier, tags)
        options = ScanOptions(
            max_pixels=state.settings.scan_max_pixels, video=state.settings.video_limits()
        )
        entries = file_entries(data, source=name, labels=labels, note=note.strip(), options=options)
    except InvalidInput as exc:
        with state.database.unit_of_work() as uow:
            return _refused(request, uow, viewer, bank_id, "file", exc)
    with state.database.unit_of_work(write=True) as uow:
        try:
            report = add_to_bank(
                uow, viewer=viewer, bank_id=bank_id, entries=entries, source=f"file:{name}"
            )
        except (InvalidInput, PermissionDenied, Conflict) as exc:
            return _refused(request, uow, viewer, bank_id, "file", exc)
        return _added(request, uow, viewer, bank_id, "file", report, [])


@router.post("/banks/{bank_id}/import", name="import_bank")
def import_file(
    request: Request,
    viewer: Viewer,
    bank_id: str,
    file: Annotated[UploadFile | None, File()] = None,
    format: Annotated[str, Form(max_length=16)] = "",
    tlp: Annotated[str, Form(max_length=16)] = "",
    signal_type: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """A file of entries in any format `bank import` reads (told from the content when not
    chosen); each refused line is listed with its reason and the others are kept. `tlp`
    marks the entries at least that strictly, as `bank import --tlp`."""
    state = get_state(request)
    with state.database.unit_of_work() as uow:
        try:
            check_may_import(uow, viewer=viewer, bank_id=bank_id)
        except PermissionDenied as exc:
            return _refused(request, uow, viewer, bank_id, "import", exc)
    try:
        data, name = _read_upload(file)
        if not data.strip():
            raise InvalidInput("the file is empty", field="file")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("the file is not UTF-8 text", field="file") from None
        if format and format not in READ_FORMATS:
            raise InvalidInput("unknown format: csv, pytx, pytx-csv, stix or misp", field="format")
        floor = parse_tlp(tlp) if tlp else None
        _, entries, refused = read_entries(
            text, format or None, Labels(), signal_type or None, filename=name
        )
    except InvalidInput as exc:
        with state.database.unit_of_work() as uow:
            return _refused(request, uow, viewer, bank_id, "import", exc)
    with state.database.unit_of_work(write=True) as uow:
        try:
            report = add_to_bank(
                uow,
                viewer=viewer,
                bank_id=bank_id,
                entries=entries,
                source=f"import:{name}",
                administer=True,
                tlp=floor,
            )
        except (InvalidInput, PermissionDenied, Conflict) as exc:
            return _refused(request, uow, viewer, bank_id, "import", exc)
        return _added(request, uow, viewer, bank_id, "import", report, refused)


@router.get("/banks/{bank_id}/export", name="export_bank")
def export(
    request: Request,
    viewer: Viewer,
    uow: ReadUow,
    bank_id: str,
    format: Annotated[str, Query(max_length=16)] = "csv",
    tlp: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    """The bank's entries in a file, written as they are read. Each entry leaves under its
    own marking or the stricter one asked (`tlp`), never a laxer one; a python-threatexchange
    file carries no marking, so it holds only the entries marked at most `tlp` (AMBER by
    default), as `bank export` does."""
    bank = get_bank(uow, viewer=viewer, bank_id=bank_id)
    try:
        if format not in WRITE_FORMATS:
            raise InvalidInput("unknown format: csv, pytx, stix or misp", field="format")
        floor = parse_tlp(tlp) if tlp else None
    except InvalidInput as exc:
        return _refused(request, uow, viewer, bank_id, "export", exc)
    agency = uow.agencies.get(viewer.agency_id)
    media_type, suffix = EXPORT_TYPES[format]
    database = get_state(request).database

    def chunks() -> Iterator[str]:
        # Its own unit of work: the response is written after the route's has closed.
        with database.unit_of_work() as reading:
            _, entries, sources = stream_bank(reading, viewer=viewer, bank_id=bank.id)
            yield from _export_chunks(
                format, entries, sources, floor, agency.code, agency.name, bank.name
            )

    filename = f"{bank.name}.{suffix}"
    return StreamingResponse(
        chunks(),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _batches(entries: Iterator[Any]) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) >= EXPORT_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _export_chunks(
    fmt: str,
    entries: Iterator[Any],
    sources: dict[str, str],
    floor: Tlp | None,
    agency_code: str,
    agency_name: str,
    bank_name: str,
) -> Iterator[str]:
    if fmt == "csv":
        header = dump_csv([], floor)
        yield header
        for batch in _batches(entries):
            yield dump_csv(batch, floor)[len(header) :]
    elif fmt == "pytx":
        import io

        for batch in _batches(entries):
            buffer = io.StringIO()
            write_pytx(batch, sources, buffer, floor or Tlp.AMBER)
            yield buffer.getvalue()
    elif fmt == "stix":
        # Indicators as they are read, then the objects they refer to (the identity, the
        # extension, the markings used): a bundle's objects may come in any order.
        yield json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}"})[:-1]
        yield ', "objects": ['
        used: set[str] = set()
        first = True
        for batch in _batches(entries):
            for item in indicators(
                batch, agency_code=agency_code, tlp=floor, source_values=sources
            ):
                used.update(item["object_marking_refs"])
                yield ("" if first else ", ") + json.dumps(item, ensure_ascii=False)
                first = False
        marked = [{"object_marking_refs": [ref]} for ref in sorted(used)]
        for item in supporting_objects(marked, agency_code=agency_code, agency_name=agency_name):
            yield ("" if first else ", ") + json.dumps(item, ensure_ascii=False)
            first = False
        yield "]}\n"
    else:
        event = misp_event(
            list(entries),
            info=f"{agency_name}: {bank_name}",
            agency_name=agency_name,
            agency_code=agency_code,
            tlp=floor,
            source_values=sources,
        )
        yield json.dumps(event, ensure_ascii=False, indent=2) + "\n"


@router.post("/banks/{bank_id}/entries/{entry_id}/withdraw", name="withdraw_bank_entry")
def withdraw(
    request: Request,
    viewer: Viewer,
    uow: WriteUow,
    bank_id: str,
    entry_id: str,
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    try:
        withdraw_entry(uow, viewer=viewer, bank_id=bank_id, entry_id=entry_id, reason=reason)
    except (InvalidInput, PermissionDenied, Conflict) as exc:
        return _refused(
            request, uow, viewer, bank_id, f"withdraw-{entry_id}", exc, {"reason": reason}
        )
    uow.commit()
    return redirect(request, request.url_for("bank_detail", bank_id=bank_id).path)


@router.post("/banks/{bank_id}/withdrawals/{withdrawal_id}/reinstate", name="reinstate_bank_entry")
def reinstate(
    request: Request, viewer: Viewer, uow: WriteUow, bank_id: str, withdrawal_id: str
) -> Response:
    try:
        reinstate_entry(uow, viewer=viewer, bank_id=bank_id, withdrawal_id=withdrawal_id)
    except (InvalidInput, PermissionDenied, Conflict) as exc:
        return _refused(request, uow, viewer, bank_id, "reinstate", exc)
    uow.commit()
    path = request.url_for("bank_detail", bank_id=bank_id).path
    return redirect(request, f"{path}?state=withdrawn")
