"""Decoding an HTTP body as archived: chunked transfer encoding, then gzip, deflate or brotli
content encoding, with caps on the decoded size and the decompression ratio."""

from __future__ import annotations

import zlib

import brotli

MAX_RATIO = 200


class BodyError(ValueError):
    """The body cannot be decoded within the limits."""


def dechunk(data: bytes) -> bytes:
    out = bytearray()
    position = 0
    while position < len(data):
        end = data.find(b"\r\n", position)
        if end < 0:
            raise BodyError("chunked body ends inside a chunk size line")
        size_text = data[position:end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BodyError(f"bad chunk size {size_text[:20]!r}") from None
        if size == 0:
            return bytes(out)
        start = end + 2
        if start + size > len(data):
            raise BodyError("chunked body is truncated")
        out += data[start : start + size]
        position = start + size + 2
    return bytes(out)


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    decoder = zlib.decompressobj(wbits)
    try:
        out = decoder.decompress(data, limit + 1)
    except zlib.error as exc:
        raise BodyError(f"cannot decompress: {exc}") from None
    if len(out) > limit:
        raise BodyError(f"decompressed body exceeds {limit:,} bytes")
    return out


def decode_body(
    raw: bytes, *, transfer_encoding: str | None, content_encoding: str | None, max_bytes: int
) -> bytes:
    data = raw
    if transfer_encoding and "chunked" in transfer_encoding.lower():
        data = dechunk(data)
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return data
    limit = min(max_bytes, max(len(data), 1) * MAX_RATIO)
    if encoding in ("gzip", "x-gzip"):
        return _inflate(data, 16 + zlib.MAX_WBITS, limit)
    if encoding == "deflate":
        try:
            return _inflate(data, zlib.MAX_WBITS, limit)
        except BodyError:
            return _inflate(data, -zlib.MAX_WBITS, limit)  # raw deflate, as some servers send
    if encoding == "br":
        try:
            decoder = brotli.Decompressor()
            out = decoder.process(data)
        except brotli.error as exc:
            raise BodyError(f"cannot decompress brotli: {exc}") from None
        if len(out) > limit:
            raise BodyError(f"decompressed body exceeds {limit:,} bytes")
        return bytes(out)
    raise BodyError(f"unknown content encoding {content_encoding!r}")
