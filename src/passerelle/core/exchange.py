"""Cooperation between agencies: partners, agreements and what a feed may carry.

Nothing flows outside an accepted, valid agreement: the publisher filters its outbox by the
agreements it has with the subscriber, and the subscriber checks every entry again against its
own copy of the same agreement before importing anything. Content never crosses, only
signals, labels, a decision summary without its rationale, holds and referral dates."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from passerelle.core.errors import InvalidInput

# Re-exported: the exchange speaks of distributions and markings.
from passerelle.core.marking import NEVER_SHARED, stricter
from passerelle.core.marking import Distribution as Distribution
from passerelle.core.marking import Tlp as Tlp
from passerelle.core.message import Message, message_of
from passerelle.core.signals import parse_signal
from passerelle.core.taxonomy import Category
from passerelle.core.timestamps import parse_day, parse_timestamp

# Version 2 of every signed document carries `issued_at` and a random `nonce` (replay
# protection) and a feed page the publisher's audit head; version 1 documents carry neither
# and are refused by name (partners upgrade together).
FEED_SCHEMA = "passerelle-feed/2"
AGREEMENT_SCHEMA = "passerelle-agreement/2"
ANSWER_SCHEMA = "passerelle-agreement-answer/2"
RETIRED_SCHEMAS = frozenset(
    {"passerelle-feed/1", "passerelle-agreement/1", "passerelle-agreement-answer/1"}
)
_NONCE = re.compile(r"^[0-9a-f]{32}$")
FEED_PAGE = 500
MAX_FEED_BYTES = 5 * 1024 * 1024
_CODE = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
_KEY = re.compile(r"^[A-Za-z0-9+/]{43}=$")  # 32 bytes, base64


class Replayed(InvalidInput):
    """A document or request correctly signed by a partner but stale or already seen: refused,
    and the refusal is audited for the agency it was addressed to."""

    def __init__(
        self,
        message: str,
        *,
        agency_id: str,
        partner: str,
        nonce: str,
        reason: Message | None = None,
    ) -> None:
        if reason is None:
            super().__init__(message)
        else:
            super().__init__(message, reason=reason)
        self.agency_id = agency_id
        self.partner = partner
        self.nonce = nonce


def refuse_retired(schema: object) -> None:
    if isinstance(schema, str) and schema in RETIRED_SCHEMAS:
        raise InvalidInput(
            "%(schema)s documents carry no time and nonce and are refused (replay protection);"
            " the partner must upgrade Passerelle",
            schema=schema,
        )


def parse_nonce(value: object) -> str:
    text = str(value or "")
    if not _NONCE.match(text):
        raise InvalidInput("a signed document's nonce is 32 lowercase hexadecimal characters")
    return text


def parse_issued_at(value: object) -> datetime:
    """The time a signed document says it was issued: RFC 3339, with its zone."""
    return parse_timestamp(str(value), "issued_at")


def staleness(issued_at: datetime, now: datetime, window: timedelta) -> Message | None:
    """Why a document issued at `issued_at` is not fresh at `now` (a message id and its
    values, said in the reader's language where it is shown), or None."""
    moment = issued_at.isoformat()
    if issued_at < now - window:
        seconds = int(window.total_seconds())
        if seconds % 60 == 0:
            return Message(STALE_MINUTES, {"time": moment, "minutes": seconds // 60})
        return Message(STALE_SECONDS, {"time": moment, "seconds": seconds})
    if issued_at > now + window:
        return Message(FROM_THE_FUTURE, {"time": moment})
    return None


STALE_MINUTES = "it was issued at %(time)s, more than %(minutes)s minutes ago"
STALE_SECONDS = "it was issued at %(time)s, more than %(seconds)s seconds ago"
FROM_THE_FUTURE = "it claims to be issued at %(time)s, in the future"


class AgreementStatus(enum.StrEnum):
    PROPOSED = "proposed"
    ACTIVE = "active"
    DECLINED = "declined"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


# Who may move an agreement from one status to another, and to what (either party may
# suspend, resume or terminate; only the receiver accepts or declines).
TRANSITIONS: dict[tuple[AgreementStatus, str], AgreementStatus] = {
    (AgreementStatus.PROPOSED, "accept"): AgreementStatus.ACTIVE,
    (AgreementStatus.PROPOSED, "decline"): AgreementStatus.DECLINED,
    (AgreementStatus.ACTIVE, "suspend"): AgreementStatus.SUSPENDED,
    (AgreementStatus.SUSPENDED, "resume"): AgreementStatus.ACTIVE,
    (AgreementStatus.ACTIVE, "terminate"): AgreementStatus.TERMINATED,
    (AgreementStatus.SUSPENDED, "terminate"): AgreementStatus.TERMINATED,
}
RECEIVER_ONLY = frozenset({"accept", "decline"})


class EventKind(enum.StrEnum):
    ADD = "add"  # an entry of an own positive bank
    RETRACT = "retract"  # the entry is withdrawn (a reinstatement, a removal)
    HOLD = "hold"  # leave up, under observation
    RELEASE = "release"  # the hold is lifted
    REFERRED = "referred"  # the content was referred to its host


SHAREABLE_SIGNALS = ("sha256", "md5", "pdq", "url", "text", "vpdq")


@dataclass(frozen=True, slots=True)
class Terms:
    purpose: str
    categories: frozenset[Category]
    signal_types: frozenset[str]
    share_decisions: bool
    share_holds: bool
    retention_days: int
    distribution: Distribution
    tlp: Tlp
    valid_from: date
    valid_until: date

    def as_dict(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "categories": sorted(c.value for c in self.categories),
            "signal_types": sorted(self.signal_types),
            "share_decisions": self.share_decisions,
            "share_holds": self.share_holds,
            "retention_days": self.retention_days,
            "distribution": self.distribution.value,
            "tlp": self.tlp.value,
            "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat(),
        }

    def in_force(self, now: datetime) -> bool:
        start = datetime.combine(self.valid_from, time.min, tzinfo=UTC)
        end = datetime.combine(self.valid_until, time.max, tzinfo=UTC)
        return start <= now <= end


def parse_terms(raw: Mapping[str, Any]) -> Terms:
    """Terms as typed in the console, given on the command line or received from a partner;
    each problem is an InvalidInput naming its field."""
    purpose = str(raw.get("purpose") or "").strip()
    if not 10 <= len(purpose) <= 2000:
        raise InvalidInput("state the purpose (10 to 2000 characters)", field="purpose")
    try:
        categories = frozenset(Category(str(c)) for c in _list(raw.get("categories")))
    except ValueError:
        raise InvalidInput(
            "categories are letters a to e (Art. 2(7))", field="categories"
        ) from None
    if not categories:
        raise InvalidInput("choose at least one Art. 2(7) category", field="categories")
    signal_types = frozenset(str(s) for s in _list(raw.get("signal_types")))
    if not signal_types or not signal_types <= set(SHAREABLE_SIGNALS):
        raise InvalidInput(
            "choose signal types among %(types)s",
            field="signal_types",
            types=", ".join(SHAREABLE_SIGNALS),
        )
    try:
        retention = int(raw.get("retention_days") or 0)
    except (TypeError, ValueError):
        retention = 0
    if not 1 <= retention <= 3650:
        raise InvalidInput("retention is 1 to 3650 days", field="retention_days")
    try:
        distribution = Distribution(str(raw.get("distribution") or "agreement"))
    except ValueError:
        raise InvalidInput("distribution is agreement or onward", field="distribution") from None
    try:
        tlp = Tlp(str(raw.get("tlp") or "amber").lower())
    except ValueError:
        choices = ", ".join(t.value for t in Tlp)
        raise InvalidInput("TLP is one of %(choices)s", field="tlp", choices=choices) from None
    start, end = (
        _date(raw.get("valid_from"), "valid_from"),
        _date(raw.get("valid_until"), "valid_until"),
    )
    if end < start:
        raise InvalidInput("the agreement must end after it starts", field="valid_until")
    return Terms(
        purpose=purpose,
        categories=categories,
        signal_types=signal_types,
        share_decisions=_flag(raw.get("share_decisions")),
        share_holds=_flag(raw.get("share_holds")),
        retention_days=retention,
        distribution=distribution,
        tlp=tlp,
        valid_from=start,
        valid_until=end,
    )


def _list(value: object) -> list[object]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, Iterable):
        return list(value)
    return [value]


def _flag(value: object) -> bool:
    return value is True or str(value).lower() in {"true", "1", "on", "yes"}


def _date(value: object, name: str) -> date:
    return parse_day(str(value), name)


def parse_code(text: str) -> str:
    code = text.strip().lower()
    if not _CODE.match(code):
        raise InvalidInput("not an agency code: '%(text)s'", field="code", text=text)
    return code


def parse_public_key(text: str) -> str:
    key = text.strip()
    if not _KEY.match(key):
        raise InvalidInput("an Ed25519 public key is 44 base64 characters", field="public_key")
    return key


@dataclass(frozen=True, slots=True)
class Partner:
    id: str
    agency_id: str
    code: str
    name: str
    base_url: str | None
    public_key: str
    contact: str
    cursor: int = 0
    last_sync_at: datetime | None = None
    last_ok_at: datetime | None = None
    last_error: Message | None = None
    failures: int = 0
    next_sync_at: datetime | None = None
    witnessed_head: str | None = None  # the partner's audit head, from its last feed page
    witnessed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Agreement:
    id: str
    agency_id: str
    partner_id: str
    role: str  # "proposer" or "receiver"
    status: AgreementStatus
    terms: Terms
    created_at: datetime
    changed_at: datetime

    def flowing(self, now: datetime) -> bool:
        """Accepted, not suspended or ended, and inside its validity window."""
        return self.status is AgreementStatus.ACTIVE and self.terms.in_force(now)


def next_status(agreement: Agreement, action: str, *, by_receiver: bool) -> AgreementStatus:
    if action in RECEIVER_ONLY and not by_receiver:
        raise InvalidInput(
            "only the agency that received the proposal can %(action)s it", action=action
        )
    try:
        return TRANSITIONS[(agreement.status, action)]
    except KeyError:
        raise InvalidInput(
            "%(action)s: not possible for an agreement that is %(state)s",
            action=action,
            state=agreement.status.value,
        ) from None


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One shared change. `agreement` names the agreement that lets it flow."""

    seq: int
    kind: EventKind
    signal_type: str
    value: str
    category: str | None
    tier: str | None
    tags: tuple[str, ...]
    decision: dict[str, Any] | None
    agreement: str
    distribution: Distribution
    tlp: Tlp
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind.value,
            "signal_type": self.signal_type,
            "value": self.value,
            "category": self.category,
            "tier": self.tier,
            "tags": list(self.tags),
            "decision": self.decision,
            "agreement": self.agreement,
            "distribution": self.distribution.value,
            "tlp": self.tlp.value,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    seq: int
    agency_id: str
    kind: EventKind
    signal_type: str
    value: str
    category: str | None
    tier: str | None
    tags: tuple[str, ...]
    decision: dict[str, Any] | None
    at: datetime
    origin: str | None = None  # passed on from this partner ("onward"): never back to it
    tlp_floor: Tlp | None = None  # the TLP it came with: never shared under a laxer one


def admits(terms: Terms, kind: EventKind, signal_type: str, category: str | None) -> bool:
    """May an event of this kind, type and category flow under these terms?"""
    if signal_type not in terms.signal_types:
        return False
    if kind in (EventKind.HOLD, EventKind.RELEASE):
        return terms.share_holds
    if kind is EventKind.REFERRED:
        return terms.share_decisions
    return category is not None and Category(category) in terms.categories


def feed_entries(
    events: Iterable[OutboxEvent],
    agreements: Iterable[Agreement],
    now: datetime,
    subscriber: str | None = None,
) -> list[FeedEntry]:
    """The publisher's side: each event under the first flowing agreement that admits it;
    decisions are summarised only where the agreement shares them. An entry passed on from a
    partner goes on as "this agreement only", under its TLP or a stricter one, and never back
    to the partner it came from: it never widens."""
    flowing = [a for a in agreements if a.flowing(now)]
    found = []
    for event in events:
        if event.origin is not None and event.origin == subscriber:
            continue
        if event.tlp_floor in NEVER_SHARED:
            continue  # TLP:RED stays with the unit that holds it
        for agreement in flowing:
            terms = agreement.terms
            if not admits(terms, event.kind, event.signal_type, event.category):
                continue
            found.append(
                FeedEntry(
                    seq=event.seq,
                    kind=event.kind,
                    signal_type=event.signal_type,
                    value=event.value,
                    category=event.category,
                    tier=event.tier,
                    tags=event.tags,
                    decision=event.decision if terms.share_decisions else None,
                    agreement=agreement.id,
                    distribution=Distribution.AGREEMENT if event.origin else terms.distribution,
                    tlp=stricter(terms.tlp, event.tlp_floor),
                    at=event.at,
                )
            )
            break
    return found


@dataclass(frozen=True, slots=True)
class RefusedEntry:
    """An entry of a received page that cannot be read (a value that is no signal of its
    type, a kind or a category we do not know): left out and reported, the rest of the page
    taken in. Its number when it could be read."""

    seq: str
    reason: Message

    def message(self) -> Message:
        return Message("entry %(seq)s: %(reason)s", {"seq": self.seq, "reason": self.reason})


@dataclass(frozen=True, slots=True)
class FeedPage:
    publisher: str
    subscriber: str
    cursor: int
    next_cursor: int
    entries: tuple[FeedEntry, ...]
    issued_at: datetime
    more: bool = False
    nonce: str = ""
    audit_head: str = ""  # the publisher's audit head: partners witness it
    # What the subscriber could not read of the page (never written: a publisher writes only
    # entries it could read).
    refused: tuple[RefusedEntry, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": FEED_SCHEMA,
            "nonce": self.nonce,
            "audit_head": self.audit_head,
            "publisher": self.publisher,
            "subscriber": self.subscriber,
            "cursor": self.cursor,
            "next_cursor": self.next_cursor,
            "more": self.more,
            "issued_at": self.issued_at.isoformat(),
            "entries": [e.as_dict() for e in self.entries],
        }


_ENTRY_KEYS = frozenset(FeedEntry.__dataclass_fields__)
_PAGE_KEYS = frozenset(
    {
        "schema",
        "nonce",
        "audit_head",
        "publisher",
        "subscriber",
        "cursor",
        "next_cursor",
        "more",
        "issued_at",
        "entries",
    }
)
_HEAD = re.compile(r"^\d{1,18}:[0-9a-f]{64}$")


def parse_page(document: object) -> FeedPage:
    """A feed page as received, checked field by field (a schema we do not know is refused)."""
    if not isinstance(document, dict):
        raise InvalidInput("the feed is not a JSON object")
    refuse_retired(document.get("schema"))
    if document.get("schema") != FEED_SCHEMA:
        raise InvalidInput("unknown feed schema %(schema)s", schema=repr(document.get("schema")))
    if set(document) != _PAGE_KEYS:
        raise InvalidInput(
            "unexpected feed fields: %(fields)s", fields=sorted(set(document) ^ _PAGE_KEYS)
        )
    try:
        if not isinstance(document["entries"], list):
            raise InvalidInput("the feed's entries are not a list")
        entries, refused = _entries(document["entries"])
        head = str(document["audit_head"])
        if not _HEAD.match(head):
            raise InvalidInput("the feed's audit head is not <event number>:<MAC>")
        return FeedPage(
            nonce=parse_nonce(document["nonce"]),
            audit_head=head,
            publisher=parse_code(str(document["publisher"])),
            subscriber=parse_code(str(document["subscriber"])),
            cursor=int(document["cursor"]),
            next_cursor=int(document["next_cursor"]),
            entries=entries,
            issued_at=parse_issued_at(document["issued_at"]),
            more=bool(document["more"]),
            refused=refused,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput("malformed feed: %(error)s", error=exc) from None


def _entries(items: list[Any]) -> tuple[tuple[FeedEntry, ...], tuple[RefusedEntry, ...]]:
    """The entries of a page that can be read, and why each other one cannot (a partner's
    entry we cannot read would stop every later one if it refused the page: it is left out
    and reported instead)."""
    entries: list[FeedEntry] = []
    refused: list[RefusedEntry] = []
    for item in items:
        seq = str(item.get("seq", "?")) if isinstance(item, dict) else "?"
        try:
            entries.append(_entry(item))
        except InvalidInput as exc:
            refused.append(RefusedEntry(seq[:20], message_of(exc)))
        except (KeyError, TypeError, ValueError) as exc:
            reason = Message("malformed feed entry: %(error)s", {"error": str(exc)[:200]})
            refused.append(RefusedEntry(seq[:20], reason))
    return tuple(entries), tuple(refused)


def _entry(item: object) -> FeedEntry:
    if not isinstance(item, dict) or set(item) != _ENTRY_KEYS:
        raise InvalidInput("malformed feed entry")
    signal = parse_signal(str(item["signal_type"]), str(item["value"]))
    category = item["category"]
    if category is not None:
        Category(str(category))
    decision = item["decision"]
    if decision is not None and not isinstance(decision, dict):
        raise InvalidInput("malformed decision summary")
    if decision and "rationale" in decision:
        raise InvalidInput("a decision summary never carries the rationale")
    return FeedEntry(
        seq=int(item["seq"]),
        kind=EventKind(str(item["kind"])),
        signal_type=signal.type,
        value=signal.value,
        category=str(category) if category is not None else None,
        tier=str(item["tier"]) if item["tier"] is not None else None,
        tags=tuple(str(t) for t in item["tags"]),
        decision=decision,
        agreement=str(item["agreement"]),
        distribution=Distribution(str(item["distribution"])),
        tlp=Tlp(str(item["tlp"])),
        at=parse_timestamp(str(item["at"]), "at"),
    )


def check_page(
    page: FeedPage,
    *,
    partner: Partner,
    our_code: str,
    asked_cursor: int,
    agreements: Mapping[str, Agreement],
    now: datetime,
) -> list[Message]:
    """The subscriber's side: everything that makes a page unacceptable (then nothing of it
    is imported). `agreements` are our copies, by id, of the agreements with this partner."""
    problems = []
    if page.publisher != partner.code:
        problems.append(
            Message(
                "published by %(publisher)s, expected %(partner)s",
                {"publisher": page.publisher, "partner": partner.code},
            )
        )
    if page.subscriber != our_code:
        problems.append(
            Message(
                "addressed to %(subscriber)s, not to %(agency)s",
                {"subscriber": page.subscriber, "agency": our_code},
            )
        )
    if page.cursor != asked_cursor:
        problems.append(
            Message(
                "answers cursor %(cursor)s, asked %(asked)s (a replayed page?)",
                {"cursor": page.cursor, "asked": asked_cursor},
            )
        )
    if page.next_cursor < page.cursor:
        problems.append(Message("the cursor goes backwards"))
    for entry in page.entries:
        problems += _entry_problems(page, entry, agreements.get(entry.agreement), now)
    return problems


OUTSIDE = "entry %(seq)s: %(signal_type)s is outside agreement %(agreement)s"
OUTSIDE_CATEGORY = (
    "entry %(seq)s: %(signal_type)s category %(category)s is outside agreement %(agreement)s"
)


def _entry_problems(
    page: FeedPage, entry: FeedEntry, agreement: Agreement | None, now: datetime
) -> list[Message]:
    seq: dict[str, str | int] = {"seq": entry.seq, "agreement": entry.agreement}
    if agreement is None:
        return [Message("entry %(seq)s: unknown agreement %(agreement)s", seq)]
    if not agreement.flowing(now):
        return [Message("entry %(seq)s: agreement %(agreement)s is not in force", seq)]
    problems = []
    if not admits(agreement.terms, entry.kind, entry.signal_type, entry.category):
        outside = seq | {"signal_type": entry.signal_type, "category": entry.category or ""}
        problems.append(Message(OUTSIDE_CATEGORY if entry.category else OUTSIDE, outside))
    if entry.decision is not None and not agreement.terms.share_decisions:
        problems.append(
            Message("entry %(seq)s: decisions are not shared under this agreement", seq)
        )
    if not page.cursor < entry.seq <= page.next_cursor:
        problems.append(Message("entry %(seq)s is outside the page's cursors", seq))
    return problems
