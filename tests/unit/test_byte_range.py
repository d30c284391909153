"""The one byte range a video player asks for when it seeks in a case's preserved video."""

from __future__ import annotations

import pytest

from passerelle.web.routes.queue import byte_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-200", (800, 999)),
        ("bytes=900-5000", (900, 999)),
        (None, None),
        ("bytes=5000-", None),  # beyond the end: everything is sent instead
        ("bytes=0-1,5-9", None),
        ("bytes=a-b", None),
        ("items=0-9", None),
    ],
)
def test_byte_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert byte_range(header, 1000) == expected
