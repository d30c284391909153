"""Where content comes from: local files and folders, WARC and ARC archives, URLs (through
`passerelle.fetch`). Each source yields `Content` or a `Problem` naming what went wrong; a
problem never stops the other sources."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """Something unreadable: a file, an archive, a record. `fatal` means nothing more was read
    from that source after it."""

    source: str
    reason: str
    fatal: bool = True
