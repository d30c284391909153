"""Where content comes from: local files and folders, WARC and ARC archives, URLs (through
`passerelle.fetch`). Each source yields `Content` or a `Problem` naming what went wrong; a
problem never stops the other sources."""

from __future__ import annotations

from dataclasses import dataclass

from passerelle.core.message import Message


@dataclass(frozen=True, slots=True)
class Problem:
    """Something unreadable: a file, an archive, a record. `fatal` means nothing more was read
    from that source after it. `message` says why, in the reader's language when shown;
    `reason` is its English words (for lines meant for programs, and Spark's output)."""

    source: str
    message: Message
    fatal: bool = True

    @property
    def reason(self) -> str:
        return self.message.english()
