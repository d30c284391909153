"""WARC (fastwarc) and ARC (a small reader of our own: fastwarc reads no ARC) archives.

Every `response` and `resource` record with a payload becomes a `Content`. Each archive is
checked as it is read, and what is wrong is said without stopping the scan:

- a truncated or damaged archive: the records before the damage are kept, then one fatal
  problem names the record number where reading stopped;
- gzip not per record (a WARC.gz compressed as one stream, or with wrong member boundaries);
- a block digest that does not verify, or a payload digest when there is no block digest
  that verifies (the block holds the payload: one SHA-1 pass per record, not two);
- an invalid WARC-Target-URI (spaces, wget's angle brackets): repaired when possible;
- an ARC record header that is malformed (bad length, missing fields)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from fastwarc import ArchiveIterator, WarcRecord, WarcRecordType

from passerelle.core.content import Content
from passerelle.core.errors import InvalidInput
from passerelle.core.message import Message, grouped, message_of
from passerelle.intake import Problem
from passerelle.intake.httpbody import BodyError, decode_body

PAYLOAD_TYPES = WarcRecordType.response | WarcRecordType.resource
DEFAULT_MAX_RECORD_BYTES = 100 * 1024 * 1024
MAX_ARC_HEADER = 64 * 1024  # one ARC record header line, URL included
_ARC_DATE = re.compile(r"^\d{14}$")


@dataclass
class ArchiveStats:
    records: int = 0
    payloads: int = 0
    skipped: int = 0


class NotAnArchive(ValueError):
    """The file is not a WARC or ARC archive; `message` says what it looks like instead."""

    def __init__(self, message: Message) -> None:
        super().__init__(message.english())
        self.message = message


def sniff_archive(path: Path) -> str:
    """`warc`, `arc`, or raise ValueError naming what the file looks like instead."""
    with path.open("rb") as handle:
        start = handle.read(4096)
    head = start[:64]
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(start, 64)
        except zlib.error:
            raise NotAnArchive(Message("gzip header but no readable gzip data")) from None
    if head.startswith(b"WARC/"):
        return "warc"
    if head.startswith(b"filedesc://"):
        return "arc"
    raise NotAnArchive(Message("not a WARC or ARC file (no WARC/ or filedesc:// header)"))


def is_archive(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in (".warc", ".warc.gz", ".arc", ".arc.gz", ".warc.gz.bad"))


def iter_archive(
    path: Path,
    *,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    stats: ArchiveStats | None = None,
) -> Iterator[Content | Problem]:
    counters = stats or ArchiveStats()
    try:
        kind = sniff_archive(path)
    except FileNotFoundError:
        yield Problem(str(path), Message("no such file"))
        return
    except NotAnArchive as exc:
        yield Problem(str(path), exc.message)
        return
    except OSError as exc:
        yield Problem(
            str(path), Message("cannot read: %(error)s", {"error": str(exc.strerror or exc)})
        )
        return
    reader = _iter_warc if kind == "warc" else _iter_arc
    yield from reader(path, max_record_bytes, counters)


def repair_target_uri(raw: str, field: str = "WARC-Target-URI") -> tuple[str, Message | None]:
    """The usable URI and, if it had to be repaired, why (`field` names where it was read)."""
    uri = raw.strip()
    values = {"field": field, "uri": repr(raw)}
    if uri.startswith("<") and uri.endswith(">"):
        return uri[1:-1], Message("invalid %(field)s %(uri)s (angle brackets removed)", values)
    if " " in uri:
        return uri.replace(" ", "%20"), Message(
            "invalid %(field)s %(uri)s (spaces encoded)", values
        )
    return uri, None


def _digest_matches(header: str, data: bytes) -> bool | None:
    algorithm, _, expected = header.partition(":")
    if algorithm.lower() != "sha1" or not expected:
        return None
    digest = hashlib.sha1(data, usedforsecurity=False).digest()
    candidates = {base64.b32encode(digest).decode(), digest.hex()}
    return expected.strip().upper() in {c.upper() for c in candidates}


def _iter_warc(path: Path, max_bytes: int, stats: ArchiveStats) -> Iterator[Content | Problem]:
    source = str(path)
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    per_record_gzip = True
    last_position = 0
    # `members` reads the first bytes of each record (is it a gzip member of its own?): one
    # unbuffered handle for the whole file rather than one opened per record.
    with path.open("rb") as handle, path.open("rb", buffering=0) as members:
        try:
            for record in ArchiveIterator(handle, parse_http=False):
                stats.records += 1
                last_position = record.stream_pos
                name = f"{source}#{stats.records}"
                if gzipped and per_record_gzip and not _starts_gzip_member(members, last_position):
                    per_record_gzip = False
                    yield Problem(source, _NOT_PER_RECORD, fatal=False)
                if not record.record_type & PAYLOAD_TYPES:
                    stats.skipped += 1
                    if (
                        record.headers.get("WARC-Block-Digest")
                        and record.content_length <= max_bytes
                    ):
                        record.freeze()
                        if not record.verify_block_digest(consume=True):
                            yield Problem(name, _BAD_BLOCK, fatal=False)
                    continue
                if record.content_length > max_bytes:
                    stats.skipped += 1
                    yield Problem(
                        name,
                        Message(
                            "record too large: %(size)s bytes",
                            {"size": grouped(record.content_length)},
                        ),
                        False,
                    )
                    continue
                yield from _warc_payload(record, name, max_bytes, stats)
        except (OSError, ValueError) as exc:
            yield Problem(
                source,
                Message(
                    "truncated or damaged after record %(record)s: %(error)s;"
                    " the records before it were read",
                    {"record": stats.records, "error": str(exc)},
                ),
            )
            return
    # With one gzip member per record only the last member can be cut: check from there.
    if gzipped and not gzip_is_complete(path, start=last_position if per_record_gzip else 0):
        yield Problem(
            source,
            Message(
                "truncated or damaged gzip stream after record %(record)s;"
                " the records before it were read",
                {"record": stats.records},
            ),
        )


def gzip_is_complete(path: Path, *, start: int = 0, chunk_size: int = 1 << 20) -> bool:
    """Whether every gzip member of the file ends properly (one extra decompression pass: the
    reader stops quietly at a cut gzip stream, so this is how a cut is noticed). The output is
    dropped as it comes, at most `chunk_size` bytes at a time, whatever the ratio."""
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    inside_member = False
    with path.open("rb") as handle:
        handle.seek(start)
        while chunk := handle.read(chunk_size):
            while chunk:
                inside_member = True
                try:
                    data = chunk
                    while data and not decoder.eof:
                        decoder.decompress(data, chunk_size)
                        data = decoder.unconsumed_tail
                except zlib.error:
                    return False
                if not decoder.eof:
                    break
                chunk = decoder.unused_data
                decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
                inside_member = False
    return not inside_member


_BAD_BLOCK = Message("block digest does not verify (the record may be damaged)")
_NOT_PER_RECORD = Message(
    "gzip is not per record: the records are readable, but the file is not a valid WARC.gz"
    " (each record must be its own gzip member)"
)


def _warc_payload(
    record: WarcRecord, name: str, max_bytes: int, stats: ArchiveStats
) -> Iterator[Content | Problem]:
    record.freeze()
    block_verified = False
    if record.headers.get("WARC-Block-Digest"):
        block_verified = record.verify_block_digest(consume=False)
        if not block_verified:
            yield Problem(name, _BAD_BLOCK, False)
    is_response = record.record_type == WarcRecordType.response
    if is_response:
        record.parse_http(auto_decode="none")
    # A resource record's payload is its block, already checked above. A response's payload
    # is part of its block: once the block verifies, the payload holds the very bytes that
    # were written, and a second SHA-1 over them could show no damage (only a writer that
    # hashed it otherwise, WARC 1.1 taking it without its transfer encoding).
    if (
        is_response
        and not block_verified
        and record.headers.get("WARC-Payload-Digest")
        and not record.verify_payload_digest(consume=False)
    ):
        yield Problem(
            name, Message("payload digest does not verify (the record may be damaged)"), False
        )
    raw = record.reader.read()
    http = record.http_headers if is_response else None
    declared = record.http_content_type if http is not None else record.headers.get("Content-Type")
    try:
        body = decode_body(
            raw,
            transfer_encoding=http.get("Transfer-Encoding") if http is not None else None,
            content_encoding=http.get("Content-Encoding") if http is not None else None,
            max_bytes=max_bytes,
        )
    except BodyError as exc:
        stats.skipped += 1
        refused = Message("body not decodable: %(error)s", {"error": message_of(exc)})
        yield Problem(name, refused, False)
        return
    uri, repaired = repair_target_uri(record.headers.get("WARC-Target-URI") or "")
    if repaired:
        yield Problem(name, repaired, fatal=False)
    if not body:
        stats.skipped += 1
        return
    stats.payloads += 1
    yield Content(
        source=name,
        data=body,
        url=uri or None,
        declared_type=declared,
        crawl_date=record.headers.get("WARC-Date"),
        origin="crawl",
    )


def _starts_gzip_member(handle: BinaryIO, offset: int) -> bool:
    handle.seek(offset)
    return handle.read(2) == b"\x1f\x8b"


def _open_arc(path: Path) -> BinaryIO:
    handle = path.open("rb")
    if handle.read(2) == b"\x1f\x8b":
        handle.close()
        return gzip.open(path, "rb")  # type: ignore[return-value]
    handle.seek(0)
    return handle


def _parse_arc_header(line: bytes) -> tuple[str, str, int]:
    """URL, date and length of an ARC v1 record header `URL IP DATE TYPE LENGTH`. The URL may
    contain spaces (seen in the wild), so fields are taken from the right."""
    text = line.decode("latin-1").rstrip("\r\n")
    parts = text.rsplit(" ", 4)
    if len(parts) != 5:
        raise InvalidInput(
            "ARC header needs 5 fields, got %(count)s: %(line)s",
            count=len(parts),
            line=repr(text[:120]),
        )
    url, _ip, date, _type, length = parts
    if not length.isdigit():
        raise InvalidInput(
            "ARC record length %(length)s is not a size: %(line)s",
            length=repr(length),
            line=repr(text[:120]),
        )
    if not _ARC_DATE.match(date):
        raise InvalidInput("ARC record date %(date)s is not YYYYMMDDhhmmss", date=repr(date))
    return url, date, int(length)


def _split_http(block: bytes) -> tuple[bytes, str | None]:
    """The body of an HTTP response block and its declared content type."""
    if not block.startswith(b"HTTP/"):
        return block, None
    head, _, body = block.partition(b"\r\n\r\n")
    if not _:
        head, _, body = block.partition(b"\n\n")
    declared = None
    for line in head.split(b"\n")[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-type":
            declared = value.strip()
    return body, declared


def _iter_arc(path: Path, max_bytes: int, stats: ArchiveStats) -> Iterator[Content | Problem]:
    source = str(path)
    try:
        with _open_arc(path) as handle:
            first = True
            while True:
                line = handle.readline(MAX_ARC_HEADER + 1)
                if not line:
                    return
                if len(line) > MAX_ARC_HEADER:
                    raise InvalidInput(
                        "ARC record header line longer than %(limit)s bytes",
                        limit=grouped(MAX_ARC_HEADER),
                    )
                if not line.strip():
                    continue
                url, date, length = _parse_arc_header(line)
                if length > max_bytes:
                    raise InvalidInput("ARC record too large: %(size)s bytes", size=grouped(length))
                block = handle.read(length)
                stats.records += 1
                if len(block) < length:
                    if handle.read(1):
                        raise InvalidInput(
                            "ARC record %(record)s shorter than declared", record=stats.records
                        )
                    yield Problem(
                        f"{source}#{stats.records}",
                        Message(
                            "ARC record ends early (%(read)s of %(length)s declared bytes):"
                            " read as far as it goes",
                            {"read": len(block), "length": length},
                        ),
                        fatal=False,
                    )
                if first:
                    first = False  # the filedesc:// version block
                    stats.skipped += 1
                    continue
                body, declared = _split_http(block)
                uri, repaired = repair_target_uri(url, "ARC URL")
                if repaired:
                    yield Problem(f"{source}#{stats.records}", repaired, fatal=False)
                if not body:
                    stats.skipped += 1
                    continue
                stats.payloads += 1
                iso = (
                    f"{date[:4]}-{date[4:6]}-{date[6:8]}T{date[8:10]}:{date[10:12]}:{date[12:14]}Z"
                )
                yield Content(
                    source=f"{source}#{stats.records}",
                    data=body,
                    url=uri,
                    declared_type=declared,
                    crawl_date=iso,
                    origin="crawl",
                )
    except (OSError, EOFError, ValueError, zlib.error, InvalidInput) as exc:
        # What the reader found is a message; a library's own words are a value.
        found = message_of(exc) if isinstance(exc, InvalidInput) else str(exc)
        yield Problem(
            source,
            Message(
                "malformed ARC after record %(record)s: %(error)s",
                {"record": stats.records, "error": found},
            ),
        )
