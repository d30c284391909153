"""Search across the cases of the viewer's agency from the console's one box: a hash (and the
near duplicates of a PDQ hash), an address, a public report's reference, or words of a
preserved text. Every look-up goes through an index; results come a page at a time."""

from __future__ import annotations

from dataclasses import dataclass, field

from passerelle.core.case import CaseSummary
from passerelle.core.identity import User
from passerelle.core.ports import ContentStore, UnitOfWork
from passerelle.core.search import SearchKind, SearchQuery, distinct_words, parse_search
from passerelle.core.signals.pdq import PDQ
from passerelle.core.signals.url import URL
from passerelle.scan import compared_text
from passerelle.services.queue import require_reader

PAGE = 25
MAX_NEAR = 1000  # near duplicates of one hash shown at most


@dataclass(frozen=True, slots=True)
class SearchResults:
    query: SearchQuery
    cases: list[CaseSummary]
    distances: dict[str, int] = field(default_factory=dict)  # case id → PDQ distance
    next_after: str | None = None  # the link to the next page carries it
    first: int = 1  # position of the first result, from 1


def search_cases(
    uow: UnitOfWork,
    store: ContentStore,
    *,
    viewer: User,
    text: str,
    after: str = "",
    first: int = 1,
) -> SearchResults:
    """A page of the agency's cases that the box's text finds, after the item `after`."""
    require_reader(viewer)
    query = parse_search(text)
    agency = viewer.agency_id
    if query.kind is SearchKind.MD5:
        return _keyed(uow, query, agency, "md5", [query.value], after, first)
    if query.kind is SearchKind.WORDS:
        tokens = store.blind_words(list(query.words))
        return _keyed(uow, query, agency, "word", tokens, after, first)
    ranked: list[tuple[str, int | None]]
    if query.kind is SearchKind.REFERENCE:
        case_id = uow.queue.case_for_reference(agency, query.value)
        found = [uow.queue.get_case(agency, case_id).summary] if case_id else []
        return SearchResults(query, found)
    if query.kind is SearchKind.URL:
        url_hash = URL.compute(query.value).value
        ranked = [(item, None) for item in uow.queue.items_where(agency, url_hash=url_hash)]
    else:
        # 64 hex digits: a SHA-256, or a PDQ hash whose near duplicates are wanted.
        exact = uow.queue.items_where(agency, sha256=query.value)
        near = uow.queue.near_items(agency, query.value, int(PDQ.default_threshold))
        ranked = [(item, None) for item in exact]
        ranked += [(item, d) for item, d in near[:MAX_NEAR] if item not in exact]
    # These lists are short (one address, one hash and its near copies): paged in memory.
    start = next((i + 1 for i, (item, _) in enumerate(ranked) if item == after), 0)
    shown = ranked[start : start + PAGE]
    distance = {item: d for item, d in shown if d is not None}
    found_cases = uow.queue.cases_of_items(agency, [item for item, _ in shown])
    return SearchResults(
        query,
        [case for _, case in found_cases],
        distances={case.id: distance[item] for item, case in found_cases if item in distance},
        next_after=shown[-1][0] if start + PAGE < len(ranked) else None,
        first=start + 1,
    )


def _keyed(
    uow: UnitOfWork,
    query: SearchQuery,
    agency: str,
    kind: str,
    values: list[str],
    after: str,
    first: int,
) -> SearchResults:
    items = uow.queue.search_keys(agency, kind, values, after=after, limit=PAGE + 1)
    more = len(items) > PAGE
    items = items[:PAGE]
    return SearchResults(
        query,
        [case for _, case in uow.queue.cases_of_items(agency, items)],
        next_after=items[-1] if more else None,
        first=max(first, 1),
    )


def index_preserved_text(
    uow: UnitOfWork, store: ContentStore, *, agency_id: str, case_id: str, data: bytes
) -> None:
    """Put the words of a preserved page or text in the search index (as keyed digests);
    images and videos have none."""
    text = compared_text(data)
    if text:
        uow.queue.index_words(agency_id, case_id, store.blind_words(distinct_words(text)))
