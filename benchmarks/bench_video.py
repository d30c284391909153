"""vPDQ: hashing speed and matching speed, each beside its peer, in the same run.

- Hashing: Meta's five sample videos (../shared/data/video) hashed at one frame a second in
  this one process: seconds of video hashed per wall-clock second (aim: 30x real time), and
  per CPU second. Peer: the plain way (every frame decoded and counted, the sampled ones
  converted and hashed by the same PDQ), the frames of both compared.
- Matching: a bank of VIDEOS videos of FRAMES frames each (random hashes), queried with
  near copies of banked videos (every frame 0-20 bits away) and with unrelated videos.
  Ours: the matcher (one look-up of all frames in the index of every banked frame). Peer:
  upstream's rule written as a straightforward loop over the banked videos (NumPy for the
  frame-by-frame distances of each pair), on the first LOOP queries. Both must find the
  same videos.

    .venv/bin/python -m benchmarks.bench_video [VIDEOS [FRAMES [QUERIES [LOOP]]]]
    # default 2000 300 20 4
"""

from __future__ import annotations

import io
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import av

from passerelle.core.bank import Bank, BankEntry, BankKind, BankOrigin
from passerelle.core.match import Matcher
from passerelle.core.signals.base import Signal
from passerelle.core.signals.pdq import PDQ
from passerelle.core.signals.vpdq import (
    DEFAULT_COMPARED_SHARE,
    VpdqFrame,
    compare_videos,
    frames_of,
    to_signal,
)
from passerelle.core.taxonomy import Labels
from passerelle.core.video import hash_video

VIDEOS_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "videos"


def plain_hash(data: bytes) -> list[tuple[str, float]]:
    """The peer: every frame decoded (FFmpeg's threads) and counted, one a second hashed."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate or 0)
        step = max(1, int(fps))
        return [
            (PDQ.compute_from_pixels(frame.to_ndarray(format="rgb24")).value, round(n / fps, 3))
            for n, frame in enumerate(container.decode(stream))
            if n % step == 0
        ]


def ours_hash(data: bytes) -> list[tuple[str, float]]:
    return [(f.pdq, f.timestamp) for f in hash_video(data).frames]


def hashing_speed(
    hasher: Callable[[bytes], list[tuple[str, float]]], videos: list[bytes]
) -> tuple[float, float, float, list[list[tuple[str, float]]]]:
    """(wall seconds, CPU seconds, frames of each video) for the shared videos at 1 frame/s.
    CPU time counts FFmpeg's decoding threads too: on a busy machine it says what the work
    costs, the wall time what it took."""
    start, start_cpu = time.perf_counter(), time.process_time()
    hashed = [hasher(data) for data in videos]
    return time.perf_counter() - start, time.process_time() - start_cpu, hashed


def video_seconds(videos: list[bytes]) -> float:
    return sum(hash_video(data).seconds for data in videos)


def flip(value: str, bits: int, rng: random.Random) -> str:
    number = int(value, 16)
    for bit in rng.sample(range(256), bits):
        number ^= 1 << bit
    return f"{number:064x}"


def make_bank(videos: int, frames: int, rng: random.Random) -> list[list[VpdqFrame]]:
    return [
        [VpdqFrame(f"{rng.getrandbits(256):064x}", 100, float(t)) for t in range(frames)]
        for _ in range(videos)
    ]


def make_queries(
    banked: list[list[VpdqFrame]], count: int, rng: random.Random
) -> list[tuple[Signal, int | None]]:
    """(query, index of the banked video it copies or None)."""
    queries: list[tuple[Signal, int | None]] = []
    for i in range(count):
        if i % 2 == 0:
            source = rng.randrange(len(banked))
            copy = [
                VpdqFrame(flip(f.pdq, rng.randint(0, 20), rng), 100, f.timestamp)
                for f in banked[source]
            ]
            queries.append((to_signal(copy), source))
        else:
            other = [
                VpdqFrame(f"{rng.getrandbits(256):064x}", 100, float(t))
                for t in range(len(banked[0]))
            ]
            queries.append((to_signal(other), None))
    return queries


def loop_match(query: Signal, banked: list[list[VpdqFrame]]) -> set[int]:
    """Upstream's rule, video after video."""
    frames = frames_of(query)
    found = set()
    for number, video in enumerate(banked):
        _, compared = compare_videos(frames, video)
        if compared >= DEFAULT_COMPARED_SHARE:
            found.add(number)
    return found


def main(argv: list[str]) -> None:
    videos, frames, count, loop = ([int(a) for a in argv] + [2000, 300, 20, 4][len(argv) :])[:4]
    samples = [path.read_bytes() for path in sorted(VIDEOS_DIR.glob("*.mp4"))]
    seconds = video_seconds(samples)
    print(f"load average before hashing: {os.getloadavg()[0]:.2f} (2 cores shared)")
    for name, hasher in (("plain", plain_hash), ("ours", ours_hash), ("plain", plain_hash)):
        wall, cpu, hashed = hashing_speed(hasher, samples)
        if name == "ours":
            mine = hashed
        else:
            peer = hashed
        print(
            f"hashing, {name}: {seconds:.1f} s of video ({sum(map(len, hashed))} frames at"
            f" 1 frame/s) in {wall:.2f} s: {seconds / wall:.1f}x real time (aim 30x);"
            f" {cpu:.2f} s of CPU: {seconds / cpu:.1f}x real time per CPU second"
        )
    assert mine == peer, "the two ways of hashing disagree"
    print(f"load average after hashing: {os.getloadavg()[0]:.2f}")
    rng = random.Random(11)
    banked = make_bank(videos, frames, rng)
    bank = Bank("b", "agency", "known", BankKind.POSITIVE, BankOrigin.OWN, "", {})
    entries = [BankEntry(str(i), "b", to_signal(video), Labels()) for i, video in enumerate(banked)]
    start = time.perf_counter()
    matcher = Matcher.build([bank], entries)
    built = time.perf_counter() - start
    print(
        f"bank: {videos} videos x {frames} frames = {videos * frames:,} frames, "
        f"index built in {built:.1f} s"
    )
    queries = make_queries(banked, count, rng)
    start = time.perf_counter()
    ours = [
        {int(m.entry_id) for m in matcher.match([q]).matches if m.signal_type == "vpdq"}
        for q, _ in queries
    ]
    ours_qps = len(queries) / (time.perf_counter() - start)
    expected = [set() if source is None else {source} for _, source in queries]
    assert ours == expected, "the index missed or invented a match"
    start = time.perf_counter()
    peer = [loop_match(q, banked) for q, _ in queries[:loop]]
    loop_qps = loop / (time.perf_counter() - start)
    assert peer == ours[:loop], "the loop and the index disagree"
    print(f"matching, index: {ours_qps:.2f} queries/s ({count} queries)")
    print(f"matching, loop over videos: {loop_qps:.3f} queries/s ({loop} queries)")
    print(f"vpdq_match: {ours_qps / loop_qps:.2f}x vs loop")


if __name__ == "__main__":
    main(sys.argv[1:])
