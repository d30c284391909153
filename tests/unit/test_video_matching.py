"""Video matching: the frames index against upstream's rule written plainly, Meta's sample
videos matched (and not matched) as the issue asks, clips with their segment, and frames
against images both ways."""

from __future__ import annotations

import random
from functools import cache

import pytest

from passerelle.core.bank import Bank, BankEntry, BankKind, BankOrigin, parse_threshold
from passerelle.core.errors import InvalidInput
from passerelle.core.match import Matcher, MatchOutcome, video_candidates
from passerelle.core.priority import prioritise
from passerelle.core.signals import Signal
from passerelle.core.signals.pdq import PDQ
from passerelle.core.signals.vpdq import VpdqFrame, compare_videos, frames_of, to_signal
from passerelle.core.taxonomy import Labels
from passerelle.core.video import VideoLimits, hash_video
from tests.shared import shared
from tests.videos import cut_clip, join_clips, still_jpeg


@cache
def video(name: str, seconds_per_frame: float = 1.0) -> Signal:
    data = shared("video", "videos", f"{name}.mp4").read_bytes()
    return hash_video(data, VideoLimits(seconds_per_frame=seconds_per_frame)).signal


def bank(name: str = "connu", **thresholds: float) -> Bank:
    return Bank(name, "agency", name, BankKind.POSITIVE, BankOrigin.OWN, "", thresholds)


def match(banked: dict[str, Signal], query: Signal, the_bank: Bank | None = None) -> MatchOutcome:
    chosen = the_bank or bank()
    entries = [BankEntry(key, chosen.id, signal, Labels()) for key, signal in banked.items()]
    return Matcher.build([chosen], entries).match([query])


def random_hex(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def flip(value: str, bits: int, rng: random.Random) -> str:
    number = int(value, 16)
    for bit in rng.sample(range(256), bits):
        number ^= 1 << bit
    return f"{number:064x}"


def test_the_index_gives_upstream_s_shares_for_every_banked_video() -> None:
    rng = random.Random(7)
    banked = [
        [VpdqFrame(random_hex(rng), rng.choice([30, 100, 100]), float(t)) for t in range(40)]
        for _ in range(30)
    ]
    videos = {str(owner): to_signal(frames) for owner, frames in enumerate(banked)}
    matcher = Matcher.build(
        [bank()], [BankEntry(k, "connu", s, Labels()) for k, s in videos.items()]
    )
    # The query takes near copies (0-40 bits away) of frames of three videos, and noise.
    source = banked[3][:25] + banked[11][10:20] + banked[20][::2]
    query = [
        VpdqFrame(flip(f.pdq, rng.randint(0, 40), rng), 100, float(t)) for t, f in enumerate(source)
    ] + [VpdqFrame(random_hex(rng), 100, 99.0)]
    hits = {
        row: (video.query_share, video.compared_share)
        for row, _, video in video_candidates(to_signal(query), matcher.index)
        if video is not None and video.query_share is not None
    }
    expected = {}
    for owner, frames in enumerate(banked):
        shares = compare_videos(query, frames)
        if shares != (0.0, 0.0):
            expected[owner] = shares
    owners = {matcher.index.entry_id(row): shares for row, shares in hits.items()}
    assert set(owners) == {str(o) for o in expected} and {"3", "11", "20"} <= set(owners)
    for owner, shares in expected.items():
        assert owners[str(owner)] == pytest.approx(shares)


def test_grey_and_original_chair_22_match_both_ways_at_one_frame_a_second() -> None:
    grey, original = video("chair-22-sd-grey-bar"), video("chair-orig-22-sd-bar")
    for banked, query in ((grey, original), (original, grey)):
        (found,) = match({"x": banked}, query).matches
        assert found.signal_type == "vpdq" and found.video is not None
        assert found.video.compared_share >= 80
        assert found.distance <= 20


def test_two_takes_of_one_scene_match_only_when_every_frame_is_hashed() -> None:
    take19, take20 = video("chair-19-sd-bar", 0), video("chair-20-sd-bar", 0)
    (found,) = match({"x": take20}, take19).matches
    assert found.video is not None
    assert found.video.query_share == pytest.approx(100.0, abs=3)
    assert found.video.compared_share == pytest.approx(93.0, abs=3)
    assert not match({"x": video("chair-20-sd-bar")}, video("chair-19-sd-bar")).matches


@pytest.mark.parametrize(
    "name", ["chair-19-sd-bar", "chair-20-sd-bar", "chair-22-sd-grey-bar", "chair-orig-22-sd-bar"]
)
def test_no_chair_matches_the_pattern_video(name: str) -> None:
    pattern = video("pattern-hd-no-bar")
    assert not match({"p": pattern}, video(name)).matches
    assert not match({"c": video(name)}, pattern).matches


def test_a_clip_cut_from_the_middle_matches_with_its_segment() -> None:
    path = shared("video", "videos", "chair-orig-22-sd-bar.mp4")
    clip = hash_video(cut_clip(path, 6.0, 16.0, scale=0.75)).signal
    (found,) = match({"x": video("chair-orig-22-sd-bar")}, clip).matches
    assert found.video is not None
    assert found.video.compared_share < 80 <= found.video.query_share
    segment = found.video.segments[0]
    assert (segment.query_start, segment.query_end) == (0.0, 9.0)
    assert segment.banked_start == pytest.approx(6.0, abs=1)
    assert segment.banked_end == pytest.approx(15.0, abs=1)
    reason = prioritise(MatchOutcome((found,), (), ())).reasons[0]
    assert reason.startswith("segment 0:00–0:09 matches 4") and "% of a banked video" in reason
    # A short stretch of a few frames is no clip.
    short = to_signal(frames_of(clip)[:3])
    assert not match({"x": video("chair-orig-22-sd-bar")}, short).matches


@cache
def compilation() -> Signal:
    """12 s from the middle of chair-orig-22 amid 24 s of unrelated footage: a third of the
    compilation, half of the banked video."""
    chair = shared("video", "videos", "chair-orig-22-sd-bar.mp4")
    pattern = shared("video", "videos", "pattern-hd-no-bar.mp4")
    parts = [(pattern, 0.0, 6.0), (chair, 5.0, 17.0), *[(pattern, 0.0, 6.0)] * 3]
    return hash_video(join_clips(parts, width=240, height=360)).signal


def test_a_compilation_holding_a_stretch_of_a_banked_video_matches_by_its_segment() -> None:
    banked = video("chair-orig-22-sd-bar")
    (found,) = match({"x": banked}, compilation()).matches
    assert found.video is not None and found.video.by_segment
    # Neither share rule holds: the stretch is a minority of both videos.
    assert found.video.compared_share is not None and found.video.compared_share < 80
    assert found.video.query_share is not None and found.video.query_share < 50
    segment = found.video.segments[0]
    assert (segment.query_start, segment.query_end) == (6.0, 17.0)
    assert segment.banked_start == pytest.approx(5.0, abs=1)
    assert segment.banked_end == pytest.approx(16.0, abs=1)
    assert found.distance == 20  # the bank's threshold: the weakest kind of video match
    reason = prioritise(MatchOutcome((found,), (), ())).reasons[0]
    assert reason == (
        "a stretch of 11 s of this video, 0:06–0:17, matches 0:05–0:16 of a banked video"
        f" in bank 'connu' ({found.video.query_share:.0f} % of this video)"
    )


def test_the_segment_length_is_per_bank_and_can_be_turned_off() -> None:
    banked, query = {"x": video("chair-orig-22-sd-bar")}, compilation()
    assert match(banked, query, bank(vpdq_segment=parse_threshold("vpdq_segment", "11"))).matches
    assert not match(
        banked, query, bank(vpdq_segment=parse_threshold("vpdq_segment", "12"))
    ).matches
    assert not match(banked, query, bank(vpdq_segment=0)).matches
    with pytest.raises(InvalidInput, match="vpdq_segment must be between 0 and 3600"):
        parse_threshold("vpdq_segment", "-1")


def test_a_still_of_a_banked_video_matches_it_as_an_image() -> None:
    path = shared("video", "videos", "chair-orig-22-sd-bar.mp4")
    still = PDQ.compute(still_jpeg(path, 12.0))
    (found,) = match({"x": video("chair-orig-22-sd-bar")}, still).matches
    assert found.signal_type == "vpdq" and found.video is not None
    assert found.video.segments[0].banked_start == pytest.approx(12.0, abs=0.5)
    assert found.distance <= 31
    reasons = prioritise(MatchOutcome((found,), (), ())).reasons
    assert reasons[0].startswith("image matches the frame at 0:12 of a banked video")
    assert not match({"p": video("pattern-hd-no-bar")}, still).matches


def test_a_frame_matching_a_banked_image_is_a_match_with_its_timecode() -> None:
    path = shared("video", "videos", "chair-orig-22-sd-bar.mp4")
    image = PDQ.compute(still_jpeg(path, 7.0))
    (found,) = match({"i": image}, video("chair-orig-22-sd-bar")).matches
    assert found.signal_type == "pdq" and found.video is not None
    assert 7.0 in [s.query_start for s in found.video.segments]


def test_the_query_share_threshold_is_per_bank() -> None:
    path = shared("video", "videos", "chair-orig-22-sd-bar.mp4")
    clip = hash_video(cut_clip(path, 6.0, 16.0, scale=0.75)).signal
    whole = video("chair-orig-22-sd-bar")
    strict = bank(vpdq_query=parse_threshold("vpdq_query", "60"))
    assert match({"c": clip}, whole).matches  # the clip is 100 % inside the video
    assert not match({"c": clip}, whole, strict).matches  # the video is only 45 % the clip
    with pytest.raises(InvalidInput, match="vpdq_query must be between 0 and 100"):
        parse_threshold("vpdq_query", "120")
