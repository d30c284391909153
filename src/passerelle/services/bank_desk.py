"""The banks of an agency as its people work on them in the console: the list with counts and
markings, a bank's entries searched and paged, entries added (by value or by file, as
`bank add` computes them), imported, withdrawn with a reason and reinstated.

Who may do what follows DESIGN §3: everyone of the unit reads the banks (the controller
oversees everything, liaisons run the exchange that fills partner banks); analysts, approvers
and administrators add; administrators import, withdraw and reinstate. A partner's bank is
read-only (its entries come from the partner's feed). Every change goes through the bank
services, so it is audited and bumps the bank generation (the matcher follows) in the same
transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from passerelle.core.audit import AuditEntry
from passerelle.core.bank import (
    Bank,
    BankEntry,
    BankOrigin,
    BankSummary,
    EntryInput,
    EntryQuery,
    EntryState,
    ListedEntry,
    NewEntry,
    parse_value_prefix,
)
from passerelle.core.content import UNDECODABLE_IMAGE_TYPES, VIDEO_TYPES, Content
from passerelle.core.errors import Conflict, InvalidInput, PermissionDenied
from passerelle.core.identity import Permission, User
from passerelle.core.marking import Tlp
from passerelle.core.message import joined
from passerelle.core.ports import UnitOfWork
from passerelle.core.signals import get_signal_type
from passerelle.core.signals.url import URL
from passerelle.core.taxonomy import Labels, parse_category, parse_tags, parse_tier
from passerelle.core.timestamps import dump_timestamp, parse_page_key
from passerelle.scan import ScanOptions, fingerprint
from passerelle.services.banks import (
    ImportReport,
    add_entries,
    insert_entries,
    parse_entry,
    record_retraction,
)

PAGE_SIZES = (25, 50, 100, 200)
MAX_REASON = 2000
MIN_REASON = 10


def _require(viewer: User, permission: Permission) -> None:
    if not viewer.can(permission):
        raise PermissionDenied("your roles do not allow this on the banks")


def _own_bank(uow: UnitOfWork, viewer: User, bank_id: str, permission: Permission) -> Bank:
    """A bank of the viewer's agency that the viewer may change: partner banks are
    read-only."""
    _require(viewer, permission)
    bank = uow.banks.get(viewer.agency_id, bank_id)
    if bank.origin is BankOrigin.PARTNER:
        raise PermissionDenied(
            "a partner's bank is read-only: its entries come from the partner's feed"
        )
    return bank


def may_add(viewer: User, bank: Bank) -> bool:
    return viewer.can(Permission.MANAGE_BANKS) and bank.origin is BankOrigin.OWN


def may_administer(viewer: User, bank: Bank) -> bool:
    return viewer.can(Permission.ADMINISTER_BANKS) and bank.origin is BankOrigin.OWN


def list_bank_summaries(uow: UnitOfWork, *, viewer: User) -> list[BankSummary]:
    _require(viewer, Permission.READ_BANKS)
    return uow.banks.summaries(viewer.agency_id)


def get_bank(uow: UnitOfWork, *, viewer: User, bank_id: str) -> Bank:
    _require(viewer, Permission.READ_BANKS)
    return uow.banks.get(viewer.agency_id, bank_id)


def parse_entry_query(
    *,
    text: str = "",
    state: str = "",
    signal_type: str = "",
    category: str = "",
    tier: str = "",
    tag: str = "",
    after: str = "",
) -> EntryQuery:
    """A search as typed: `text` is the beginning of a value (hexadecimal) or an address
    (looked up by its canonical form); the others narrow it."""
    try:
        chosen = EntryState(state.strip().lower() or "live")
    except ValueError:
        raise InvalidInput("unknown state: live, expired or withdrawn", field="state") from None
    text = text.strip()
    prefix = value = None
    kind = get_signal_type(signal_type.strip().lower()).name if signal_type.strip() else None
    if text.lower().startswith(("http://", "https://")):
        value = URL.parse(text).value
        kind = URL.name
    elif text:
        prefix = parse_value_prefix(text)
    tags = parse_tags([tag]) if tag.strip() else frozenset()
    return EntryQuery(
        state=chosen,
        prefix=prefix,
        value=value,
        signal_type=kind,
        category=parse_category(category).value if category.strip() else None,
        tier=parse_tier(tier).value if tier.strip() else None,
        tag=next(iter(tags)) if tags else None,
        after=parse_page_key(after, "after") if after else None,
    )


def dump_cursor(listed: ListedEntry) -> str:
    key = listed.withdrawal_id or listed.entry.id
    return f"{dump_timestamp(listed.moment)}~{key}"


@dataclass(frozen=True, slots=True)
class EntryPage:
    entries: list[ListedEntry]
    next_cursor: str | None


def find_entries(
    uow: UnitOfWork, *, viewer: User, bank_id: str, query: EntryQuery, size: int
) -> EntryPage:
    _require(viewer, Permission.READ_BANKS)
    if size not in PAGE_SIZES:
        raise InvalidInput("page size is 25, 50, 100 or 200", field="size")
    bank = uow.banks.get(viewer.agency_id, bank_id)
    found = uow.banks.find_entries(bank.id, query, now=datetime.now(UTC), limit=size + 1)
    more = len(found) > size
    shown = found[:size]
    return EntryPage(shown, dump_cursor(shown[-1]) if more and shown else None)


def parse_labels(category: str, tier: str, tags: str) -> Labels:
    return Labels(
        category=parse_category(category) if category.strip() else None,
        tier=parse_tier(tier) if tier.strip() else None,
        tags=parse_tags(tags.replace(";", ",").split(",")) if tags.strip() else frozenset(),
    )


def file_entries(
    data: bytes, *, source: str, labels: Labels, note: str, options: ScanOptions
) -> list[EntryInput]:
    """The signals a scan computes for a file (sha256, md5, and pdq for an image, vpdq for a
    video or the text fingerprint for a page), each as an entry: what the bank holds is what
    a scan compares. A video whose frames cannot be hashed is refused, with the reason. The
    file itself is not kept."""
    if not data:
        raise InvalidInput("the file is empty", field="file")
    found = fingerprint(Content(source=source, data=data), options)
    unusable = found.media_type in VIDEO_TYPES and not any(s.type == "vpdq" for s in found.signals)
    if unusable or found.media_type in UNDECODABLE_IMAGE_TYPES:
        raise InvalidInput(
            "%(source)s: %(why)s", field="file", source=source, why=joined(found.warnings)
        )
    return [
        EntryInput(s.type, s.value, labels, note, quality=s.quality)
        for s in found.signals
        if s.type != "url"
    ]


def add_to_bank(
    uow: UnitOfWork,
    *,
    viewer: User,
    bank_id: str,
    entries: Iterable[EntryInput],
    source: str,
    administer: bool = False,
    tlp: Tlp | None = None,
) -> ImportReport:
    """Entries computed from a file (analysts, approvers, administrators) or imported from
    a file (`administer`: administrators), through the bank service; a bad one is reported
    by its line and the others kept. `tlp` marks them at least that strictly."""
    permission = Permission.ADMINISTER_BANKS if administer else Permission.MANAGE_BANKS
    bank = _own_bank(uow, viewer, bank_id, permission)
    agency = uow.agencies.get(viewer.agency_id)
    return add_entries(
        uow,
        agency_code=agency.code,
        bank_name=bank.name,
        entries=entries,
        actor=viewer.username,
        source=source,
        tlp=tlp,
    )


def add_value(
    uow: UnitOfWork,
    *,
    viewer: User,
    bank_id: str,
    signal_type: str,
    value: str,
    labels: tuple[str, str, str],
    note: str,
) -> ImportReport:
    """One signal typed (analysts, approvers, administrators), checked by its signal type's
    own parser: a bad value is refused with that parser's reason, nothing written."""
    _own_bank(uow, viewer, bank_id, Permission.MANAGE_BANKS)
    if not signal_type.strip() or not value.strip():
        raise InvalidInput("choose a signal type and give its value", field="value")
    entry = EntryInput(signal_type.strip().lower(), value, parse_labels(*labels), note.strip())
    try:
        parse_entry(entry)
    except InvalidInput as exc:
        exc.field = exc.field or "value"
        raise
    return add_to_bank(uow, viewer=viewer, bank_id=bank_id, entries=[entry], source="console")


def check_may_add(uow: UnitOfWork, *, viewer: User, bank_id: str) -> Bank:
    """Before hashing an uploaded file: the bank, if the viewer may add to it."""
    return _own_bank(uow, viewer, bank_id, Permission.MANAGE_BANKS)


def check_may_import(uow: UnitOfWork, *, viewer: User, bank_id: str) -> Bank:
    """Before reading an uploaded file: the bank, if the viewer may import into it."""
    return _own_bank(uow, viewer, bank_id, Permission.ADMINISTER_BANKS)


def withdraw_entry(
    uow: UnitOfWork, *, viewer: User, bank_id: str, entry_id: str, reason: str
) -> BankEntry:
    """Take an entry out of an own bank with a written reason (administrators): the
    matcher follows by the bank generation, partners receive the retraction."""
    bank = _own_bank(uow, viewer, bank_id, Permission.ADMINISTER_BANKS)
    clean = reason.strip()
    if len(clean) < MIN_REASON:
        raise InvalidInput(
            "write the reason for the withdrawal (10 characters at least)", field="reason"
        )
    if len(clean) > MAX_REASON:
        raise InvalidInput("the reason is too long (2,000 characters at most)", field="reason")
    now = datetime.now(UTC)
    removed = uow.banks.withdraw_entry(
        bank.id, entry_id, reason=clean, withdrawn_by=viewer.username, now=now
    )
    record_retraction(uow, bank, removed)
    uow.audit.append(
        AuditEntry(
            action="bank.entry_withdrawn",
            actor=viewer.username,
            agency_id=viewer.agency_id,
            object_type="bank",
            object_id=bank.id,
            details={
                "bank": bank.name,
                "entry": removed.id,
                "signal_type": removed.signal.type,
                "value": removed.signal.value,
                "reason": clean,
            },
        )
    )
    return removed


def reinstate_entry(
    uow: UnitOfWork, *, viewer: User, bank_id: str, withdrawal_id: str
) -> ListedEntry:
    """Put a withdrawn entry back, with its labels and marking (administrators)."""
    bank = _own_bank(uow, viewer, bank_id, Permission.ADMINISTER_BANKS)
    withdrawn = uow.banks.get_withdrawal(bank.id, withdrawal_id)
    entry = withdrawn.entry
    report = ImportReport()
    batch = [
        NewEntry(
            entry.signal,
            entry.labels,
            entry.note,
            withdrawn.source_value,
            tlp=entry.tlp,
            distribution=entry.distribution,
        )
    ]
    insert_entries(uow, bank, batch, report)
    if not report.added:
        raise Conflict("this signal is in the bank again already")
    now = datetime.now(UTC)
    uow.banks.mark_reinstated(withdrawal_id, reinstated_by=viewer.username, now=now)
    uow.audit.append(
        AuditEntry(
            action="bank.entry_reinstated",
            actor=viewer.username,
            agency_id=viewer.agency_id,
            object_type="bank",
            object_id=bank.id,
            details={
                "bank": bank.name,
                "signal_type": entry.signal.type,
                "value": entry.signal.value,
                "withdrawal": withdrawal_id,
            },
        )
    )
    return withdrawn


def stream_bank(
    uow: UnitOfWork, *, viewer: User, bank_id: str
) -> tuple[Bank, Iterator[BankEntry], dict[str, str]]:
    """The live entries of a bank to export, read in batches as they are consumed, and the
    addresses behind url hashes (everyone who reads the banks)."""
    _require(viewer, Permission.READ_BANKS)
    bank = uow.banks.get(viewer.agency_id, bank_id)
    return bank, uow.banks.entries([bank.id]), uow.banks.source_values(bank.id)
