"""Decoding an HTTP body: chunked transfer encoding, then the content encodings (gzip,
deflate, brotli, zstd, stacked as the header lists them), streamed under a cap.

Decompression never produces more than the cap: each decoder is asked for a bounded amount of
output at a time, so a bomb (a few kilobytes that expand to gigabytes) is refused after at most
`limit` bytes were produced, never after decompressing it whole. Used for HTTP responses the
fetcher reads and for the HTTP records of WARC archives. A refusal is a message id with its
values apart, said in the reader's language wherever it is shown."""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Iterable, Iterator

import brotli
import zstandard

from passerelle.core.errors import InvalidInput
from passerelle.core.message import grouped

MAX_RATIO = 200
STEP = 64 * 1024  # output asked of a decoder at a time
ZSTD_MAX_WINDOW = 8 * 1024 * 1024  # what browsers accept (RFC 8878 §3.1.1.1.2)
ENCODINGS = ("gzip", "x-gzip", "deflate", "br", "zstd")


Decode = Callable[[Iterable[bytes]], Iterator[bytes]]


class BodyError(InvalidInput, ValueError):
    """The body cannot be decoded within the limits."""


class DecompressionBomb(BodyError):
    """The decoded body would exceed the cap."""


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
            raise BodyError("bad chunk size %(size)s", size=repr(size_text[:20])) from None
        if size == 0:
            return bytes(out)
        start = end + 2
        if start + size > len(data):
            raise BodyError("chunked body is truncated")
        out += data[start : start + size]
        position = start + size + 2
    return bytes(out)


def parse_encodings(header: str | None) -> list[str]:
    """The content encodings in the order they were applied; BodyError for unknown ones."""
    names = [part.strip().lower() for part in (header or "").split(",")]
    names = [name for name in names if name and name != "identity"]
    for name in names:
        if name not in ENCODINGS:
            raise BodyError("unknown content encoding %(name)s", name=repr(name))
    return names


def iter_decoded(chunks: Iterable[bytes], encodings: list[str], limit: int) -> Iterator[bytes]:
    """The decoded body, chunk by chunk; DecompressionBomb as soon as more than `limit` bytes
    come out of any decoder, BodyError when the data is not what it claims."""
    stream: Iterable[bytes] = chunks
    for name in reversed(encodings):  # the last applied is the first undone
        stream = _capped(_decoder(name)(stream), name, limit)
    return iter(stream)


def decode_body(
    raw: bytes, *, transfer_encoding: str | None, content_encoding: str | None, max_bytes: int
) -> bytes:
    """A whole archived body decoded, at most `max_bytes` and `MAX_RATIO` times its size."""
    data = raw
    if transfer_encoding and "chunked" in transfer_encoding.lower():
        data = dechunk(data)
    encodings = parse_encodings(content_encoding)
    if not encodings:
        return data
    limit = min(max_bytes, max(len(data), 1) * MAX_RATIO)
    return b"".join(iter_decoded([data], encodings, limit))


def _capped(decoded: Iterable[bytes], name: str, limit: int) -> Iterator[bytes]:
    total = 0
    for piece in decoded:
        total += len(piece)
        if total > limit:
            raise DecompressionBomb(
                "%(encoding)s body decompresses to more than %(limit)s bytes"
                " (refused as a decompression bomb)",
                encoding=name,
                limit=grouped(limit),
            )
        yield piece


def _undecodable(encoding: str, error: Exception) -> BodyError:
    """The decoder's own words (a library's, in English) are a value of the message."""
    return BodyError(
        "cannot decompress %(encoding)s: %(error)s", encoding=encoding, error=str(error)
    )


def _decoder(name: str) -> Decode:
    if name in ("gzip", "x-gzip"):
        return _gunzip
    if name == "deflate":
        return _inflate_either
    if name == "br":
        return _unbrotli
    return _unzstd


def _zlib_steps(decoder: zlib._Decompress, data: bytes) -> Iterator[bytes]:
    """Feed `data`, taking the output STEP bytes at a time."""
    while data:
        out = decoder.decompress(data, STEP)
        data = decoder.unconsumed_tail
        if out:
            yield out
        if decoder.eof:
            return


def _gunzip(chunks: Iterable[bytes]) -> Iterator[bytes]:
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        for chunk in chunks:
            data = chunk
            while data:
                yield from _zlib_steps(decoder, data)
                # A second gzip member starts after the first (concatenated gzip).
                data = decoder.unused_data if decoder.eof else b""
                if data:
                    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    except zlib.error as exc:
        raise _undecodable("gzip", exc) from None


def _inflate_either(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """`deflate` is zlib-wrapped by the standard, raw deflate from some servers: the first
    bytes tell which."""
    source = iter(chunks)
    first = b""
    for chunk in source:
        first += chunk
        if len(first) >= 2:
            break
    wrapped = len(first) >= 2 and (first[0] & 0x0F) == 8 and int.from_bytes(first[:2]) % 31 == 0
    decoder = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
    try:
        for chunk in _prepend(first, source):
            yield from _zlib_steps(decoder, chunk)
    except zlib.error as exc:
        raise _undecodable("deflate", exc) from None


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _unbrotli(chunks: Iterable[bytes]) -> Iterator[bytes]:
    decoder = brotli.Decompressor()
    try:
        for chunk in chunks:
            out = decoder.process(chunk, output_buffer_limit=STEP)
            if out:
                yield out
            while not decoder.can_accept_more_data():
                out = decoder.process(b"", output_buffer_limit=STEP)
                if not out:
                    break
                yield out
        while not decoder.is_finished():  # what the decoder still holds at the end
            out = decoder.process(b"", output_buffer_limit=STEP)
            if not out:
                break
            yield out
    except brotli.error as exc:
        raise _undecodable("brotli", exc) from None


class _ChunkFile(io.RawIOBase):
    """A file over an iterator of chunks, for decoders that pull."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: object) -> int:
        view = memoryview(buffer)  # type: ignore[arg-type]
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(view), len(self._pending))
        view[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _unzstd(chunks: Iterable[bytes]) -> Iterator[bytes]:
    decoder = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
    try:
        source = io.BufferedReader(_ChunkFile(chunks))
        with decoder.stream_reader(source, read_across_frames=True) as reader:
            while out := reader.read(STEP):
                yield out
    except zstandard.ZstdError as exc:
        raise _undecodable("zstd", exc) from None
