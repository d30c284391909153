"""An item of content as the pipeline sees it, and the sniffing of its real media type."""

from __future__ import annotations

import re
from dataclasses import dataclass

IMAGE_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/tiff"}
)
HTML = "text/html"
TEXT = "text/plain"
URI_LIST = "text/uri-list"  # an item that is only an address (a public report not yet fetched)
OCTETS = "application/octet-stream"

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"BM", 0, "image/bmp"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"%PDF-", 0, "application/pdf"),
    (b"PK\x03\x04", 0, "application/zip"),
    (b"\x1f\x8b", 0, "application/gzip"),
    (b"\x00\x00\x00", 0, OCTETS),
)
_HTML_START = re.compile(
    rb"^\s*(<!doctype\s+html|<html|<head|<body|<meta|<title|<div|<p[\s>]|<!--)", re.IGNORECASE
)


def sniff_media_type(data: bytes) -> str:
    """The media type the bytes really have; the declared type is never trusted."""
    head = data[:512]
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:12] in (b"ftypisom", b"ftypmp42", b"ftypMSNV") or head[4:8] == b"ftyp":
        return "video/mp4"
    for magic, offset, media_type in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return media_type
    stripped = head.lstrip(b"\xef\xbb\xbf")
    if _HTML_START.match(stripped):
        return HTML
    if _is_text(head):
        return TEXT
    return OCTETS


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the 512th byte is still text.
        if exc.start < len(head) - 4:
            try:
                head.decode("cp1252")
            except UnicodeDecodeError:
                return False
    return True


def decode_text(data: bytes) -> str:
    """Bytes of a text or HTML document as text: UTF-8, else Windows-1252 (never fails)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


@dataclass(frozen=True, slots=True)
class Content:
    """One item to scan: its bytes and where they came from. `url` is the address the bytes
    were served at (when known), `crawl_date` the capture time of a WARC record."""

    source: str
    data: bytes
    url: str | None = None
    declared_type: str | None = None
    crawl_date: str | None = None
    origin: str = "file"
