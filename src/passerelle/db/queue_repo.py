"""Items, sightings and cases in SQL: what `--into-queue` writes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from passerelle.core.case import (
    CaseDetail,
    CaseStatus,
    CaseSummary,
    PageRequest,
    QueueFilters,
    QueueKey,
    QueueSort,
    Sighting,
)
from passerelle.core.content import URI_LIST
from passerelle.core.errors import NotFound
from passerelle.core.ports import Candidate, ItemFindings, QueuedItem
from passerelle.core.priority import Explanation
from passerelle.core.search import pdq_band_keys, pdq_probe_keys
from passerelle.core.signals.pdq import PDQ, hamming
from passerelle.core.taxonomy import TIER_WEIGHT, Tier
from passerelle.db.bulk import insert_rows
from passerelle.db.ids import time_ordered_id
from passerelle.db.models import (
    CaseCountRow,
    CaseRow,
    CaseScoreCountRow,
    ItemKeyRow,
    ItemRow,
    PublicReportRow,
    ReferralRow,
    SightingRow,
)

AnySelect = Select[*tuple[Any, ...]]


def load_explanations(text: str) -> list[Explanation]:
    return [Explanation(r["template"], r.get("params", {})) for r in json.loads(text)]


def _top_tier(matches_json: str) -> str | None:
    """The most urgent tier among a case's matches (None without a tier)."""
    tiers = [Tier(m["labels"]["tier"]) for m in json.loads(matches_json) if m["labels"].get("tier")]
    return max(tiers, key=lambda t: TIER_WEIGHT[t]).value if tiers else None


def _signal_keys(signals_json: str) -> list[tuple[str, str]]:
    """The search keys of an item's signals: its MD5 and the band keys of its PDQ hash."""
    signals = json.loads(signals_json)
    keys = [("md5", signals["md5"])] if signals.get("md5") else []
    if signals.get("pdq"):
        keys.extend(("pdq", key) for key in pdq_band_keys(signals["pdq"]))
    return keys


def _chunks(values: list[str], size: int = 500) -> list[list[str]]:
    """Values in lists short enough for one IN (...) on every engine."""
    return [values[i : i + size] for i in range(0, len(values), size)]


def sighting_key(source: str, url: str | None) -> str:
    """What makes a sighting one: the source and the address it was seen at (hashed, so that
    long addresses fit a unique index on every engine)."""
    return hashlib.sha256(f"{source}\x00{url or ''}".encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# What a queue's row shows, read as plain columns: a page of cases builds no ORM objects.
SUMMARY_COLUMNS = (
    CaseRow.id,
    CaseRow.status,
    CaseRow.score,
    CaseRow.source,
    CaseRow.title,
    CaseRow.language,
    CaseRow.reasons_json,
    CaseRow.matches_json,
    CaseRow.created_at,
    CaseRow.legal_hold_until,
    CaseRow.assigned_to,
    ItemRow.media_type,
    ItemRow.url,
)


def _summary(case: CaseRow, item: ItemRow) -> CaseSummary:
    return _summary_of(case, media_type=item.media_type, url=item.url)


def _summary_of(case: Any, *, media_type: str, url: str | None) -> CaseSummary:
    """A case's summary from its row, or from a row of `SUMMARY_COLUMNS` (same names)."""
    matches = json.loads(case.matches_json)
    reasons = load_explanations(case.reasons_json)
    return CaseSummary(
        id=case.id,
        status=CaseStatus(case.status),
        score=case.score,
        source=case.source,
        media_type=media_type,
        url=url,
        title=case.title,
        language=case.language,
        top_reason=reasons[0] if reasons else None,
        banks=tuple(sorted({m["bank"] for m in matches})),
        tiers=tuple(sorted({m["labels"]["tier"] for m in matches if m["labels"].get("tier")})),
        created_at=_aware(case.created_at),
        legal_hold_until=_aware(case.legal_hold_until) if case.legal_hold_until else None,
        assigned_to=case.assigned_to,
    )


# The case page's queries (also read by every decision and referral), built once: building
# them cost more than running them.
@cache
def _case_query() -> Any:
    return (
        select(CaseRow, ItemRow)
        .join(ItemRow, ItemRow.id == CaseRow.item_id)
        .where(CaseRow.id == bindparam("case_id"), CaseRow.agency_id == bindparam("agency_id"))
    )


@cache
def _sightings_query() -> Any:
    return (
        select(SightingRow)
        .where(SightingRow.item_id == bindparam("item_id"))
        .order_by(SightingRow.seen_at, SightingRow.id)
    )


@cache
def _item_by_sha256() -> Any:
    return select(ItemRow.id, ItemRow.first_seen_at).where(
        ItemRow.agency_id == bindparam("agency_id"), ItemRow.sha256 == bindparam("sha256")
    )


@cache
def _item_by_url() -> Any:
    return (
        select(ItemRow.id, ItemRow.first_seen_at)
        .where(
            ItemRow.agency_id == bindparam("agency_id"), ItemRow.url_hash == bindparam("url_hash")
        )
        .order_by(ItemRow.first_seen_at)
        .limit(1)
    )


class SqlQueueRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def find_item(self, agency_id: str, sha256: str, url_hash: str | None) -> QueuedItem | None:
        """The agency's item with these bytes or at this canonical address (the first seen
        when both exist). Two lookups, each on its own index: an `OR` of the two makes the
        planners scan every item of the agency."""
        found = self._s.execute(
            _item_by_sha256(), {"agency_id": agency_id, "sha256": sha256}
        ).first()
        if url_hash:
            by_url = self._s.execute(
                _item_by_url(), {"agency_id": agency_id, "url_hash": url_hash}
            ).first()
            if by_url is not None and (found is None or _aware(by_url[1]) < _aware(found[1])):
                found = by_url
        if found is None:
            return None
        case_id = self._s.scalar(select(CaseRow.id).where(CaseRow.item_id == found[0]).limit(1))
        return QueuedItem(item_id=found[0], case_id=case_id)

    def find_items(
        self, agency_id: str, keys: Sequence[tuple[str, str | None]]
    ) -> list[QueuedItem | None]:
        """`find_item` for many (SHA-256, canonical address hash) at once: a few queries
        for a whole batch, each on its index, whatever the size of the batch."""
        shas = list(dict.fromkeys(sha for sha, _ in keys))
        urls = list(dict.fromkeys(url for _, url in keys if url))
        by_sha: dict[str, tuple[str, datetime]] = {}
        by_url: dict[str, tuple[str, datetime]] = {}
        for chunk in _chunks(shas):
            for item_id, sha, seen in self._s.execute(
                select(ItemRow.id, ItemRow.sha256, ItemRow.first_seen_at).where(
                    ItemRow.agency_id == agency_id, ItemRow.sha256.in_(chunk)
                )
            ):
                by_sha[sha] = (item_id, _aware(seen))
        for chunk in _chunks(urls):
            for item_id, url_hash, seen in self._s.execute(
                select(ItemRow.id, ItemRow.url_hash, ItemRow.first_seen_at).where(
                    ItemRow.agency_id == agency_id, ItemRow.url_hash.in_(chunk)
                )
            ):
                if url_hash is None:
                    continue
                known = by_url.get(url_hash)
                if known is None or (_aware(seen), item_id) < (known[1], known[0]):
                    by_url[url_hash] = (item_id, _aware(seen))
        found: list[str | None] = []
        for sha, url_hash in keys:
            chosen = by_sha.get(sha)
            other = by_url.get(url_hash) if url_hash else None
            if other is not None and (chosen is None or other[1] < chosen[1]):
                chosen = other
            found.append(chosen[0] if chosen else None)
        cases: dict[str, str] = {}
        for chunk in _chunks(list(dict.fromkeys(item for item in found if item))):
            for item_id, case_id in self._s.execute(
                select(CaseRow.item_id, CaseRow.id).where(CaseRow.item_id.in_(chunk))
            ):
                cases.setdefault(item_id, case_id)
        return [QueuedItem(item, cases.get(item)) if item else None for item in found]

    def add_new(
        self, agency_id: str, candidates: Sequence[Candidate], *, origin: str
    ) -> list[QueuedItem]:
        """Items, their first sighting, their search keys and their cases for candidates the
        agency does not know (distinct SHA-256s): one multi-row INSERT a table."""
        now = datetime.now(UTC)
        items: list[dict[str, Any]] = []
        sightings: list[dict[str, Any]] = []
        cases: list[dict[str, Any]] = []
        keys: list[dict[str, str]] = []
        made = []
        for candidate in candidates:
            found = candidate.findings
            item_id, case_id = time_ordered_id(), time_ordered_id()
            made.append(QueuedItem(item_id, case_id))
            items.append(
                {
                    "id": item_id,
                    "agency_id": agency_id,
                    "sha256": found.sha256,
                    "url_hash": candidate.url_hash,
                    "url": candidate.url,
                    "media_type": found.media_type,
                    "signals_json": found.signals_json,
                    "first_seen_at": now,
                }
            )
            sightings.append(
                {
                    "item_id": item_id,
                    "source": candidate.source,
                    "url": candidate.url,
                    "origin": origin,
                    "seen_at": now,
                    "seen_key": sighting_key(candidate.source, candidate.url),
                }
            )
            cases.append(
                {
                    "id": case_id,
                    "agency_id": agency_id,
                    "item_id": item_id,
                    "status": "open",
                    "source": origin,
                    "score": found.score,
                    "reasons_json": found.reasons_json,
                    "matches_json": found.matches_json,
                    "language": found.language,
                    "title": found.title,
                    "created_at": now,
                    "top_tier": _top_tier(found.matches_json),
                }
            )
            keys.extend(
                {"agency_id": agency_id, "kind": kind, "value": value, "item_id": item_id}
                for kind, value in dict.fromkeys(_signal_keys(found.signals_json))
            )
        insert_rows(self._s, ItemRow, items)
        insert_rows(self._s, SightingRow, sightings)
        insert_rows(self._s, CaseRow, cases)
        insert_rows(self._s, ItemKeyRow, keys)
        return made

    def add_word_keys(self, agency_id: str, words: Sequence[tuple[str, Sequence[str]]]) -> None:
        """The words of new items' preserved texts (item id, keyed digests), in the search
        index at once."""
        rows = [
            {"agency_id": agency_id, "kind": "word", "value": token, "item_id": item_id}
            for item_id, tokens in words
            for token in dict.fromkeys(tokens)
        ]
        insert_rows(self._s, ItemKeyRow, rows)

    def add_item(
        self,
        *,
        agency_id: str,
        sha256: str,
        url_hash: str | None,
        url: str | None,
        media_type: str,
        signals_json: str,
    ) -> str:
        item_id = time_ordered_id()
        # A plain INSERT, not an ORM object flushed: ingest writes many (the ORM's flush
        # bookkeeping cost more than the row itself).
        self._s.execute(
            insert(ItemRow).values(
                id=item_id,
                agency_id=agency_id,
                sha256=sha256,
                url_hash=url_hash,
                url=url,
                media_type=media_type,
                signals_json=signals_json,
                first_seen_at=datetime.now(UTC),
            )
        )
        self._index_signals(agency_id, item_id, signals_json)
        return item_id

    def refresh_statistics(self) -> None:
        """After many rows written: let SQLite's planner know the tables' sizes again
        (`PRAGMA optimize` analyses only what changed much); PostgreSQL's autovacuum does it."""
        if self._s.get_bind().dialect.name == "sqlite":
            self._s.execute(text("PRAGMA optimize"))

    def add_sighting(self, item_id: str, *, source: str, url: str | None, origin: str) -> bool:
        """Record where an item was seen; False when this source and address were already
        recorded for it (a scan or an import run again adds nothing)."""
        values = {
            "item_id": item_id,
            "source": source,
            "url": url,
            "origin": origin,
            "seen_at": datetime.now(UTC),
            "seen_key": sighting_key(source, url),
        }
        postgres = self._s.get_bind().dialect.name == "postgresql"
        dialect_insert = postgresql_insert if postgres else sqlite_insert
        statement = (
            dialect_insert(SightingRow)
            .values(values)
            .on_conflict_do_nothing(index_elements=["item_id", "seen_key"])
            .returning(SightingRow.id)
        )
        return self._s.scalar(statement) is not None

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
    ) -> str:
        case_id = time_ordered_id()
        self._s.execute(
            insert(CaseRow).values(
                id=case_id,
                agency_id=agency_id,
                item_id=item_id,
                status="open",
                source=source,
                score=score,
                reasons_json=reasons_json,
                matches_json=matches_json,
                language=language,
                title=title,
                created_at=datetime.now(UTC),
                top_tier=_top_tier(matches_json),
            )
        )
        return case_id

    def reports_to_fetch(
        self, agency_id: str, now: datetime | None = None
    ) -> list[tuple[str, str, int]]:
        """(case id, address, failed tries) of public reports whose page was never fetched;
        with `now`, only those not backing off after a failure."""
        query = (
            select(CaseRow.id, ItemRow.url, ItemRow.fetch_failures)
            .join(ItemRow, ItemRow.id == CaseRow.item_id)
            .where(
                CaseRow.agency_id == agency_id,
                CaseRow.source == "public",
                ItemRow.media_type == URI_LIST,
                ItemRow.fetched_at.is_(None),
                ItemRow.url.is_not(None),
            )
            .order_by(CaseRow.created_at)
        )
        if now is not None:
            query = query.where(
                or_(ItemRow.fetch_retry_at.is_(None), ItemRow.fetch_retry_at <= now)
            )
        rows = self._s.execute(query)
        return [(case_id, str(url), failures or 0) for case_id, url, failures in rows]

    def record_fetch_failure(self, agency_id: str, case_id: str, *, retry_at: datetime) -> None:
        """Count a failed try to fetch a report's page, next tried at `retry_at`. One
        statement, no read before it: the jobs runner holds the write lock for this alone."""
        of_case = (
            select(CaseRow.item_id)
            .where(CaseRow.id == case_id, CaseRow.agency_id == agency_id)
            .scalar_subquery()
        )
        result = self._s.execute(
            update(ItemRow)
            .where(ItemRow.id == of_case)
            .values(
                fetch_failures=func.coalesce(ItemRow.fetch_failures, 0) + 1,
                fetch_retry_at=retry_at,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise NotFound("case not found")

    def record_fetch(
        self, agency_id: str, case_id: str, *, when: datetime, found: ItemFindings | None
    ) -> None:
        """Mark a report's page fetched; with `found`, the case now holds that content."""
        case = self._s.get(CaseRow, case_id)
        if case is None or case.agency_id != agency_id:
            raise NotFound("case not found")
        item = self._s.get(ItemRow, case.item_id)
        assert item is not None
        item.fetched_at = when
        if found is None:
            return
        item.sha256, item.media_type = found.sha256, found.media_type
        item.signals_json = found.signals_json
        case.score, case.reasons_json, case.matches_json = (
            found.score,
            found.reasons_json,
            found.matches_json,
        )
        case.language, case.title = found.language, found.title
        case.top_tier = _top_tier(found.matches_json)
        self._s.flush()
        self._index_signals(agency_id, item.id, found.signals_json)

    def _index_signals(self, agency_id: str, item_id: str, signals_json: str) -> None:
        """Keep the item's MD5 and PDQ band keys in the search index (replaced when the
        item's signals change: a reported page once fetched)."""
        self._s.execute(
            delete(ItemKeyRow).where(
                ItemKeyRow.item_id == item_id, ItemKeyRow.kind.in_(("md5", "pdq"))
            )
        )
        self._add_keys(agency_id, item_id, _signal_keys(signals_json))

    def _add_keys(self, agency_id: str, item_id: str, keys: list[tuple[str, str]]) -> None:
        if keys:
            self._s.execute(
                insert(ItemKeyRow),
                [
                    {"agency_id": agency_id, "kind": kind, "value": value, "item_id": item_id}
                    for kind, value in dict.fromkeys(keys)
                ],
            )

    def index_words(self, agency_id: str, case_id: str, tokens: Sequence[str]) -> None:
        """The case's preserved text, as keyed digests of its words, in the search index."""
        item_id = self._s.scalar(
            select(CaseRow.item_id).where(CaseRow.id == case_id, CaseRow.agency_id == agency_id)
        )
        if item_id is None:
            raise NotFound("case not found")
        self._s.execute(
            delete(ItemKeyRow).where(ItemKeyRow.item_id == item_id, ItemKeyRow.kind == "word")
        )
        self._add_keys(agency_id, item_id, [("word", token) for token in tokens])

    def search_keys(
        self, agency_id: str, kind: str, values: Sequence[str], *, after: str, limit: int
    ) -> list[str]:
        """Items holding every one of these keys (an MD5, word digests), in item order after
        `after`: one range of the primary key per value, however many items there are."""
        query = (
            select(ItemKeyRow.item_id)
            .where(
                ItemKeyRow.agency_id == agency_id,
                ItemKeyRow.kind == kind,
                ItemKeyRow.value.in_(list(dict.fromkeys(values))),
                ItemKeyRow.item_id > after,
            )
            .group_by(ItemKeyRow.item_id)
            .having(func.count() == len(set(values)))
            .order_by(ItemKeyRow.item_id)
            .limit(limit)
        )
        return list(self._s.scalars(query))

    def items_where(
        self, agency_id: str, *, sha256: str | None = None, url_hash: str | None = None
    ) -> list[str]:
        """Items of the agency with this SHA-256 or canonical address (a handful at most)."""
        query = select(ItemRow.id).where(ItemRow.agency_id == agency_id)
        if sha256 is not None:
            query = query.where(ItemRow.sha256 == sha256)
        if url_hash is not None:
            query = query.where(ItemRow.url_hash == url_hash)
        return list(self._s.scalars(query.order_by(ItemRow.id).limit(1000)))

    def near_items(self, agency_id: str, pdq: str, radius: int) -> list[tuple[str, int]]:
        """(item id, distance) of the agency's images whose PDQ hash is within `radius` of
        `pdq`: the band keys give the candidates, whose exact distance is then computed."""
        candidates = select(ItemKeyRow.item_id).where(
            ItemKeyRow.agency_id == agency_id,
            ItemKeyRow.kind == "pdq",
            ItemKeyRow.value.in_(pdq_probe_keys(pdq, radius)),
        )
        rows = self._s.execute(
            select(ItemRow.id, ItemRow.signals_json).where(ItemRow.id.in_(candidates.distinct()))
        )
        found = []
        for item_id, signals_json in rows:
            theirs = json.loads(signals_json).get("pdq")
            if theirs:
                distance = hamming(pdq, theirs)
                if distance <= radius:
                    found.append((item_id, distance))
        return sorted(found, key=lambda pair: (pair[1], pair[0]))

    def case_for_reference(self, agency_id: str, reference: str) -> str | None:
        """The case a public report of the agency opened or joined."""
        return self._s.scalar(
            select(PublicReportRow.case_id).where(
                PublicReportRow.reference == reference, PublicReportRow.agency_id == agency_id
            )
        )

    def cases_of_items(
        self, agency_id: str, item_ids: Sequence[str]
    ) -> list[tuple[str, CaseSummary]]:
        """(item id, case) of these items, in the order of the items given."""
        if not item_ids:
            return []
        rows = self._s.execute(
            select(CaseRow, ItemRow)
            .join(ItemRow, ItemRow.id == CaseRow.item_id)
            .where(CaseRow.agency_id == agency_id, CaseRow.item_id.in_(list(item_ids)))
        )
        by_item = {row[1].id: _summary(row[0], row[1]) for row in rows}
        return [(item, by_item[item]) for item in item_ids if item in by_item]

    def count_cases(self, agency_id: str) -> int:
        count = self._s.scalar(
            select(func.count()).select_from(CaseRow).where(CaseRow.agency_id == agency_id)
        )
        return int(count or 0)

    @staticmethod
    def _filtered(query: AnySelect, agency_id: str, filters: QueueFilters) -> AnySelect:
        query = query.where(CaseRow.agency_id == agency_id)
        if filters.status is not None:
            query = query.where(CaseRow.status == filters.status.value)
        if filters.source:
            query = query.where(CaseRow.source == filters.source)
        if filters.language:
            query = query.where(CaseRow.language == filters.language)
        if filters.assigned_to:
            query = query.where(CaseRow.assigned_to == filters.assigned_to)
        if filters.opened_from:
            query = query.where(
                CaseRow.created_at >= datetime.combine(filters.opened_from, time.min, UTC)
            )
        if filters.opened_to:
            end = datetime.combine(filters.opened_to + timedelta(days=1), time.min, UTC)
            query = query.where(CaseRow.created_at < end)
        # Matches are stored as canonical JSON (sorted keys): these patterns are exact.
        if filters.bank:
            query = query.where(
                CaseRow.matches_json.contains(json.dumps({"bank": filters.bank})[1:-1])
            )
        if filters.tier:
            # The case's most urgent tier, from an index (not a scan of every case's matches).
            query = query.where(CaseRow.top_tier == filters.tier)
        return query

    def list_cases(self, agency_id: str, filters: QueueFilters, *, limit: int) -> list[CaseSummary]:
        """The first `limit` cases of the queue, most urgent first."""
        query = select(CaseRow, ItemRow).join(ItemRow, ItemRow.id == CaseRow.item_id)
        query = self._filtered(query, agency_id, filters)
        query = query.order_by(CaseRow.score.desc(), CaseRow.created_at, CaseRow.id).limit(limit)
        return [_summary(row[0], row[1]) for row in self._s.execute(query)]

    def count_filtered(
        self,
        agency_id: str,
        filters: QueueFilters,
        sort: QueueSort = QueueSort.SCORE,
        *,
        count_rows: bool = False,
    ) -> int:
        """How many cases the filters keep (for the deadline order: those with a deadline).
        Filters on status, source, language, tier and days opened are answered by the kept
        counts (migration 0035: a sum over days, whatever the number of cases); a bank or a
        person is counted on the cases' indexes (as everything is with `count_rows`)."""
        kept = not (count_rows or filters.bank or filters.assigned_to)
        if kept and sort is not QueueSort.DEADLINE:
            return self._kept_count(agency_id, filters)
        query = self._filtered(select(func.count(CaseRow.id)), agency_id, filters)
        if sort is QueueSort.DEADLINE:
            live = self._deadlines(agency_id)
            query = query.join(live, live.c.case_id == CaseRow.id)
        return int(self._s.scalar(query) or 0)

    def _kept_count(self, agency_id: str, filters: QueueFilters) -> int:
        kept = CaseCountRow
        query = select(func.sum(kept.n)).where(kept.agency_id == agency_id)
        if filters.status is not None:
            query = query.where(kept.status == filters.status.value)
        if filters.source:
            query = query.where(kept.source == filters.source)
        if filters.language:
            query = query.where(kept.language == filters.language)
        if filters.tier:
            query = query.where(kept.tier == filters.tier)
        if filters.opened_from:
            query = query.where(kept.day >= filters.opened_from)
        if filters.opened_to:
            query = query.where(kept.day <= filters.opened_to)
        return int(self._s.scalar(query) or 0)

    def page_cases(
        self, agency_id: str, filters: QueueFilters, page: PageRequest, *, total: int | None = None
    ) -> tuple[list[CaseSummary], list[QueueKey], int]:
        """One page of the queue in the page's order, by keyset: the cases after (or before)
        a key, read through the index of that order however deep the page is. Returns the
        cases, their keys and how many filtered cases come before the first one (for a page
        read backwards, given the `total`: that less those after the page, which near the
        end of the queue are few to count)."""
        order = _Order(page.sort, self._deadlines(agency_id))
        query = order.select(self._filtered(order.base(), agency_id, filters))
        backwards = page.before is not None or page.last
        if page.after is not None:
            query = query.where(order.after(page.after))
        if page.before is not None:
            query = query.where(order.before(page.before))
        query = query.order_by(*(order.reversed() if backwards else order.columns()))
        rows = list(self._s.execute(query.limit(page.size)))
        if backwards:
            rows.reverse()
        cases = [_summary_of(row, media_type=row.media_type, url=row.url) for row in rows]
        keys = [order.key_of(row) for row in rows]
        if not keys:
            return cases, keys, 0
        counted = self._filtered(order.base(count=True), agency_id, filters)
        if backwards and total is not None:
            behind = int(self._s.scalar(counted.where(order.after(keys[-1]))) or 0)
            return cases, keys, max(0, total - behind - len(cases))
        if page.sort in (QueueSort.SCORE, QueueSort.SCORE_ASC) and _by_status_only(filters):
            return cases, keys, self._before_by_score(agency_id, filters, order, keys[0])
        before = int(self._s.scalar(counted.where(order.before(keys[0]))) or 0)
        return cases, keys, before

    def _before_by_score(
        self, agency_id: str, filters: QueueFilters, order: _Order, key: QueueKey
    ) -> int:
        """How many cases come before `key` in a score order: those of a higher score (or
        lower, read from the end) from the kept counts (migration 0036), and those of the
        same score ahead of it from the order's index (a short range)."""
        kept = CaseScoreCountRow
        ahead = kept.score > key.score if order.sort is QueueSort.SCORE else kept.score < key.score
        query = select(func.sum(kept.n)).where(kept.agency_id == agency_id, ahead)
        if filters.status is not None:
            query = query.where(kept.status == filters.status.value)
        higher = int(self._s.scalar(query) or 0)
        moment = tuple_(CaseRow.created_at, CaseRow.id)
        mark = tuple_(key.moment, key.case_id)
        same = self._filtered(select(func.count(CaseRow.id)), agency_id, filters).where(
            CaseRow.score == key.score,
            moment < mark if order.sort is QueueSort.SCORE else moment > mark,
        )
        return higher + int(self._s.scalar(same) or 0)

    def key_of(self, agency_id: str, case_id: str, sort: QueueSort) -> QueueKey | None:
        """Where a case stands in an order (None: not in it, such as a case without a
        deadline in the deadline order)."""
        order = _Order(sort, self._deadlines(agency_id))
        row = self._s.execute(
            order.select(order.base()).where(CaseRow.id == case_id, CaseRow.agency_id == agency_id)
        ).first()
        return order.key_of(row) if row is not None else None

    def _deadlines(self, agency_id: str) -> Any:
        """The soonest deadline of each case whose referral awaits removal."""
        return (
            select(ReferralRow.case_id, func.min(ReferralRow.deadline_at).label("deadline"))
            .where(
                ReferralRow.agency_id == agency_id,
                ReferralRow.deadline_at.is_not(None),
                ReferralRow.offline_at.is_(None),
                ReferralRow.removal_declared_at.is_(None),
            )
            .group_by(ReferralRow.case_id)
            .subquery()
        )

    def get_case(self, agency_id: str, case_id: str) -> CaseDetail:
        found = self._s.execute(_case_query(), {"case_id": case_id, "agency_id": agency_id}).first()
        if found is None:
            raise NotFound("case not found")
        case, item = found
        sightings = self._s.scalars(_sightings_query(), {"item_id": item.id})
        return CaseDetail(
            summary=_summary(case, item),
            sha256=item.sha256,
            signals=json.loads(item.signals_json),
            matches=json.loads(case.matches_json),
            reasons=load_explanations(case.reasons_json),
            sightings=[Sighting(s.source, s.url, s.origin, _aware(s.seen_at)) for s in sightings],
            purged=item.purged_at is not None,
        )

    def assign(
        self, agency_id: str, case_id: str, username: str | None, when: datetime
    ) -> str | None:
        """Assign the case (None: to nobody); returns who had it before."""
        row = self._s.get(CaseRow, case_id)
        if row is None or row.agency_id != agency_id:
            raise NotFound("case not found")
        before = row.assigned_to
        row.assigned_to, row.assigned_at = username, when if username else None
        return before

    def set_status(self, agency_id: str, case_id: str, status: CaseStatus) -> None:
        row = self._s.get(CaseRow, case_id)
        if row is None or row.agency_id != agency_id:
            raise NotFound("case not found")
        row.status = status.value

    def related_cases(self, agency_id: str, case_id: str) -> list[tuple[str, int | None]]:
        """Other cases of the agency on the same content (deconfliction: was it decided or
        referred before?): the same address, SHA-256, MD5 or PDQ hash (distance None), or a
        PDQ hash within the PDQ threshold (a near duplicate, with its distance)."""
        found = self._s.execute(
            select(ItemRow)
            .join(CaseRow, CaseRow.item_id == ItemRow.id)
            .where(CaseRow.id == case_id, CaseRow.agency_id == agency_id)
        ).scalar_one_or_none()
        if found is None:
            raise NotFound("case not found")
        signals = json.loads(found.signals_json)
        # One query a way of being the same (an OR of them makes PostgreSQL's planner read
        # every item of the agency): each is a range of its own index.
        mine = ItemRow.agency_id == agency_id
        same: list[ColumnElement[bool]] = [mine & (ItemRow.sha256 == found.sha256)]
        if found.url_hash:
            same.append(mine & (ItemRow.url_hash == found.url_hash))
        if "md5" in signals:
            # The items of the agency's keys, by their ids (with the items' agency as a
            # condition too, SQLite read every item of the agency to find them in the list).
            same.append(
                ItemRow.id.in_(
                    select(ItemKeyRow.item_id).where(
                        ItemKeyRow.agency_id == agency_id,
                        ItemKeyRow.kind == "md5",
                        ItemKeyRow.value == signals["md5"],
                    )
                )
            )
        # The cases' agency is checked on the rows, not in SQL: a condition on it makes
        # SQLite read every case of the agency (its index) instead of the few items found.
        others = select(CaseRow.id, CaseRow.created_at, CaseRow.agency_id).join(
            ItemRow, ItemRow.id == CaseRow.item_id
        )
        others = others.where(CaseRow.id != case_id)
        related: dict[str, tuple[datetime, int | None]] = {
            row.id: (row.created_at, None)
            for way in same
            for row in self._s.execute(others.where(way))
            if row.agency_id == agency_id
        }
        if "pdq" in signals:
            # Near duplicates through the PDQ band keys: candidates only, never every image.
            near = dict(self.near_items(agency_id, signals["pdq"], int(PDQ.default_threshold)))
            if near:
                rows = self._s.execute(
                    others.add_columns(CaseRow.item_id).where(CaseRow.item_id.in_(list(near)))
                )
                for row in rows:
                    if row.agency_id == agency_id and row.id not in related:
                        # The very same PDQ hash is the same content, as the same SHA-256.
                        related[row.id] = (row.created_at, near[row.item_id] or None)
        ordered = sorted(related.items(), key=lambda pair: (pair[1][0], pair[0]))
        return [(other, distance) for other, (_, distance) in ordered]


def _by_status_only(filters: QueueFilters) -> bool:
    return replace(filters, status=None) == QueueFilters(status=None)


class _Order:
    """One order of the queue as SQL: its columns, and the conditions "after" and "before"
    a key, written so that the index of the order gives their range."""

    def __init__(self, sort: QueueSort, deadlines: Any) -> None:
        self.sort = sort
        self._live = deadlines

    def base(self, *, count: bool = False) -> AnySelect:
        query: AnySelect
        if count:
            query = select(func.count(CaseRow.id))
        else:
            query = select(*SUMMARY_COLUMNS).join(ItemRow, ItemRow.id == CaseRow.item_id)
        if self.sort is QueueSort.DEADLINE:
            query = query.join(self._live, self._live.c.case_id == CaseRow.id)
        return query

    def select(self, query: AnySelect) -> AnySelect:
        if self.sort is QueueSort.DEADLINE:
            return query.add_columns(self._live.c.deadline)
        return query

    def columns(self) -> list[Any]:
        created, ident = CaseRow.created_at, CaseRow.id
        match self.sort:
            case QueueSort.SCORE:
                return [CaseRow.score.desc(), created, ident]
            case QueueSort.SCORE_ASC:  # the queue read from its end
                return [CaseRow.score, created.desc(), ident.desc()]
            case QueueSort.OPENED:
                return [created.desc(), ident.desc()]
            case QueueSort.OPENED_ASC:
                return [created, ident]
            case QueueSort.DEADLINE:
                return [self._live.c.deadline, ident]

    def reversed(self) -> list[Any]:
        created, ident = CaseRow.created_at, CaseRow.id
        match self.sort:
            case QueueSort.SCORE:
                return [CaseRow.score, created.desc(), ident.desc()]
            case QueueSort.SCORE_ASC:
                return [CaseRow.score.desc(), created, ident]
            case QueueSort.OPENED:
                return [created, ident]
            case QueueSort.OPENED_ASC:
                return [created.desc(), ident.desc()]
            case QueueSort.DEADLINE:
                return [self._live.c.deadline.desc(), ident.desc()]

    def after(self, key: QueueKey) -> ColumnElement[bool]:
        return self._beyond(key, forward=True)

    def before(self, key: QueueKey) -> ColumnElement[bool]:
        return self._beyond(key, forward=False)

    def _beyond(self, key: QueueKey, *, forward: bool) -> ColumnElement[bool]:
        moment = tuple_(CaseRow.created_at, CaseRow.id)
        mark = tuple_(key.moment, key.case_id)
        match self.sort:
            case QueueSort.SCORE | QueueSort.SCORE_ASC:
                # Score descending, then opened ascending (or all of it reversed): the score
                # bounds the index range, the rest sorts out the cases of the key's own score.
                if forward == (self.sort is QueueSort.SCORE):
                    return and_(
                        CaseRow.score <= key.score, or_(CaseRow.score < key.score, moment > mark)
                    )
                return and_(
                    CaseRow.score >= key.score, or_(CaseRow.score > key.score, moment < mark)
                )
            case QueueSort.OPENED:
                return moment < mark if forward else moment > mark
            case QueueSort.OPENED_ASC:
                return moment > mark if forward else moment < mark
            case QueueSort.DEADLINE:
                due = tuple_(self._live.c.deadline, CaseRow.id)
                return due > mark if forward else due < mark

    def key_of(self, row: Any) -> QueueKey:
        """The key of a row of `base()` (`SUMMARY_COLUMNS`, then the deadline if any)."""
        moment = row.deadline if self.sort is QueueSort.DEADLINE else row.created_at
        return QueueKey(self.sort, _aware(moment), row.id, row.score)
