"""Banks: create, list, add and remove entries, import and export, and the matcher built from
them. Every change writes its audit event in the same transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from passerelle.core.audit import AuditEntry
from passerelle.core.bank import (
    Bank,
    BankEntry,
    BankKind,
    BankOrigin,
    EntryInput,
    NewEntry,
    parse_bank_name,
    parse_threshold,
    threshold_key,
)
from passerelle.core.errors import InvalidInput
from passerelle.core.exchange import EventKind
from passerelle.core.marking import Tlp, stricter
from passerelle.core.match import Matcher
from passerelle.core.ports import UnitOfWork
from passerelle.core.signals import Signal, get_signal_type
from passerelle.core.signals.pdq import PDQ, is_canonical_pdq
from passerelle.core.signals.text import TEXT
from passerelle.core.signals.url import URL

MAX_ERRORS_KEPT = 100
INSERT_BATCH = 100_000  # entries written at once (sorted by value: see SqlBankRepo)


@dataclass
class ImportReport:
    added: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    # The same problems as errors, each with its line and the parser's own error (the
    # console says them in the person's language).
    problems: list[tuple[int, InvalidInput]] = field(default_factory=list)

    def fail(self, message: str, *, line: int = 0, cause: InvalidInput | None = None) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(message)
            self.problems.append((line, cause or InvalidInput(message)))


def parse_entry(entry: EntryInput) -> tuple[Signal, str | None]:
    """The signal an input stands for, and the human-readable value to keep beside it (the
    address as given for a `url` signal: exports carry it and its canonical form). Raw text
    becomes its near-duplicate fingerprint."""
    if entry.signal_type == "pdq" and entry.quality is None and is_canonical_pdq(entry.value):
        # Already in its canonical form (as an import's lines are): what PDQ.parse would make.
        return Signal("pdq", entry.value), None
    kind = get_signal_type(entry.signal_type)
    if kind.name == "url":
        signal = URL.parse(entry.value)
        source = None if signal.value == entry.value.strip().lower() else entry.value.strip()
        return signal, source
    if kind.name == "text" and len(entry.value.strip()) != 1024:
        computed = TEXT.compute(entry.value)
        if computed is None:
            raise InvalidInput("text too short to fingerprint (at least 12 words)", field="value")
        return computed, None
    if kind.name == "pdq":
        return PDQ.parse_with_quality(entry.value, entry.quality), None
    return kind.parse(entry.value), None


def insert_entries(
    uow: UnitOfWork,
    bank: Bank,
    batch: list[NewEntry],
    report: ImportReport,
    decision: dict[str, object] | None = None,
) -> None:
    added = uow.banks.add_entries(bank.id, batch)
    report.added += len(added)
    report.duplicates += len(batch) - len(added)
    batch.clear()
    if bank.kind is BankKind.POSITIVE and bank.origin is BankOrigin.OWN:
        # The outbox: what the agreements may share with partners (the feed filters it).
        uow.exchange.add_events(
            bank.agency_id,
            kind=EventKind.ADD,
            entries=[
                (e.signal.type, e.signal.value, e.labels, e.tlp.value if e.tlp else None)
                for e in added
            ],
            decision=decision,
            when=datetime.now(UTC),
        )


def record_retraction(uow: UnitOfWork, bank: Bank, entry: BankEntry) -> None:
    """A withdrawn entry of an own positive bank is withdrawn on the partners' side too."""
    if bank.kind is BankKind.POSITIVE and bank.origin is BankOrigin.OWN:
        uow.exchange.add_event(
            bank.agency_id,
            kind=EventKind.RETRACT,
            signal_type=entry.signal.type,
            value=entry.signal.value,
            labels=entry.labels,
            decision=None,
            when=datetime.now(UTC),
        )


def create_bank(
    uow: UnitOfWork,
    *,
    agency_code: str,
    name: str,
    kind: str = "positive",
    description: str = "",
    thresholds: dict[str, str] | None = None,
    actor: str,
) -> Bank:
    agency = uow.agencies.get_by_code(agency_code)
    try:
        bank_kind = BankKind(kind.strip().lower())
    except ValueError:
        raise InvalidInput(
            "bank kind must be positive or negative, got %(kind)s", kind=repr(kind)
        ) from None
    parsed = {threshold_key(t): parse_threshold(t, v) for t, v in (thresholds or {}).items()}
    bank = uow.banks.add(
        agency_id=agency.id,
        name=parse_bank_name(name),
        kind=bank_kind,
        origin=BankOrigin.OWN,
        description=description.strip(),
        thresholds=parsed,
    )
    uow.audit.append(
        AuditEntry(
            action="bank.created",
            actor=actor,
            agency_id=agency.id,
            object_type="bank",
            object_id=bank.id,
            details={"name": bank.name, "kind": bank.kind.value, "thresholds": parsed},
        )
    )
    return bank


def list_banks(uow: UnitOfWork, *, agency_code: str) -> list[tuple[Bank, int]]:
    agency = uow.agencies.get_by_code(agency_code)
    return [(bank, uow.banks.count_entries(bank.id)) for bank in uow.banks.list(agency.id)]


def add_entries(
    uow: UnitOfWork,
    *,
    agency_code: str,
    bank_name: str,
    entries: Iterable[EntryInput],
    actor: str,
    source: str = "manual",
    decision: dict[str, object] | None = None,
    tlp: Tlp | None = None,
) -> ImportReport:
    """Add entries; a bad one is reported by its line and the others go on. `decision`
    summarises the decision behind them (verdict, category, date; never the rationale), for
    partners whose agreements share decisions. An entry keeps the marking it came with; `tlp`,
    when given, marks it at least that strictly (the stricter of the two wins); an entry
    with neither stays unmarked (the unit's own: each channel marks it)."""
    agency = uow.agencies.get_by_code(agency_code)
    bank = uow.banks.get_by_name(agency.id, parse_bank_name(bank_name))
    report = ImportReport()
    batch: list[NewEntry] = []
    for entry in entries:
        try:
            signal, source_value = parse_entry(entry)
        except InvalidInput as exc:
            report.fail(
                f"line {entry.line}: {exc}" if entry.line else str(exc), line=entry.line, cause=exc
            )
            continue
        batch.append(
            NewEntry(
                signal,
                entry.labels,
                entry.note,
                source_value,
                tlp=entry.tlp if tlp is None else stricter(tlp, entry.tlp),
                distribution=entry.distribution,
            )
        )
        if len(batch) >= INSERT_BATCH:
            insert_entries(uow, bank, batch, report, decision)
    insert_entries(uow, bank, batch, report, decision)
    if report.added:
        uow.audit.append(
            AuditEntry(
                action="bank.entries_added",
                actor=actor,
                agency_id=agency.id,
                object_type="bank",
                object_id=bank.id,
                details={
                    "bank": bank.name,
                    "source": source,
                    "added": report.added,
                    "duplicates": report.duplicates,
                    "errors": report.error_count,
                },
            )
        )
    return report


def remove_entry(
    uow: UnitOfWork,
    *,
    agency_code: str,
    bank_name: str,
    signal_type: str,
    value: str,
    actor: str,
) -> BankEntry:
    agency = uow.agencies.get_by_code(agency_code)
    bank = uow.banks.get_by_name(agency.id, parse_bank_name(bank_name))
    signal, _ = parse_entry(EntryInput(signal_type, value))
    removed = uow.banks.remove_entry(bank.id, signal.type, signal.value)
    record_retraction(uow, bank, removed)
    uow.audit.append(
        AuditEntry(
            action="bank.entry_removed",
            actor=actor,
            agency_id=agency.id,
            object_type="bank",
            object_id=bank.id,
            details={"bank": bank.name, "signal_type": signal.type, "value": signal.value},
        )
    )
    return removed


def export_entries(
    uow: UnitOfWork, *, agency_code: str, bank_name: str
) -> tuple[Bank, list[BankEntry], dict[str, str]]:
    """The bank, its entries, and the canonical URL behind each url hash where known."""
    agency = uow.agencies.get_by_code(agency_code)
    bank = uow.banks.get_by_name(agency.id, parse_bank_name(bank_name))
    return bank, list(uow.banks.entries([bank.id])), uow.banks.source_values(bank.id)


def stream_entries(
    uow: UnitOfWork, *, agency_code: str, bank_name: str
) -> tuple[Bank, Iterator[BankEntry], dict[str, str]]:
    """`export_entries` with the entries read in batches as they are consumed (inside the
    unit of work): an export of any size holds one batch in memory."""
    agency = uow.agencies.get_by_code(agency_code)
    bank = uow.banks.get_by_name(agency.id, parse_bank_name(bank_name))
    return bank, uow.banks.entries([bank.id]), uow.banks.source_values(bank.id)


def load_banks(
    uow: UnitOfWork, *, agency_code: str, bank_names: list[str] | None = None
) -> tuple[list[Bank], list[BankEntry]]:
    """The named banks of an agency (all of them when none is named) and their entries."""
    agency = uow.agencies.get_by_code(agency_code)
    if bank_names:
        banks = [uow.banks.get_by_name(agency.id, parse_bank_name(n)) for n in bank_names]
    else:
        banks = uow.banks.list(agency.id)
    return banks, list(uow.banks.entries([b.id for b in banks]))


def load_matcher(
    uow: UnitOfWork, *, agency_code: str, bank_names: list[str] | None = None
) -> Matcher:
    """The matcher over the named banks of an agency (all of them when none is named)."""
    banks, entries = load_banks(uow, agency_code=agency_code, bank_names=bank_names)
    return Matcher.build(banks, entries)


@dataclass(frozen=True, slots=True)
class Recount:
    """What a recount of one agency corrected: its banks' counts that had drifted (by name),
    and how many case counts, decision counts and supersession times were wrong."""

    agency_code: str
    banks: tuple[str, ...]
    cases: int
    decisions: int
    superseded: int

    @property
    def corrected(self) -> bool:
        return bool(self.banks or self.cases or self.decisions or self.superseded)


def recount(uow: UnitOfWork, *, actor: str) -> list[Recount]:
    """Rebuild every kept count from the rows, in the caller's transaction: each bank's
    entry counts, and each agency's case and decision counts (the queue and the transparency
    report read them). One audit event an agency says what was corrected."""
    done = []
    for agency in uow.agencies.list():
        banks = tuple(bank.name for bank in uow.banks.list(agency.id) if uow.banks.recount(bank.id))
        drifted = uow.reports.recount(agency.id)
        result = Recount(
            agency_code=agency.code,
            banks=banks,
            cases=drifted["cases"],
            decisions=drifted["decisions"],
            superseded=drifted["superseded"],
        )
        uow.audit.append(
            AuditEntry(
                action="counts.recounted",
                actor=actor,
                agency_id=agency.id,
                object_type="agency",
                object_id=agency.id,
                details={
                    "banks": list(banks),
                    "cases": result.cases,
                    "decisions": result.decisions,
                    "superseded": result.superseded,
                },
            )
        )
        done.append(result)
    return done
