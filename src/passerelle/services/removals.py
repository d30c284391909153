"""Pruning the log of withdrawn bank entries (`bank_removals`).

The log exists for the indexes on disk that are older than a withdrawal: they read it to
tombstone the entry. Once an agency's index has been compacted at generation G (one segment,
no tombstone), every withdrawal up to G is folded into it, and the log's rows up to G are
pruned, the agency's floor raised to G in the same transaction. An index older than the floor
(in another data folder, or kept in memory by another process) can then no longer be caught
up by a delta: reading the log past the floor raises `StaleIndex`, and it is rebuilt from the
database, never left holding a withdrawn entry. The floor is read after the log rows, so a
prune committed between the two reads is seen."""

from __future__ import annotations

from pathlib import Path

from passerelle.core.index.store import UnusableIndex, read_header
from passerelle.core.ports import UnitOfWork


def prune_folded_removals(uow: UnitOfWork, *, agency_id: str, index_root: Path) -> int:
    """Prune the agency's withdrawals that its compacted index on disk has folded in, in the
    caller's transaction; how many rows went (0 when the index is missing, damaged, not
    compacted, or ahead of the database, as after a restore from a backup)."""
    try:
        header = read_header(index_root / agency_id)
        segments = header["segments"]
        generation = int(header["generation"])  # type: ignore[call-overload]
    except (UnusableIndex, KeyError, TypeError, ValueError):
        return 0
    if header.get("dead") or not isinstance(segments, list) or len(segments) != 1:
        return 0
    if generation > uow.banks.generation():
        return 0
    return uow.banks.prune_removals(agency_id, upto=generation)
