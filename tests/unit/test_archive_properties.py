"""The WARC and ARC readers over generated and damaged input: any bytes give records or
named problems (a bad record counted, the rest read), never an exception."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passerelle.core.content import Content
from passerelle.intake import Problem
from passerelle.intake.archive import ArchiveStats, iter_archive
from tests.shared import shared

SAMPLES = [
    shared("warc", name).read_bytes()
    for name in ("example.warc", "example.arc", "example-digest.warc", "example.warc.gz")
]
MAX_RECORD = 64 * 1024


def _warc_record(headers: list[tuple[str, str]], body: bytes, declared: int | None) -> bytes:
    length = len(body) if declared is None else declared
    head = "".join(f"{k}: {v}\r\n" for k, v in headers)
    return (
        b"WARC/1.0\r\n"
        + head.encode("utf-8", "surrogatepass")
        + f"Content-Length: {length}\r\n\r\n".encode()
        + body
        + b"\r\n\r\n"
    )


HEADER = st.tuples(
    st.sampled_from(
        ["WARC-Type", "WARC-Target-URI", "Content-Type", "WARC-Block-Digest", "WARC-Date", "X"]
    ),
    st.sampled_from(
        [
            "response",
            "resource",
            "request",
            "<https://e.test/>",
            "https://e.test/a b",
            "application/http; msgtype=response",
            "sha1:AAAA",
            "2026-01-01T00:00:00Z",
            "",
        ]
    ),
)
HTTP_BODY = st.one_of(
    st.binary(max_size=300),
    st.builds(
        lambda status, headers, body: f"HTTP/1.1 {status}\r\n{headers}\r\n".encode() + body,
        st.sampled_from(["200 OK", "404 Not Found", "abc"]),
        st.sampled_from(
            [
                "",
                "Content-Encoding: gzip\r\n",
                "Transfer-Encoding: chunked\r\n",
                "Content-Encoding: br\r\n",
                "Content-Type: text/html\r\n",
            ]
        ),
        st.binary(max_size=200),
    ),
)
WARC = st.builds(
    lambda records: b"".join(records),
    st.lists(
        st.builds(
            _warc_record,
            st.lists(HEADER, max_size=5),
            HTTP_BODY,
            st.one_of(st.none(), st.integers(min_value=0, max_value=100_000)),
        ),
        min_size=1,
        max_size=4,
    ),
)
ARC = st.builds(
    lambda lines: b"filedesc://x.arc 0.0.0.0 20260101000000 text/plain 0\n\n" + b"".join(lines),
    st.lists(
        st.builds(
            lambda url, date, length, body: (
                f"{url} 1.2.3.4 {date} text/html {length}\n".encode() + body + b"\n"
            ),
            st.sampled_from(["https://e.test/", "https://e.test/a b", "<x>"]),
            st.sampled_from(["20260101000000", "2026", "abcdefghijklmn"]),
            st.sampled_from(["0", "10", "-1", "99999999999", "x"]),
            HTTP_BODY,
        ),
        max_size=4,
    ),
)


def _damaged(data: bytes, cuts: list[tuple[int, int]], truncate: int | None) -> bytes:
    raw = bytearray(data)
    for position, value in cuts:
        if raw:
            raw[position % len(raw)] = value
    return bytes(raw[:truncate] if truncate is not None else raw)


INPUT = st.one_of(
    st.binary(max_size=2000),
    st.builds(lambda tail: b"WARC/1.0\r\n" + tail, st.binary(max_size=500)),
    st.builds(lambda tail: b"filedesc://" + tail, st.binary(max_size=500)),
    WARC,
    WARC.map(gzip.compress),
    ARC,
    ARC.map(gzip.compress),
    st.builds(
        _damaged,
        st.sampled_from(SAMPLES),
        st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=8),
        st.one_of(st.none(), st.integers(0, 20_000)),
    ),
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=INPUT, suffix=st.sampled_from([".warc", ".warc.gz", ".arc", ".arc.gz", ".bin"]))
def test_any_bytes_give_records_or_named_problems(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(data)
        stats = ArchiveStats()
        out = list(iter_archive(path, max_record_bytes=MAX_RECORD, stats=stats))
    assert all(isinstance(item, Content | Problem) for item in out)
    assert all(item.reason for item in out if isinstance(item, Problem))
    payloads = [item for item in out if isinstance(item, Content)]
    assert len(payloads) <= stats.records
    assert all(len(item.data) <= MAX_RECORD for item in payloads)
