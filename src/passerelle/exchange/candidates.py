"""Candidates: the matched items of a crawl-scale scan, as a Parquet data set.

The Spark job writes one row per matched record (`candidate_row`); `passerelle import
candidates.parquet --into-queue` reads them back (`read_candidates`) into the review queue.
Plain column types, so that any Parquet reader (Spark SQL, pyarrow, DuckDB) can query them:

    source       string   the archive and record number (`crawl.warc.gz#12`)
    url          string   the record's target URI
    crawl_date   string   the record's WARC-Date
    sha256, media_type, title, language          string
    signals      map<string,string>   signal type -> value
    matches      array<struct<bank, signal_type, value, distance, threshold, origin,
                                category, tier, tags: array<string>>>
    score        int      the priority score (orders the queue, decides nothing)
    reasons      array<string>        the reasons in English
    reasons_json string   the reasons as message ids and parameters (translated in the console)
    content      binary   the record's payload, preserved (encrypted) when imported
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from passerelle.core.errors import InvalidInput
from passerelle.core.message import message_of
from passerelle.core.ports import Candidate, ItemFindings
from passerelle.core.signals.url import URL
from passerelle.intake import Problem
from passerelle.scan import ScanResult

COLUMNS = (
    "source",
    "url",
    "crawl_date",
    "sha256",
    "media_type",
    "title",
    "language",
    "signals",
    "matches",
    "score",
    "reasons",
    "reasons_json",
    "content",
)
_SHA256 = re.compile(r"[0-9a-f]{64}")


def candidate_row(result: ScanResult) -> dict[str, Any]:
    """A matched scan result as one row of the data set (plain Python values)."""
    return {
        "source": result.source,
        "url": result.url,
        "crawl_date": result.crawl_date,
        "sha256": result.sha256,
        "media_type": result.media_type,
        "title": result.title,
        "language": result.language,
        "signals": {s.type: s.value for s in result.signals},
        "matches": [
            {
                "bank": m.bank,
                "signal_type": m.signal_type,
                "value": m.value,
                "distance": float(m.distance),
                "threshold": float(m.threshold),
                "origin": m.origin.value,
                "category": m.labels.category.value if m.labels.category else None,
                "tier": m.labels.tier.value if m.labels.tier else None,
                "tags": sorted(m.labels.tags),
            }
            for m in result.matches
        ],
        "score": result.score,
        "reasons": list(result.reasons),
        "reasons_json": json.dumps(
            [e.as_dict() for e in result.explanations], ensure_ascii=False, sort_keys=True
        ),
        "content": result.content,
    }


def candidate_of(row: dict[str, Any]) -> Candidate:
    """One row back as a queue candidate; InvalidInput names what is wrong with it."""
    sha256 = str(row.get("sha256") or "")
    if not _SHA256.fullmatch(sha256):
        raise InvalidInput(
            "sha256 is not 64 hexadecimal digits: %(sha256)s", sha256=repr(sha256[:80])
        )
    signals = dict(row.get("signals") or {})
    matches = row.get("matches") or []
    if not matches:
        raise InvalidInput("a candidate without matches")
    try:
        reasons = json.loads(row.get("reasons_json") or "[]")
        stored_matches = [
            {
                "bank": str(m["bank"]),
                "signal_type": str(m["signal_type"]),
                "value": str(m["value"]),
                "distance": _number(m["distance"]),
                "threshold": _number(m["threshold"]),
                "origin": str(m["origin"]),
                "labels": {
                    "category": m.get("category"),
                    "tier": m.get("tier"),
                    "tags": sorted(m.get("tags") or []),
                },
            }
            for m in matches
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput("matches or reasons are malformed: %(error)s", error=exc) from None
    url = row.get("url")
    url_hash = signals.get("url")
    if url and not url_hash:
        try:
            url_hash = URL.compute(url).value
        except InvalidInput:
            url_hash = None
    findings = ItemFindings(
        sha256=sha256,
        media_type=str(row.get("media_type") or "application/octet-stream"),
        signals_json=json.dumps(signals, sort_keys=True),
        score=int(row.get("score") or 0),
        reasons_json=json.dumps(reasons, ensure_ascii=False, sort_keys=True),
        matches_json=json.dumps(stored_matches, sort_keys=True),
        language=row.get("language"),
        title=row.get("title"),
    )
    content = row.get("content")
    return Candidate(
        findings=findings,
        url_hash=url_hash,
        url=url,
        source=str(row.get("source") or sha256),
        content=bytes(content) if content is not None else None,
    )


def _number(value: object) -> float | int:
    number = float(value)  # type: ignore[arg-type]
    return int(number) if number.is_integer() else number


def read_candidates(path: Path) -> Iterator[Candidate | Problem]:
    """Every row of a Parquet file or of a folder of Parquet parts; a bad row is a Problem
    naming it, and the others are still read. A file that is not such a data set stops
    with InvalidInput naming what is missing."""
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - the extra is installed in tests
        raise InvalidInput("reading Parquet needs the `spark` extra (pyarrow)") from None
    if not path.exists():
        raise InvalidInput("no such file or folder: %(path)s", path=path)
    try:
        dataset = pq.ParquetDataset(path)
        schema = dataset.schema
    except Exception as exc:  # pyarrow raises many kinds for a file that is not Parquet
        raise InvalidInput(
            "%(path)s is not a Parquet data set: %(error)s", path=path, error=exc
        ) from None
    missing = [c for c in ("sha256", "matches", "reasons_json") if c not in schema.names]
    if missing:
        raise InvalidInput(
            "%(path)s is not a candidates data set: no column %(missing)s",
            path=path,
            missing=", ".join(missing),
        )
    for fragment in dataset.fragments:
        for batch in fragment.to_batches():
            for number, row in enumerate(batch.to_pylist()):
                try:
                    yield candidate_of(row)
                except InvalidInput as exc:
                    where = row.get("source") or f"{fragment.path} row {number}"
                    yield Problem(str(where), message_of(exc), fatal=False)
