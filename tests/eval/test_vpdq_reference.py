"""vPDQ against Meta's reference hashes of its sample videos (../shared/data/video): every
frame hashed here agrees with the reference frame at the same time, within the PDQ match
distance, as upstream's regression test accepts. The distribution is printed."""

from __future__ import annotations

from collections import Counter

import pytest

from passerelle.core.signals.pdq import hamming
from passerelle.core.signals.vpdq import FRAME_DISTANCE, load_frames_file
from passerelle.core.video import VideoLimits, hash_video
from tests.shared import VIDEOS, shared

DISTANCES: Counter[int] = Counter()


@pytest.mark.parametrize("name", VIDEOS)
def test_every_frame_agrees_with_the_reference(name: str) -> None:
    reference = load_frames_file(shared("video", "vpdq-hashes", f"{name}.txt").read_text())
    data = shared("video", "videos", f"{name}.mp4").read_bytes()
    ours = hash_video(data, VideoLimits(seconds_per_frame=0)).frames
    assert [f.timestamp for f in ours] == [f.timestamp for f in reference]
    distances = [hamming(a.pdq, b.pdq) for a, b in zip(ours, reference, strict=True)]
    DISTANCES.update(distances)
    assert max(distances) <= FRAME_DISTANCE
    assert [f.quality for f in ours] == [f.quality for f in reference]


@pytest.mark.parametrize("name", VIDEOS)
def test_frames_sampled_once_a_second_are_the_reference_frames(name: str) -> None:
    reference = load_frames_file(shared("video", "vpdq-hashes", f"{name}.txt").read_text())
    at = {f.timestamp: f for f in reference}
    ours = hash_video(shared("video", "videos", f"{name}.mp4").read_bytes()).frames
    assert [f.timestamp for f in ours] == [float(s) for s in range(len(ours))]
    assert all(hamming(f.pdq, at[f.timestamp].pdq) <= FRAME_DISTANCE for f in ours)
    assert len(ours) == int(reference[-1].timestamp) + 1


def test_print_the_distribution(capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        total = sum(DISTANCES.values())
        shown = ", ".join(f"{d} bits: {n}" for d, n in sorted(DISTANCES.items()))
        print(f"\nvPDQ frames against Meta's reference ({total} frames): {shown}")
