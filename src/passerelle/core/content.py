"""An item of content as the pipeline sees it, and the sniffing of its real media type."""

from __future__ import annotations

import re
from dataclasses import dataclass

IMAGE_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/tiff", "image/avif"}
)
# Images the image stack here cannot decode: named in a warning, never taken for a video.
UNDECODABLE_IMAGE_TYPES = frozenset({"image/heic", "image/heif"})
VIDEO_TYPES = frozenset(
    {
        "video/mp4",
        "video/quicktime",
        "video/3gpp",
        "video/3gpp2",
        "video/webm",
        "video/x-matroska",
        "video/x-msvideo",
        "video/x-flv",
        "video/mpeg",
        "video/mp2t",
    }
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
    if head[4:8] == b"ftyp":
        return _iso_media_type(head)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head.startswith(b"FLV\x01"):
        return "video/x-flv"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "video/mpeg"
    if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:
        return "video/mp2t"
    for magic, offset, media_type in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return media_type
    stripped = head.lstrip(b"\xef\xbb\xbf")
    if _HTML_START.match(stripped):
        return HTML
    if _is_text(head):
        return TEXT
    return OCTETS


# ISO base media files (MP4, QuickTime, 3GP, HEIF, AVIF) open with an `ftyp` box: its size,
# `ftyp`, a major brand, a minor version, then compatible brands, 4 bytes each.
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_HEIF_BRANDS = frozenset({b"mif1", b"mif2", b"msf1", b"miaf"})
_VIDEO_BRANDS = {b"qt  ": "video/quicktime", b"3g2": "video/3gpp2", b"3g": "video/3gpp"}
_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P "})


def _iso_media_type(head: bytes) -> str:
    """The type an `ftyp` box announces: AVIF and HEIF/HEIC images by their brands (an image
    brand as the major brand, or among the compatible ones of a generic major brand), else
    QuickTime, 3GP or MP4 video. A box too short or of an impossible size is no known type."""
    size = int.from_bytes(head[:4], "big")
    if size < 16 or (size - 16) % 4 or len(head) < 16:
        return OCTETS
    major = head[8:12]
    brands = [major, *(head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4))]
    if major in _AVIF_BRANDS or major in _HEIC_BRANDS or major in _HEIF_BRANDS:
        if _AVIF_BRANDS.intersection(brands):
            return "image/avif"
        if _HEIC_BRANDS.intersection(brands):
            return "image/heic"
        return "image/heif"
    if major in _AUDIO_BRANDS:
        return "audio/mp4"
    for prefix, media_type in _VIDEO_BRANDS.items():
        if major.startswith(prefix):
            return media_type
    if _AVIF_BRANDS.intersection(brands):
        return "image/avif"
    if _HEIC_BRANDS.intersection(brands):
        return "image/heic"
    return "video/mp4"


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
