"""The tables. Rows never leave `db/`: repositories turn them into core dataclasses."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class AgencyRow(Base):
    __tablename__ = "agencies"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    jurisdiction: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(8))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    reveal_media: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    roles: Mapped[list[UserRoleRow]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="UserRoleRow.role"
    )


class LoginThrottleRow(Base):
    """Failed logins of one account name from one source (keyed hash of the address)."""

    __tablename__ = "login_throttles"

    username: Mapped[str] = mapped_column(String(200), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    window_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    window_failures: Mapped[int] = mapped_column(Integer, default=0)


class UserRoleRow(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)


class LoginSessionRow(Base):
    __tablename__ = "login_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEventRow(Base):
    """Append-only: the migration adds triggers that refuse UPDATE and DELETE."""

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("prev_hash", name="uq_audit_events_prev_hash"),
        # A case's (or any object's) history, in order, without the agency's other events
        # (migration 0041).
        Index("ix_audit_events_object", "agency_id", "object_type", "object_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    occurred_at: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    agency_id: Mapped[str | None] = mapped_column(String(36), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(100))
    details_json: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    mac_version: Mapped[int] = mapped_column(Integer, server_default="1")


class AuditHeadRow(Base):
    """One row: the sequence number and hash of the newest event, updated with each append."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class AuditKeyRow(Base):
    """A MAC key of the audit chain, sealed under the instance secret, and the first event it
    chains; epoch 0 holds the seal of the unkeyed prefix (events written before keying)."""

    __tablename__ = "audit_keys"

    epoch: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    from_seq: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[str] = mapped_column(Text)


class ExchangeNonceRow(Base):
    """A nonce of a signed document or request seen from a partner, kept until it is stale."""

    __tablename__ = "exchange_nonces"

    agency_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class BankRow(Base):
    __tablename__ = "banks"
    __table_args__ = (UniqueConstraint("agency_id", "name", name="uq_banks_agency_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    thresholds_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BankEntryRow(Base):
    __tablename__ = "bank_entries"
    __table_args__ = (
        UniqueConstraint("bank_id", "signal_type", "value", name="uq_bank_entries_signal"),
        Index("ix_bank_entries_bank_added", "bank_id", "added_at", "id"),
        Index("ix_bank_entries_bank_generation", "bank_id", "generation"),
        # PostgreSQL only: ix_bank_entries_bank_value, the prefix search's range on the first
        # 64 characters of the value COLLATE "C" (0032), where the unique key holds its MD5;
        # SQLite searches the unique key itself (0039).
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # No index of its own: every index of the table begins with it (migration 0034).
    bank_id: Mapped[str] = mapped_column(ForeignKey("banks.id"))
    signal_type: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(Text)
    quality: Mapped[int | None] = mapped_column(Integer)
    source_value: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(1))
    tier: Mapped[str | None] = mapped_column(String(32))
    tags_json: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Partner entries: where they came from (partner, agreement) and when they go.
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    provenance: Mapped[str | None] = mapped_column(Text)
    # The bank generation of the transaction that added it (see BankGenerationRow).
    generation: Mapped[int] = mapped_column(BigInteger, index=True, server_default="0")
    # TLP 2.0 marking, never widened (NULL: the unit's own, each channel marks it), and
    # distribution (agreement, onward; NULL: the agreements decide).
    tlp: Mapped[str | None] = mapped_column(String(16))
    distribution: Mapped[str | None] = mapped_column(String(16))


class BankEntryCountRow(Base):
    """How many entries a bank holds per signal type (`dimension` 'type'), per marking
    ('tlp') and per distribution ('distribution'); key '' stands for unmarked. Kept in
    the same transaction as each change: raised by the insert of entries
    (`SqlBankRepo.add_entries`), lowered and moved by triggers on bank_entries (0032, 0034)."""

    __tablename__ = "bank_entry_counts"

    bank_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)


class BankWithdrawalRow(Base):
    """An own bank's entry withdrawn by a person, kept with the reason so that the console
    lists it and an administrator can reinstate it. Partner entries that expire or are
    retracted leave no such row: they are kept no longer than the agreement allows."""

    __tablename__ = "bank_withdrawals"
    __table_args__ = (Index("ix_bank_withdrawals_bank_withdrawn", "bank_id", "withdrawn_at", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    bank_id: Mapped[str] = mapped_column(ForeignKey("banks.id"))
    entry_id: Mapped[str] = mapped_column(String(36))
    signal_type: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(Text)
    quality: Mapped[int | None] = mapped_column(Integer)
    source_value: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(1))
    tier: Mapped[str | None] = mapped_column(String(32))
    tags_json: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text)
    tlp: Mapped[str | None] = mapped_column(String(16))
    distribution: Mapped[str | None] = mapped_column(String(16))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    withdrawn_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    withdrawn_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    reinstated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reinstated_by: Mapped[str | None] = mapped_column(String(64))


class BankGenerationRow(Base):
    """One row: bumped in the same transaction as every change to a bank or its entries, so
    that a match index on disk knows whether it reflects the database."""

    __tablename__ = "bank_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(BigInteger)


class BankRemovalRow(Base):
    """An entry withdrawn (removed, retracted, expired), for the indexes that still hold it."""

    __tablename__ = "bank_removals"
    __table_args__ = (Index("ix_bank_removals_agency_generation", "agency_id", "generation"),)

    entry_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(36))
    generation: Mapped[int] = mapped_column(BigInteger)


class BankRemovalFloorRow(Base):
    """Per agency, the generation up to which `bank_removals` was pruned (once folded into
    the index by a compaction): an index older than it is rebuilt, never caught up."""

    __tablename__ = "bank_removal_floors"

    agency_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)


class ItemRow(Base):
    """One piece of content known to an agency, keyed by its SHA-256."""

    __tablename__ = "items"
    __table_args__ = (
        # Also the index of the content store's look-ups by SHA-256 in any agency: one
        # range of it per agency (a handful), rather than a second index keyed by a hash
        # for every new item to write.
        UniqueConstraint("agency_id", "sha256", name="uq_items_agency_sha256"),
        # Also the index of the items of an agency (its first column).
        Index("ix_items_agency_url_hash", "agency_id", "url_hash"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    url_hash: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(Text)
    media_type: Mapped[str] = mapped_column(String(100))
    signals_json: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A public report's page: when it was fetched, or found gone (fetched once).
    fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Failed tries to fetch it (no answer, 5xx), and when to try again (backing off).
    fetch_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    fetch_retry_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ItemKeyRow(Base):
    """The search index of items: an MD5, the 16 band keys of a PDQ hash (near duplicates
    by multi-index), keyed digests of the words of a preserved text. The primary key is the
    look-up: (agency, kind, value) gives the items."""

    __tablename__ = "item_keys"

    agency_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), primary_key=True, index=True)


class SightingRow(Base):
    """Where an item was seen: once per item, source and address (`seen_key` hashes the two,
    so that a scan run again records nothing new)."""

    __tablename__ = "sightings"
    # Also the index of an item's sightings (its first column).
    __table_args__ = (UniqueConstraint("item_id", "seen_key", name="uq_sightings_item_seen"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"))
    source: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    seen_key: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(16))
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CaseRow(Base):
    __tablename__ = "cases"
    # The orders of the queue (migration 0016): a page is read from an index, never sorted.
    __table_args__ = (
        Index(
            "ix_cases_queue_status_score",
            "agency_id",
            "status",
            text("score DESC"),
            "created_at",
            "id",
        ),
        Index("ix_cases_queue_status_opened", "agency_id", "status", "created_at", "id"),
        Index("ix_cases_queue_score", "agency_id", text("score DESC"), "created_at", "id"),
        Index("ix_cases_queue_opened", "agency_id", "created_at", "id"),
        Index("ix_cases_queue_tier", "agency_id", "status", "top_tier"),
        Index("ix_cases_report", "agency_id", "created_at", "source", "top_tier"),
        # A person's cases (migration 0029): only the assigned ones, in the queue's order.
        Index(
            "ix_cases_assigned",
            "agency_id",
            "assigned_to",
            "status",
            text("score DESC"),
            "created_at",
            "id",
            sqlite_where=text("assigned_to IS NOT NULL"),
            postgresql_where=text("assigned_to IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    source: Mapped[str] = mapped_column(String(16))
    score: Mapped[int] = mapped_column(Integer, index=True)
    reasons_json: Mapped[str] = mapped_column(Text)
    matches_json: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    title: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    legal_hold_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assigned_to: Mapped[str | None] = mapped_column(String(64))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The most urgent tier among the matches (the transparency report counts by it in SQL).
    top_tier: Mapped[str | None] = mapped_column(String(32))


class CaseCountRow(Base):
    """How many cases an agency has per status, day opened (UTC), source, most urgent tier
    and language ('' for none). Kept by triggers on cases in the same transaction as each
    change (migration 0035): the queue's count and the report read these, not the cases."""

    __tablename__ = "case_counts"
    __table_args__ = (Index("ix_case_counts_day", "agency_id", "day"),)

    agency_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    tier: Mapped[str] = mapped_column(String(32), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)


class CaseScoreCountRow(Base):
    """How many cases an agency has per status and score, kept by triggers on cases
    (migration 0036): a queue page in score order knows how many cases come before it."""

    __tablename__ = "case_score_counts"

    agency_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    score: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)


class DecisionCountRow(Base):
    """How many decisions an agency took per day (UTC), verdict, category and reason ('' for
    none), kept by triggers on decisions (migration 0035)."""

    __tablename__ = "decision_counts"

    agency_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    verdict: Mapped[str] = mapped_column(String(16), primary_key=True)
    category: Mapped[str] = mapped_column(String(1), primary_key=True)
    reason: Mapped[str] = mapped_column(String(16), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)


class DecisionRow(Base):
    __tablename__ = "decisions"
    # The transparency report reads the period's decisions from this index alone (0025).
    __table_args__ = (
        Index(
            "ix_decisions_report",
            "agency_id",
            "decided_at",
            "case_id",
            "id",
            "verdict",
            "category",
            "reason",
        ),
        # The decisions a later one of their case replaced (migration 0035): few.
        Index(
            "ix_decisions_superseded",
            "agency_id",
            "superseded_at",
            sqlite_where=text("superseded_at IS NOT NULL"),
            postgresql_where=text("superseded_at IS NOT NULL"),
        ),
        # A case's decisions in order, the case first (migration 0041).
        Index("ix_decisions_case", "case_id", "agency_id", "decided_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    decided_by: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(1))
    reason: Mapped[str | None] = mapped_column(String(16))
    exemption_checked: Mapped[bool] = mapped_column(Boolean)
    rationale: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(String(32))
    bank: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The time of the case's next decision (NULL: the last one), kept by triggers (0035).
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class HostRow(Base):
    """A hosting provider of the agency's directory: where notices for a domain go."""

    __tablename__ = "hosts"
    __table_args__ = (UniqueConstraint("agency_id", "domain", name="uq_hosts_agency_domain"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    domain: Mapped[str] = mapped_column(String(253))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(8))


class ReferralRow(Base):
    __tablename__ = "referrals"
    # The transparency report reads the period's referrals by a range (migration 0035).
    # A case's referrals in order, the case first (migration 0041); the work lists' (0042).
    __table_args__ = (
        Index("ix_referrals_report", "agency_id", "created_at"),
        Index("ix_referrals_case", "case_id", "agency_id", "created_at"),
        Index("ix_referrals_agency_status", "agency_id", "status", "created_at", "id"),
        Index(
            "ix_referrals_pending_deadline",
            "agency_id",
            "deadline_at",
            "id",
            sqlite_where=text("offline_at IS NULL AND removal_declared_at IS NULL"),
            postgresql_where=text("offline_at IS NULL AND removal_declared_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    host_id: Mapped[str] = mapped_column(ForeignKey("hosts.id"))
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(24))
    language: Mapped[str] = mapped_column(String(8))
    url: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_json: Mapped[str | None] = mapped_column(Text)  # the message id and values
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    removal_declared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    offline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    statement: Mapped[str | None] = mapped_column(Text)
    hold_override_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CaseNoteRow(Base):
    """A short internal note on a case, by one of the unit's people; never shared."""

    __tablename__ = "case_notes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    # the member of the unit who wrote it (never a person behind content: red line 1)
    written_by: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PublicReportRow(Base):
    """A report from the public form. Nothing identifies the person who sent it: the source
    address is kept only as a keyed hash, for one hour, to limit the rate."""

    __tablename__ = "public_reports"
    # A case page lists its public reports in order (migration 0035).
    __table_args__ = (Index("ix_public_reports_case", "case_id", "created_at", "reference"),)

    reference: Mapped[str] = mapped_column(String(16), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"))
    url: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(1))
    description: Mapped[str] = mapped_column(Text)
    source_hash: Mapped[str | None] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class RecommendationRow(Base):
    """A controller's recommendation to lift a measure taken on a case."""

    __tablename__ = "recommendations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    controller: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ComplaintRow(Base):
    """A host's or content provider's challenge of a decision (Art. 10: answered in 2 weeks)."""

    __tablename__ = "complaints"
    # The complaints still to answer, by deadline (migration 0042).
    __table_args__ = (
        Index(
            "ix_complaints_open",
            "agency_id",
            "deadline_at",
            "id",
            sqlite_where=text("outcome IS NULL"),
            postgresql_where=text("outcome IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referrals.id"), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    outcome: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rationale: Mapped[str | None] = mapped_column(Text)


class JobRow(Base):
    """A persisted job: survives restarts; a lease keeps two workers from running it at once."""

    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("kind", "agency_id", name="uq_jobs_kind_agency"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    locked_by: Mapped[str | None] = mapped_column(String(64))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    runs: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_json: Mapped[str | None] = mapped_column(Text)
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RecheckRow(Base):
    """One re-check of a referred URL: was the content still online?"""

    __tablename__ = "rechecks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referrals.id"), index=True)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    online: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text)
    detail_json: Mapped[str | None] = mapped_column(Text)


class AgencyKeyRow(Base):
    """An agency's Ed25519 signing key; the private half encrypted with the instance secret."""

    __tablename__ = "agency_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    public_key: Mapped[str] = mapped_column(String(64))
    private_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PartnerRow(Base):
    __tablename__ = "partners"
    __table_args__ = (UniqueConstraint("agency_id", "code", name="uq_partners_agency_code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(Text)
    base_url: Mapped[str | None] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(String(64))
    contact: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    last_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_ok_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_json: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    witnessed_head: Mapped[str | None] = mapped_column(String(90))
    witnessed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AgreementRow(Base):
    """One agency's copy of an agreement (the other party keeps its own, same id)."""

    __tablename__ = "agreements"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    terms_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ExchangeEventRow(Base):
    """The outbox: every change an agency may share, in order (the feed's cursor is `seq`)."""

    __tablename__ = "exchange_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    signal_type: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(Text)
    labels_json: Mapped[str] = mapped_column(Text)
    decision_json: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Passed on from a partner (its code), under the TLP it came with or a stricter one.
    origin: Mapped[str | None] = mapped_column(String(32))
    tlp_floor: Mapped[str | None] = mapped_column(String(16))
    # A block of the entries a bank import added (migration 0038): the row stands for the
    # `span` sequence numbers up to its `seq`, one an entry of `entries_json` (its signal
    # type, value and labels columns are empty). 1 and NULL for a row of one event.
    span: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    entries_json: Mapped[str | None] = mapped_column(Text)


class SyncLogRow(Base):
    __tablename__ = "sync_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text)
    # The message id and its values; NULL on rows recorded before 0033 (English `detail`).
    detail_json: Mapped[str | None] = mapped_column(Text)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    retracted: Mapped[int] = mapped_column(Integer, default=0)


class ObservationHoldRow(Base):
    """ "Leave up, under observation": no referral on the case's content without an override."""

    __tablename__ = "observation_holds"
    # A case's holds, the case first (migration 0041); the holds still set (0042).
    __table_args__ = (
        Index("ix_observation_holds_case", "case_id", "agency_id"),
        Index(
            "ix_observation_holds_active",
            "agency_id",
            "set_at",
            "id",
            sqlite_where=text("lifted_at IS NULL"),
            postgresql_where=text("lifted_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    reason: Mapped[str] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PartnerSignalRow(Base):
    """What a partner told us about a signal: held (leave it up) or referred (and when)."""

    __tablename__ = "partner_signals"
    # On SQLite, one index (agency_id, value) stands for these two (migration 0041); on
    # PostgreSQL the value's index holds its MD5 (migration 0020).

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    kind: Mapped[str] = mapped_column(String(16))
    signal_type: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(Text, index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
