"""The interfaces the services need from the outside world; `db/` implements them."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection, Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from passerelle.core.audit import AuditEntry, AuditEvent, AuditHead, AuditKeyring
from passerelle.core.bank import (
    Bank,
    BankEntry,
    BankKind,
    BankOrigin,
    BankSummary,
    EntryQuery,
    ListedEntry,
    NewEntry,
)
from passerelle.core.case import (
    CaseDetail,
    CaseStatus,
    CaseSummary,
    PageRequest,
    QueueFilters,
    QueueKey,
    QueueSort,
)
from passerelle.core.complaint import Complaint
from passerelle.core.decision import Decision, DecisionInput, Recommendation
from passerelle.core.exchange import Agreement, AgreementStatus, EventKind, OutboxEvent, Partner
from passerelle.core.identity import (
    Agency,
    ApiToken,
    Credentials,
    Jurisdiction,
    Locale,
    LoginThrottle,
    Role,
    User,
)
from passerelle.core.index.entry import IndexEntry
from passerelle.core.job import Job
from passerelle.core.message import Message
from passerelle.core.note import CaseNote
from passerelle.core.public_report import PublicReport
from passerelle.core.referral import Host, Referral
from passerelle.core.report import ReportFigures
from passerelle.core.taxonomy import Labels
from passerelle.core.work import ReferralFilters, WorkList


class AgencyRepo(Protocol):
    def add(self, *, code: str, name: str, jurisdiction: Jurisdiction) -> Agency: ...
    def get(self, agency_id: str) -> Agency: ...
    def get_by_code(self, code: str) -> Agency: ...
    def list(self) -> list[Agency]: ...


class UserRepo(Protocol):
    def add(
        self,
        *,
        agency_id: str,
        username: str,
        display_name: str,
        password_hash: str,
        roles: frozenset[Role],
        locale: Locale,
    ) -> User: ...
    def get(self, user_id: str) -> User: ...
    def get_in_agency(self, agency_id: str, user_id: str) -> User: ...
    def find_credentials(self, username: str) -> Credentials | None: ...
    def list_in_agency(self, agency_id: str) -> list[User]: ...
    def list_all(self) -> list[User]: ...
    def set_password_hash(self, user_id: str, password_hash: str) -> None: ...
    def set_active(self, user_id: str, active: bool) -> None: ...
    def set_roles(self, user_id: str, roles: frozenset[Role]) -> None: ...
    def set_locale(self, user_id: str, locale: Locale) -> None: ...
    def set_reveal_media(self, user_id: str, reveal: bool) -> None: ...
    def record_login_failure(self, user_id: str, locked_until: datetime | None) -> int: ...
    def reset_login_failures(self, user_id: str) -> None: ...
    def throttle(self, username: str, source: str) -> LoginThrottle: ...
    def save_throttle(self, throttle: LoginThrottle) -> None: ...
    def clear_throttles(self, username: str, source: str | None = None) -> None: ...
    def locked_until(self, username: str, now: datetime) -> datetime | None: ...


class LoginSessionRepo(Protocol):
    def add(self, *, user_id: str, token_hash: str, expires_at: datetime) -> None: ...
    def find_user(self, token_hash: str, now: datetime) -> User | None: ...
    def find_viewer(self, token_hash: str, now: datetime) -> tuple[User, Jurisdiction] | None: ...
    def delete(self, token_hash: str) -> None: ...
    def delete_for_user(self, user_id: str) -> None: ...


class ApiTokenRepo(Protocol):
    def add(self, *, user_id: str, name: str, token_hash: str) -> ApiToken: ...
    def find_user(self, token_hash: str) -> User | None: ...
    def list_for_user(self, user_id: str) -> list[ApiToken]: ...
    def revoke(self, user_id: str, token_id: str, when: datetime) -> None: ...


class AuditLog(Protocol):
    def append(self, entry: AuditEntry) -> AuditEvent: ...
    def append_many(self, entries: Sequence[AuditEntry]) -> builtins.list[AuditEvent]: ...
    def head(self) -> tuple[int, str]: ...
    def anchor(self) -> AuditHead:
        """The head in the form to keep outside the database."""
        ...

    def keyring(self) -> AuditKeyring:
        """Every MAC key, opened with the instance secret (WrongSecret if it does not)."""
        ...

    def ensure_keyed(self) -> None:
        """Start keyed chaining if it has not started, sealing the unkeyed prefix."""
        ...

    def rotate(self, new_secret: str) -> int:
        """Re-seal the MAC keys under a new secret and open a new epoch; its number."""
        ...

    def iter_all(self) -> Generator[AuditEvent, None, None]: ...
    def list_for_agency(
        self, agency_id: str, *, limit: int, before_seq: int | None = None
    ) -> list[AuditEvent]: ...
    def list_for_object(
        self, agency_id: str, object_type: str, object_id: str
    ) -> list[AuditEvent]: ...
    def get_in_agency(self, agency_id: str, seq: int) -> AuditEvent: ...


class BankRepo(Protocol):
    def add(
        self,
        *,
        agency_id: str,
        name: str,
        kind: BankKind,
        origin: BankOrigin,
        description: str,
        thresholds: dict[str, float],
    ) -> Bank: ...
    def get(self, agency_id: str, bank_id: str) -> Bank:
        """A bank of the agency by its id; NotFound for another agency's."""
        ...

    def get_by_name(self, agency_id: str, name: str) -> Bank: ...
    def list(self, agency_id: str) -> builtins.list[Bank]: ...
    def summaries(self, agency_id: str) -> builtins.list[BankSummary]:
        """Every bank of the agency with its entries counted by signal type and marking."""
        ...

    def find_entries(
        self, bank_id: str, query: EntryQuery, *, now: datetime, limit: int
    ) -> builtins.list[ListedEntry]:
        """One page of a bank's entries in the state asked, newest first, by keyset."""
        ...

    def withdraw_entry(
        self, bank_id: str, entry_id: str, *, reason: str, withdrawn_by: str, now: datetime
    ) -> BankEntry:
        """Take an entry out of the bank, kept with the reason among the withdrawn ones."""
        ...

    def get_withdrawal(self, bank_id: str, withdrawal_id: str) -> ListedEntry:
        """A withdrawn entry not reinstated yet (NotFound; Conflict when reinstated)."""
        ...

    def mark_reinstated(self, withdrawal_id: str, *, reinstated_by: str, now: datetime) -> None: ...
    def add_entries(
        self, bank_id: str, entries: builtins.list[NewEntry]
    ) -> builtins.list[NewEntry]:
        """Insert the entries whose signal the bank does not hold yet; return those."""
        ...

    def remove_entry(self, bank_id: str, signal_type: str, value: str) -> BankEntry: ...
    def entries(self, bank_ids: builtins.list[str]) -> Iterator[BankEntry]: ...
    def entries_page(
        self,
        bank_id: str,
        *,
        added_after: datetime | None,
        offset: int,
        limit: int,
        withheld: frozenset[str] = frozenset(),
    ) -> builtins.list[BankEntry]:
        """Entries in the order they were added, after a time, one page; none marked with a
        TLP of `withheld`."""
        ...

    def get_entry(self, bank_id: str, entry_id: str) -> BankEntry:
        """One entry by its id; NotFound when the bank holds no such entry."""
        ...

    def source_values(self, bank_id: str) -> dict[str, str]: ...
    def count_entries(self, bank_id: str) -> int: ...

    def fresh_counts(self, bank_id: str) -> builtins.dict[tuple[str, str], int]: ...

    def kept_counts(self, bank_id: str) -> builtins.dict[tuple[str, str], int]: ...

    def recount(self, bank_id: str) -> bool: ...
    def generation(self) -> int:
        """The bank generation: bumped in the transaction of every change to banks."""
        ...

    def index_entries(self, agency_id: str, *, after: int, upto: int) -> Iterator[IndexEntry]:
        """The agency's entries added in a generation in (after, upto]."""
        ...

    def removed_entries(self, agency_id: str, *, after: int, upto: int) -> builtins.list[str]:
        """Ids of the agency's entries withdrawn in a generation in (after, upto];
        `StaleIndex` when those of some generation after `after` were pruned."""
        ...

    def removals_floor(self, agency_id: str) -> int:
        """The generation up to which the agency's withdrawals were pruned (0: none)."""
        ...

    def prune_removals(self, agency_id: str, *, upto: int) -> int:
        """Forget the agency's withdrawals up to generation `upto`; how many went."""
        ...


@dataclass(frozen=True, slots=True)
class Fetched:
    """What a web address answered (after redirects), fetched by the safe fetcher."""

    status: int
    final_url: str
    data: bytes


# Fetch one address; None when it could not be fetched (network down, refused address).
Fetch = Callable[[str], Fetched | None]


@dataclass(frozen=True, slots=True)
class ItemFindings:
    """What a scan tells about an item and its case, as stored (a reported page, once
    fetched, replaces its bare address with these)."""

    sha256: str
    media_type: str
    signals_json: str
    score: int
    reasons_json: str
    matches_json: str
    language: str | None
    title: str | None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A matched item found elsewhere (a scan, a crawl job's output), to put in the queue."""

    findings: ItemFindings
    url_hash: str | None
    url: str | None
    source: str
    content: bytes | None = None
    # Thumbnails of a matched video's frames (time in seconds, JPEG), kept with the content.
    thumbnails: tuple[tuple[float, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class QueuedItem:
    item_id: str
    case_id: str | None


class QueueRepo(Protocol):
    def find_item(self, agency_id: str, sha256: str, url_hash: str | None) -> QueuedItem | None: ...
    def find_items(
        self, agency_id: str, keys: Sequence[tuple[str, str | None]]
    ) -> builtins.list[QueuedItem | None]: ...
    def add_new(
        self, agency_id: str, candidates: Sequence[Candidate], *, origin: str
    ) -> builtins.list[QueuedItem]: ...
    def add_word_keys(self, agency_id: str, words: Sequence[tuple[str, Sequence[str]]]) -> None: ...
    def add_item(
        self,
        *,
        agency_id: str,
        sha256: str,
        url_hash: str | None,
        url: str | None,
        media_type: str,
        signals_json: str,
    ) -> str: ...
    def add_sighting(self, item_id: str, *, source: str, url: str | None, origin: str) -> bool: ...
    def refresh_statistics(self) -> None: ...
    def open_case(
        self,
        *,
        agency_id: str,
        item_id: str,
        source: str,
        score: int,
        reasons_json: str,
        matches_json: str,
        language: str | None,
        title: str | None,
    ) -> str: ...
    def count_cases(self, agency_id: str) -> int: ...
    def assign(
        self, agency_id: str, case_id: str, username: str | None, when: datetime
    ) -> str | None: ...
    def reports_to_fetch(
        self, agency_id: str, now: datetime | None = None
    ) -> builtins.list[tuple[str, str, int]]: ...
    def record_fetch_failure(self, agency_id: str, case_id: str, *, retry_at: datetime) -> None: ...
    def record_fetch(
        self, agency_id: str, case_id: str, *, when: datetime, found: ItemFindings | None
    ) -> None: ...
    def list_cases(
        self, agency_id: str, filters: QueueFilters, *, limit: int
    ) -> builtins.list[CaseSummary]: ...
    def count_filtered(
        self,
        agency_id: str,
        filters: QueueFilters,
        sort: QueueSort = QueueSort.SCORE,
        *,
        count_rows: bool = False,
    ) -> int: ...
    def page_cases(
        self, agency_id: str, filters: QueueFilters, page: PageRequest, *, total: int | None = None
    ) -> tuple[builtins.list[CaseSummary], builtins.list[QueueKey], int]: ...
    def key_of(self, agency_id: str, case_id: str, sort: QueueSort) -> QueueKey | None: ...
    def index_words(self, agency_id: str, case_id: str, tokens: Sequence[str]) -> None: ...
    def search_keys(
        self, agency_id: str, kind: str, values: Sequence[str], *, after: str, limit: int
    ) -> builtins.list[str]: ...
    def items_where(
        self, agency_id: str, *, sha256: str | None = None, url_hash: str | None = None
    ) -> builtins.list[str]: ...
    def near_items(
        self, agency_id: str, pdq: str, radius: int
    ) -> builtins.list[tuple[str, int]]: ...
    def cases_of_items(
        self, agency_id: str, item_ids: Sequence[str]
    ) -> builtins.list[tuple[str, CaseSummary]]: ...
    def case_for_reference(self, agency_id: str, reference: str) -> str | None: ...
    def get_case(self, agency_id: str, case_id: str) -> CaseDetail: ...
    def set_status(self, agency_id: str, case_id: str, status: CaseStatus) -> None: ...
    def related_cases(
        self, agency_id: str, case_id: str
    ) -> builtins.list[tuple[str, int | None]]: ...


class DecisionRepo(Protocol):
    def add(
        self, *, agency_id: str, case_id: str, decided_by: str, decision: DecisionInput
    ) -> Decision: ...
    def list_for_case(self, agency_id: str, case_id: str) -> builtins.list[Decision]: ...
    def add_recommendation(
        self, *, agency_id: str, case_id: str, controller: str, text: str
    ) -> Recommendation: ...
    def recommendations(self, agency_id: str, case_id: str) -> builtins.list[Recommendation]: ...


class ReferralRepo(Protocol):
    def add_host(
        self, *, agency_id: str, domain: str, name: str, email: str, language: str
    ) -> Host: ...
    def update_host(
        self, agency_id: str, host_id: str, *, name: str, email: str, language: str
    ) -> Host: ...
    def hosts(self, agency_id: str) -> builtins.list[Host]: ...
    def host_for(self, agency_id: str, hostname: str) -> Host | None: ...
    def get_host(self, agency_id: str, host_id: str) -> Host: ...
    def add(self, referral: Referral) -> Referral: ...
    def get(self, agency_id: str, referral_id: str) -> Referral: ...
    def for_case(self, agency_id: str, case_id: str) -> builtins.list[Referral]: ...
    def approve(self, agency_id: str, referral_id: str, approver: str, when: datetime) -> None: ...
    def mark_sent(
        self, agency_id: str, referral_id: str, when: datetime, deadline: datetime | None
    ) -> None: ...
    def send_failed(self, agency_id: str, referral_id: str, error: Message) -> None: ...
    def override_holds(self, agency_id: str, referral_id: str, when: datetime) -> None: ...
    def overdue_count(self, agency_id: str, now: datetime) -> int: ...


class PublicReportRepo(Protocol):
    def forget_sources(self, before: datetime) -> None: ...
    def count_from(self, source_hash: str, since: datetime) -> int: ...
    def add(
        self,
        *,
        reference: str,
        agency_id: str,
        case_id: str | None,
        url: str,
        category: str | None,
        description: str,
        source_hash: str,
        when: datetime,
    ) -> None: ...
    def for_case(self, agency_id: str, case_id: str) -> builtins.list[PublicReport]: ...


class NoteRepo(Protocol):
    def add(
        self, *, agency_id: str, case_id: str, author: str, text: str, when: datetime
    ) -> CaseNote: ...
    def for_case(self, agency_id: str, case_id: str) -> builtins.list[CaseNote]: ...


class ReportRepo(Protocol):
    def figures(self, agency_id: str, start: datetime, end: datetime) -> ReportFigures: ...
    def recommendations(self, agency_id: str, start: datetime, end: datetime) -> int: ...
    def complaints(self, agency_id: str, start: datetime, end: datetime) -> tuple[int, int]: ...
    def recount(self, agency_id: str) -> dict[str, int]: ...


class ComplaintRepo(Protocol):
    def referral_agency(self, referral_id: str) -> tuple[str, str]: ...
    def acknowledge(self, referral_id: str, when: datetime) -> None: ...
    def declare_removed(self, referral_id: str, when: datetime) -> None: ...
    def add(
        self,
        *,
        agency_id: str,
        referral_id: str,
        case_id: str,
        text: str,
        when: datetime,
        deadline: datetime,
    ) -> Complaint: ...
    def for_case(self, agency_id: str, case_id: str) -> builtins.list[Complaint]: ...
    def get(self, agency_id: str, complaint_id: str) -> Complaint: ...
    def decide(
        self,
        agency_id: str,
        complaint_id: str,
        *,
        outcome: str,
        decided_by: str,
        rationale: str,
        when: datetime,
    ) -> None: ...


class JobRepo(Protocol):
    def ensure(self, kind: str, agency_id: str, run_at: datetime) -> None: ...
    def due(self, now: datetime) -> builtins.list[Job]: ...
    def claim(self, job_id: str, worker: str, now: datetime, until: datetime) -> bool: ...
    def hold(
        self, kind: str, agency_id: str, worker: str, now: datetime, until: datetime
    ) -> str | None: ...
    def release(self, job_id: str, worker: str) -> None: ...
    def renew(self, job_id: str, worker: str, until: datetime) -> bool: ...
    def finish(
        self,
        job_id: str,
        *,
        next_run: datetime,
        error: Message | None,
        now: datetime,
        worker: str | None = None,
    ) -> None: ...
    def all_jobs(self) -> builtins.list[Job]: ...
    def referrals_to_recheck(
        self, agency_id: str
    ) -> builtins.list[tuple[str, str, dict[str, str]]]: ...
    def record_check(
        self, referral_id: str, *, when: datetime, online: bool, detail: Message
    ) -> None: ...
    def purgeable(
        self, agency_id: str, offline_before: datetime, now: datetime
    ) -> builtins.list[tuple[str, str]]: ...
    def mark_purged(self, item_id: str, when: datetime) -> None: ...
    def is_content_kept(self, sha256: str) -> bool: ...
    def kept_content(self, sha256s: Collection[str]) -> builtins.set[str]: ...
    def tables_to_analyse(self) -> builtins.list[str]: ...
    def analyse(self, table: str) -> None: ...
    def set_hold(self, agency_id: str, case_id: str, until: datetime | None) -> None: ...


class Mailer(Protocol):
    def send(
        self, *, to: str, subject: str, text: str, html: str, attachment: tuple[str, bytes] | None
    ) -> str: ...


@dataclass(frozen=True, slots=True)
class StagedContent:
    """Content written under a temporary name, published once its transaction committed."""

    sha256: str
    name: str


@dataclass(frozen=True, slots=True)
class Swept:
    """What a sweep of the content store did."""

    published: int = 0  # staged by a write that committed, then stopped before publishing
    deleted: int = 0  # staged or stored, but no item refers to it


class ContentStore(Protocol):
    """Preserved content, encrypted at rest and addressed by SHA-256."""

    def put(self, data: bytes) -> str: ...
    def get(self, sha256: str) -> bytes: ...
    def has(self, sha256: str) -> bool: ...
    def delete(self, sha256: str) -> bool:
        """Delete an item and the files derived from it (its thumbnails)."""
        ...

    def put_derived(self, sha256: str, name: str, data: bytes) -> None:
        """Keep a file made from an item (a thumbnail), encrypted, deleted with the item."""
        ...

    def get_derived(self, sha256: str, name: str) -> bytes: ...
    def blind_words(self, words: Sequence[str]) -> builtins.list[str]:
        """Keyed digests of words (the search index of preserved texts holds no word)."""
        ...

    def stage(self, data: bytes) -> StagedContent: ...
    def publish(self, staged: StagedContent) -> None: ...
    def discard(self, staged: StagedContent) -> None: ...
    def sweep(
        self,
        kept: Callable[[Collection[str]], builtins.set[str]],
        *,
        grace_seconds: float,
        staged_only: bool = False,
    ) -> Swept: ...


class ExchangeRepo(Protocol):
    def active_key(self, agency_id: str) -> tuple[str, str] | None: ...
    def add_key(self, agency_id: str, public_key: str, private_key: str) -> None: ...
    def sealed_keys(self) -> builtins.list[tuple[str, str]]: ...
    def replace_sealed_key(self, key_id: str, sealed: str) -> None: ...
    def add_partner(
        self,
        *,
        agency_id: str,
        code: str,
        name: str,
        base_url: str | None,
        public_key: str,
        contact: str,
    ) -> Partner: ...
    def partners(self, agency_id: str) -> builtins.list[Partner]: ...
    def all_partners(self) -> builtins.list[Partner]: ...
    def get_partner(self, agency_id: str, partner_id: str) -> Partner: ...
    def lock_partner(self, agency_id: str, partner_id: str) -> Partner: ...
    def partner_by_code(self, agency_id: str, code: str) -> Partner | None: ...
    def remove_partner(self, agency_id: str, partner_id: str) -> None: ...
    def record_sync(
        self,
        partner_id: str,
        *,
        at: datetime,
        outcome: str,
        detail: Message,
        cursor: int | None = None,
        imported: int = 0,
        retracted: int = 0,
        next_sync_at: datetime | None = None,
    ) -> None: ...
    def record_witnessed_head(self, partner_id: str, head: str, at: datetime) -> None: ...
    def remember_nonce(self, agency_id: str, partner_id: str, nonce: str, at: datetime) -> bool:
        """Record a nonce seen from a partner; False when it was seen already."""
        ...

    def forget_nonces(self, before: datetime) -> int: ...
    def sync_log(self, partner_id: str, limit: int = 20) -> builtins.list[SyncRecord]: ...
    def add_agreement(self, agreement: Agreement) -> None: ...
    def agreements(
        self, agency_id: str, partner_id: str | None = None
    ) -> builtins.list[Agreement]: ...
    def get_agreement(self, agency_id: str, agreement_id: str) -> Agreement: ...
    def set_agreement_status(
        self, agency_id: str, agreement_id: str, status: AgreementStatus, when: datetime
    ) -> None: ...
    def add_event(
        self,
        agency_id: str,
        *,
        kind: EventKind,
        signal_type: str,
        value: str,
        labels: Labels,
        decision: dict[str, object] | None,
        when: datetime,
        origin: str | None = None,
        tlp_floor: str | None = None,
    ) -> None: ...
    def add_events(
        self,
        agency_id: str,
        *,
        kind: EventKind,
        entries: Sequence[tuple[str, str, Labels, str | None]],
        decision: dict[str, object] | None,
        when: datetime,
    ) -> None:
        """`add_event` for many entries at once: (signal type, value, labels, TLP floor)."""
        ...

    def events_after(
        self, agency_id: str, cursor: int, limit: int
    ) -> builtins.list[OutboxEvent]: ...
    def add_hold(
        self, agency_id: str, case_id: str, *, reason: str, set_by: str, when: datetime
    ) -> None: ...
    def lift_holds(self, agency_id: str, case_id: str, when: datetime) -> int: ...
    def case_holds(self, agency_id: str, case_id: str) -> builtins.list[ObservationHold]: ...
    def active_holds(
        self, agency_id: str, limit: int
    ) -> builtins.list[tuple[str, ObservationHold]]:
        """The agency's holds in force, with their case's id, the newest first."""
        ...

    def add_partner_signal(
        self,
        agency_id: str,
        partner_id: str,
        *,
        kind: str,
        signal_type: str,
        value: str,
        at: datetime,
    ) -> None: ...
    def lift_partner_signal(
        self, agency_id: str, partner_id: str, *, signal_type: str, value: str, at: datetime
    ) -> None: ...
    def partner_signals(
        self, agency_id: str, signals: builtins.dict[str, str]
    ) -> builtins.list[PartnerNotice]: ...
    def purge_expired(self, agency_id: str, now: datetime) -> int: ...


@dataclass(frozen=True, slots=True)
class SyncRecord:
    at: datetime
    outcome: str
    detail: Message
    imported: int
    retracted: int


@dataclass(frozen=True, slots=True)
class ObservationHold:
    reason: str
    set_by: str
    set_at: datetime


@dataclass(frozen=True, slots=True)
class PartnerNotice:
    """A partner's word on one of our signals: held (leave it up) or referred, and when."""

    partner_code: str
    partner_name: str
    contact: str
    kind: str
    signal_type: str
    at: datetime


class WorkRepo(Protocol):
    """What waits for someone (the dashboard), and the referrals list."""

    def awaiting_approval(self, agency_id: str, viewer: str) -> WorkList: ...
    def deadlines(self, agency_id: str, until: datetime) -> WorkList: ...
    def complaints(self, agency_id: str) -> WorkList: ...
    def recommendations(self, agency_id: str) -> WorkList: ...
    def failed_sendings(self, agency_id: str) -> WorkList: ...
    def assigned(self, agency_id: str, username: str) -> WorkList: ...
    def proposals(self, agency_id: str) -> WorkList: ...
    def referrals(
        self,
        agency_id: str,
        filters: ReferralFilters,
        *,
        now: datetime,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> tuple[int, builtins.list[tuple[Referral, str]]]: ...


class UnitOfWork(Protocol):
    """One transaction: every repository shares it; `commit` makes the change and its audit
    events durable together."""

    @property
    def agencies(self) -> AgencyRepo: ...
    @property
    def users(self) -> UserRepo: ...
    @property
    def login_sessions(self) -> LoginSessionRepo: ...
    @property
    def api_tokens(self) -> ApiTokenRepo: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def banks(self) -> BankRepo: ...
    @property
    def queue(self) -> QueueRepo: ...
    @property
    def work(self) -> WorkRepo: ...
    @property
    def decisions(self) -> DecisionRepo: ...
    @property
    def referrals(self) -> ReferralRepo: ...
    @property
    def public_reports(self) -> PublicReportRepo: ...
    @property
    def reports(self) -> ReportRepo: ...
    @property
    def complaints(self) -> ComplaintRepo: ...
    @property
    def jobs(self) -> JobRepo: ...
    @property
    def notes(self) -> NoteRepo: ...
    @property
    def exchange(self) -> ExchangeRepo: ...

    def commit(self) -> None: ...
    def rollback(self) -> None: ...
