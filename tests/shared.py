"""Paths of the test data that nobody here wrote (../shared/data), and a guard that fails in
CI when it is missing instead of skipping."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import require_or_skip

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        require_or_skip(f"test data missing: {path} (../shared/data beside the project)")
    return path


PDQ_IMAGES = (
    "aaa-orig",
    "blur-a-little",
    "blur-a-lot",
    "high-contrast",
    "high-saturation",
    "sharpen-a-little",
    "sharpen-a-lot",
    "shrink-a-little",
    "shrink-a-lot",
    "square-128x128",
    "square-256x256",
    "square-512x512",
)
"""The stems of ../shared/data/pdq/images: the original photo first, then its 11 edits."""

VIDEOS = (
    "chair-19-sd-bar",
    "chair-20-sd-bar",
    "chair-22-sd-grey-bar",
    "chair-orig-22-sd-bar",
    "pattern-hd-no-bar",
)
"""The stems of ../shared/data/video/videos, each with its reference vPDQ in vpdq-hashes/."""
