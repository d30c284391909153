"""Looking signals up in an agency's banks for API clients: many signals (or one file's) in
one call, answered from the matcher kept in memory, audited by counts and never by content
(how many calls, signals of each type, matched: `lookup_audit.LookupAudit` writes them in
one short transaction per user at most once a second)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from passerelle.core.content import Content
from passerelle.core.errors import InvalidInput, PermissionDenied
from passerelle.core.identity import Permission, User
from passerelle.core.match import Match, Matcher, MatchOutcome
from passerelle.core.ports import UnitOfWork
from passerelle.core.signals import Signal, get_signal_type
from passerelle.scan import ScanOptions, fingerprint
from passerelle.services.lookup_audit import LookupAudit
from passerelle.services.matchers import MatcherCache

MAX_SIGNALS = 1000
# Types looked up through an index (sorted values, PDQ multi-index): a few take well under a
# millisecond whatever the size of the banks.
INDEXED_TYPES = frozenset({"sha256", "md5", "url", "pdq"})

UnitOfWorkFactory = Callable[[], AbstractContextManager[UnitOfWork]]


@dataclass(frozen=True, slots=True)
class Asked:
    """One signal to look up, as sent (the type and value are checked by `parse_asked`)."""

    signal_type: str
    value: str


@dataclass(frozen=True, slots=True)
class Answer:
    signal: Signal
    outcome: MatchOutcome


def parse_asked(asked: Sequence[Asked]) -> list[Signal]:
    """The signals of a request; `InvalidInput` naming the first bad one (by its position)."""
    if not asked:
        raise InvalidInput("no signal to look up: send at least one", field="signals")
    if len(asked) > MAX_SIGNALS:
        raise InvalidInput(
            "too many signals: %(count)s, at most %(limit)s per request",
            field="signals",
            count=len(asked),
            limit=MAX_SIGNALS,
        )
    signals = []
    for position, item in enumerate(asked):
        try:
            # A url signal is an address (canonicalised and hashed) or the hash itself.
            signals.append(get_signal_type(item.signal_type).parse(item.value))
        except InvalidInput as exc:
            raise InvalidInput(
                "signals[%(position)s]: %(error)s", field="signals", position=position, error=exc
            ) from None
    return signals


def _check(viewer: User) -> None:
    if not viewer.can(Permission.REVIEW):
        raise PermissionDenied("only analysts and approvers look signals up")


def look_up(
    open_read: UnitOfWorkFactory,
    audit: LookupAudit,
    matchers: MatcherCache,
    *,
    viewer: User,
    signals: Sequence[Signal],
    source: str = "signals",
) -> list[Answer]:
    """Every signal against the viewer's agency's banks (one batch per signal type)."""
    _check(viewer)
    matcher: Matcher = matchers.matcher(viewer.agency_id, open_read)
    return _answer(matcher, audit, viewer=viewer, signals=signals, source=source, wait=True)


def look_up_known(
    audit: LookupAudit, matchers: MatcherCache, *, viewer: User, signals: Sequence[Signal]
) -> list[Answer] | None:
    """`look_up` answered from the matcher in memory, if it was checked against the bank
    generation within its period, without touching the database (the count goes to the audit
    log through its background writer); None when the matcher must be checked first, or
    when a signal is of a type whose look-up grows with the bank (text, compared with every
    text entry; video, frame by frame): those are for a worker thread."""
    _check(viewer)
    if any(signal.type not in INDEXED_TYPES for signal in signals):
        return None
    matcher = matchers.known(viewer.agency_id)
    if matcher is None:
        return None
    return _answer(matcher, audit, viewer=viewer, signals=signals, source="signals", wait=False)


def _answer(
    matcher: Matcher,
    audit: LookupAudit,
    *,
    viewer: User,
    signals: Sequence[Signal],
    source: str,
    wait: bool,
) -> list[Answer]:
    outcomes = matcher.match_many([[signal] for signal in signals])
    answers = [Answer(s, o) for s, o in zip(signals, outcomes, strict=True)]
    audit.record(
        agency_id=viewer.agency_id,
        username=viewer.username,
        source=source,
        by_type=Counter(signal.type for signal in signals),
        matched=sum(bool(a.outcome.matches) for a in answers),
        generation=matcher.generation,
        wait=wait,
    )
    return answers


def look_up_file(
    open_read: UnitOfWorkFactory,
    audit: LookupAudit,
    matchers: MatcherCache,
    *,
    viewer: User,
    data: bytes,
    options: ScanOptions,
) -> list[Answer]:
    """The signals of a file (as a scan computes them) looked up like sent ones."""
    _check(viewer)
    if not data:
        raise InvalidInput("the file is empty", field="file")
    found = fingerprint(Content(source="upload", data=data), options)
    return look_up(open_read, audit, matchers, viewer=viewer, signals=found.signals, source="file")


def match_as_dict(match: Match) -> dict[str, object]:
    found = match.as_dict()
    found["bank_kind"] = match.bank_kind.value
    return found
