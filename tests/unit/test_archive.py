"""WARC and ARC files of the warcio project: every good record read, every broken file
reported with a clear reason, the rest of the input unaffected."""

from __future__ import annotations

import base64
import gzip
import hashlib
from pathlib import Path

import pytest

from passerelle.core.content import Content
from passerelle.core.message import Message
from passerelle.intake import Problem
from passerelle.intake.archive import ArchiveStats, iter_archive
from passerelle.intake.httpbody import BodyError, dechunk, decode_body
from tests.shared import shared

# file: (payload URLs read, problems as (fatal, start of reason))
EXPECTED: dict[str, tuple[list[str], list[tuple[bool, str]]]] = {
    "example.warc": (["http://example.com/"], []),
    "example.warc.gz": (["http://example.com/"], []),
    "example.arc": (["http://example.com/"], []),
    "example.arc.gz": (["http://example.com/"], []),
    "example-iana.org-chunked.warc": (["http://www.iana.org/"], []),
    "example-resource.warc.gz": (["http://example.com/"], []),
    "post-test.warc.gz": (
        ["http://httpbin.org/post", "http://httpbin.org/post", "http://httpbin.org/post?foo=bar"],
        [],
    ),
    "example-digest.warc": ([], [(False, "block digest does not verify")]),
    "example-bad-non-chunked.warc.gz": (
        ["http://example.com/"],
        [(False, "gzip is not per record"), (False, "block digest does not verify")],
    ),
    "example-bad.warc.gz.bad": (
        ["http://example.com?example=1", "http://www.iana.org/domains/example"],
        [(False, "gzip is not per record")],
    ),
    "example-wrong-chunks.warc.gz": (
        ["http://example.com/"],
        [(False, "block digest does not verify")],
    ),
    "example-trunc.warc": (
        ["http://example.com/"],
        [
            (False, "block digest does not verify"),
            (False, "payload digest does not verify"),
            (True, "truncated or damaged after record 3"),
        ],
    ),
    "example-space-in-target-uri.warc.gz": (
        ["file:///example%20with%20spaces.png"],
        [(False, "invalid WARC-Target-URI")],
    ),
    "example-space-in-url.arc": (
        [
            "http://example.com/index.cfm?FuseAction=Email&EmailTitle=Examples%20From%20The%20Live%20Web&IsPopUp=False"
        ],
        [(False, "ARC record ends early"), (False, "invalid ARC URL")],
    ),
    "example-wget-bad-target-uri.warc.gz": (
        [
            "http://example.com/",
            "metadata://gnu.org/software/wget/warc/wget_arguments.txt",
            "metadata://gnu.org/software/wget/warc/wget.log",
        ],
        [(False, "invalid WARC-Target-URI")] * 3,
    ),
    "bad.arc": ([], [(True, "malformed ARC after record 0: ARC record length '-1' is not a size")]),
}


def read(name: str) -> tuple[list[Content], list[Problem], ArchiveStats]:
    stats = ArchiveStats()
    items = list(iter_archive(shared("warc", name), stats=stats))
    return (
        [i for i in items if isinstance(i, Content)],
        [i for i in items if isinstance(i, Problem)],
        stats,
    )


def test_every_file_of_the_set_is_covered() -> None:
    names = {p.name for p in shared("warc").iterdir() if p.name != "MANIFEST.md"}
    assert names == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_records_and_problems(name: str) -> None:
    contents, problems, _ = read(name)
    urls, expected_problems = EXPECTED[name]
    assert [c.url for c in contents] == urls
    assert len(problems) == len(expected_problems)
    for problem, (fatal, start) in zip(problems, expected_problems, strict=True):
        assert problem.fatal is fatal
        assert problem.reason.startswith(start), problem.reason


def test_payloads_are_decoded_and_dated() -> None:
    contents, _, stats = read("example.warc.gz")
    assert stats.records == 6 and stats.payloads == 1
    page = contents[0]
    assert page.data.startswith(b"<!doctype html>")  # gzip content encoding removed
    assert len(page.data) == 1270
    assert page.crawl_date == "2017-03-06T04:02:06Z"
    assert page.declared_type == "text/html"
    chunked, _, _ = read("example-iana.org-chunked.warc")
    assert chunked[0].data.rstrip().endswith(b"</html>")  # chunked transfer encoding removed
    arc, _, _ = read("example.arc")
    assert arc[0].data == page.data
    assert arc[0].crawl_date == "2014-02-16T05:02:21Z"


def test_a_file_that_is_not_an_archive_is_named(tmp_path: Path) -> None:
    notes = tmp_path / "notes.warc"
    notes.write_text("bonjour")
    items = list(iter_archive(notes))
    assert items == [
        Problem(str(notes), Message("not a WARC or ARC file (no WARC/ or filedesc:// header)"))
    ]
    assert list(iter_archive(tmp_path / "absent.warc")) == [
        Problem(str(tmp_path / "absent.warc"), Message("no such file"))
    ]


def test_a_gzip_that_is_not_gzip_is_named(tmp_path: Path) -> None:
    fake = tmp_path / "fake.warc.gz"
    fake.write_bytes(b"\x1f\x8b" + b"\x00" * 30)
    (problem,) = list(iter_archive(fake))
    assert problem == Problem(str(fake), Message("gzip header but no readable gzip data"))


def test_a_truncated_gzip_keeps_the_records_before_it(tmp_path: Path) -> None:
    whole = shared("warc", "example.warc").read_bytes()
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(gzip.compress(whole)[:-200])
    contents, problems, _ = [], [], None
    for item in iter_archive(cut):
        (contents if isinstance(item, Content) else problems).append(item)
    assert [c.url for c in contents] == ["http://example.com/"]
    assert problems and problems[-1].fatal


def test_http_body_decoding_limits() -> None:
    assert dechunk(b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n") == b"Wikipedia"
    with pytest.raises(BodyError, match="bad chunk size"):
        dechunk(b"zz\r\nabc")
    with pytest.raises(BodyError, match="truncated"):
        dechunk(b"10\r\nabc")
    bomb = gzip.compress(b"\x00" * 5_000_000)
    with pytest.raises(BodyError, match="decompresses to more than"):
        decode_body(bomb, transfer_encoding=None, content_encoding="gzip", max_bytes=10_000_000)
    with pytest.raises(BodyError, match="unknown content encoding"):
        decode_body(b"x", transfer_encoding=None, content_encoding="compress", max_bytes=100)
    assert (
        decode_body(
            gzip.compress(b"bonjour"),
            transfer_encoding=None,
            content_encoding="gzip",
            max_bytes=100,
        )
        == b"bonjour"
    )


def test_a_per_record_gzip_cut_in_its_last_member_is_named(tmp_path: Path) -> None:
    whole = shared("warc", "example.warc.gz").read_bytes()
    cut = tmp_path / "cut-last.warc.gz"
    cut.write_bytes(whole[:-10])
    items = list(iter_archive(cut))
    problems = [i for i in items if isinstance(i, Problem)]
    assert [c.url for c in items if isinstance(c, Content)] == ["http://example.com/"]
    assert problems[-1].fatal
    assert problems[-1].reason.startswith("truncated or damaged")


def _response(body: bytes, *, block_digest: bool, payload_digest: bytes) -> bytes:
    """One WARC response record of `body`, its block digest right (or absent), its payload
    digest the SHA-1 of `payload_digest`."""
    block = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body

    def sha1(data: bytes) -> str:
        return (
            "sha1:" + base64.b32encode(hashlib.sha1(data, usedforsecurity=False).digest()).decode()
        )

    headers = [
        ("WARC-Type", "response"),
        ("WARC-Target-URI", "https://exemple.test/"),
        ("WARC-Date", "2026-12-02T00:00:00Z"),
        ("WARC-Record-ID", "<urn:uuid:00000000-0000-0000-0000-000000000001>"),
        ("Content-Type", "application/http; msgtype=response"),
        ("WARC-Payload-Digest", sha1(payload_digest)),
    ]
    if block_digest:
        headers.append(("WARC-Block-Digest", sha1(block)))
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return (
        b"WARC/1.0\r\n"
        + head.encode()
        + f"Content-Length: {len(block)}\r\n\r\n".encode()
        + block
        + b"\r\n\r\n"
    )


def test_the_payload_digest_is_checked_where_no_block_digest_verifies(tmp_path: Path) -> None:
    body = b"bonjour tout le monde"
    cases = {
        # The block verifies: its bytes are the ones written, payload included.
        "block-ok.warc": (_response(body, block_digest=True, payload_digest=b"other"), []),
        # No block digest: the payload digest is what shows damage.
        "no-block.warc": (
            _response(body, block_digest=False, payload_digest=b"other"),
            ["payload digest does not verify"],
        ),
        "both-ok.warc": (_response(body, block_digest=True, payload_digest=body), []),
        "no-block-ok.warc": (_response(body, block_digest=False, payload_digest=body), []),
    }
    for name, (record, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(record)
        items = list(iter_archive(path))
        assert [i.data for i in items if isinstance(i, Content)] == [body], name
        reasons = [i.reason for i in items if isinstance(i, Problem)]
        assert [r.split(" (")[0] for r in reasons] == expected, name
