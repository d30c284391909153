"""Decompression bombs and oversized lines in WARC and ARC archives: refused by name while
decoding stays under the cap (memory measured with tracemalloc, as a bound far below what
decoding the bomb whole would take), and the records after them still read."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import brotli
import pytest
import zstandard

from passerelle.core.content import Content
from passerelle.intake import Problem
from passerelle.intake.archive import iter_archive
from passerelle.intake.files import read_file
from passerelle.intake.httpbody import MAX_RATIO, DecompressionBomb, decode_body, iter_decoded
from passerelle.web.i18n import load_catalog

ZEROS = b"\x00" * 8_000_000  # 8 MB: far above the peaks asserted below
COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": lambda data: zlib.compress(data, 9),
    "br": lambda data: brotli.compress(data, quality=5),
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}
PAGE = b"<html><body>bonjour</body></html>"


def warc_record(uri: str, http: bytes) -> bytes:
    head = (
        "WARC/1.0\r\nWARC-Type: response\r\n"
        f"WARC-Record-ID: <urn:uuid:{abs(hash(uri)):032x}>\r\n"
        "WARC-Date: 2026-01-01T00:00:00Z\r\n"
        f"WARC-Target-URI: {uri}\r\n"
        "Content-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {len(http)}\r\n\r\n"
    ).encode()
    return head + http + b"\r\n\r\n"


def http_response(body: bytes, encoding: str | None) -> bytes:
    lines = ["HTTP/1.1 200 OK", "Content-Type: text/html", f"Content-Length: {len(body)}"]
    if encoding:
        lines.append(f"Content-Encoding: {encoding}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def peak_of(work: Callable[[], object]) -> tuple[object, int]:
    tracemalloc.start()
    try:
        result = work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.mark.parametrize("codec", sorted(COMPRESS))
def test_a_bomb_in_a_warc_record_is_refused_and_the_next_record_read(
    tmp_path: Path, codec: str
) -> None:
    bomb = COMPRESS[codec](ZEROS)
    archive = tmp_path / f"bomb-{codec}.warc"
    archive.write_bytes(
        warc_record("http://exemple.test/bomb", http_response(bomb, codec))
        + warc_record("http://exemple.test/page", http_response(PAGE, None))
    )
    items, peak = peak_of(lambda: list(iter_archive(archive, max_record_bytes=1_000_000)))
    assert isinstance(items, list)
    problems = [i for i in items if isinstance(i, Problem)]
    assert [p.source for p in problems] == [f"{archive}#1"]
    assert problems[0].reason.startswith(f"body not decodable: {codec} body decompresses to")
    assert problems[0].reason.endswith("bytes (refused as a decompression bomb)")
    assert not problems[0].fatal
    assert [c.url for c in items if isinstance(c, Content)] == ["http://exemple.test/page"]
    assert peak < 3_000_000  # decoding the record whole would take 8 MB


def test_a_bomb_in_a_warc_record_is_named_in_french_and_in_english(tmp_path: Path) -> None:
    bomb = COMPRESS["br"](ZEROS)
    archive = tmp_path / "bomb.warc"
    archive.write_bytes(warc_record("http://exemple.test/br", http_response(bomb, "br")))
    limit = min(1_000_000, len(bomb) * MAX_RATIO)
    assert limit >= 1000  # grouped in thousands
    (problem,) = [i for i in iter_archive(archive, max_record_bytes=1_000_000)]
    assert isinstance(problem, Problem)
    assert problem.message.render(load_catalog("fr").gettext) == (
        "corps impossible à décoder\u00a0: le corps br se décompresse en plus de"
        f" {limit:,} octets (refusé comme bombe de décompression)".replace(",", "\u202f")
    )
    assert problem.message.render(load_catalog("en").gettext) == (
        f"body not decodable: br body decompresses to more than {limit:,} bytes"
        " (refused as a decompression bomb)"
    )


@pytest.mark.parametrize("codec", sorted(COMPRESS))
def test_each_codec_decodes_within_the_cap_and_stops_past_it(codec: str) -> None:
    packed = COMPRESS[codec](ZEROS)
    assert b"".join(iter_decoded([packed], [codec], 10**8)) == ZEROS
    produced = 0
    with pytest.raises(DecompressionBomb, match=f"{codec} body decompresses to more than 100,000"):
        for piece in iter_decoded([packed], [codec], 100_000):
            produced += len(piece)
    assert produced <= 100_000  # nothing past the cap was handed on


def test_stacked_encodings_are_undone_in_reverse_order() -> None:
    packed = gzip.compress(brotli.compress(PAGE))
    assert decode_body(
        packed, transfer_encoding=None, content_encoding="br, gzip", max_bytes=999
    ) == (PAGE)


def test_an_arc_header_line_of_megabytes_is_refused_without_reading_it_whole(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "long-line.arc"
    version = b"filedesc://long-line.arc 0.0.0.0 20260101000000 text/plain 3\nabc\n"
    archive.write_bytes(version + b"http://exemple.test/" + b"a" * 8_000_000 + b"\n")
    items, peak = peak_of(lambda: list(iter_archive(archive)))
    assert [(p.source, p.reason, p.fatal) for p in items if isinstance(p, Problem)] == [
        (
            str(archive),
            "malformed ARC after record 1: ARC record header line longer than 65,536 bytes",
            True,
        )
    ]
    (problem,) = [p for p in items if isinstance(p, Problem)]
    assert problem.message.render(load_catalog("fr").gettext) == (
        "ARC mal formé après l’enregistrement 1\u00a0: ligne d’en-tête d’enregistrement ARC de"
        " plus de 65\u202f536 octets"
    )
    assert len(items) == 1
    assert peak < 3_000_000


def test_a_gzip_member_of_high_ratio_is_checked_in_bounded_steps(tmp_path: Path) -> None:
    # One record whose block is 30 MB of zeros: skipped as too large, and the pass that checks
    # the gzip members are complete must not inflate it whole either.
    record = warc_record("http://exemple.test/zeros", b"\x00" * 30_000_000)
    archive = tmp_path / "zeros.warc.gz"
    archive.write_bytes(gzip.compress(record))
    items, peak = peak_of(lambda: list(iter_archive(archive, max_record_bytes=1_000_000)))
    assert [(p.source, p.reason, p.fatal) for p in items if isinstance(p, Problem)] == [
        (f"{archive}#1", "record too large: 30,000,000 bytes", False)
    ]
    (problem,) = [p for p in items if isinstance(p, Problem)]
    french = problem.message.render(load_catalog("fr").gettext)
    assert french == "enregistrement trop volumineux\u00a0: 30\u202f000\u202f000 octets"
    assert len(items) == 1
    assert peak < 8_000_000


def test_a_file_over_the_limit_is_named_with_its_size_in_french(tmp_path: Path) -> None:
    big = tmp_path / "gros.bin"
    big.write_bytes(b"\x00" * 12_345)
    problem = read_file(big, max_bytes=1_000)
    assert isinstance(problem, Problem)
    assert problem.reason == "file too large: 12,345 bytes (limit 1,000)"
    assert problem.message.render(load_catalog("fr").gettext) == (
        "fichier trop volumineux\u00a0: 12\u202f345 octets (limite 1\u202f000)"
    )
