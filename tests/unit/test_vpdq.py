"""vPDQ: its two text forms, upstream's matching rule, and hashing of videos made here,
including bad ones (each refused with the problem named, in bounded time)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passerelle.core.content import VIDEO_TYPES, sniff_media_type
from passerelle.core.errors import InvalidInput
from passerelle.core.message import message_of
from passerelle.core.signals import parse_signal
from passerelle.core.signals.vpdq import (
    MAX_FRAMES,
    VPDQ,
    VpdqFrame,
    compare_videos,
    dump_frames_file,
    frames_of,
    load_frames_file,
    to_signal,
)
from passerelle.core.video import VideoLimits, hash_video
from passerelle.web.i18n import load_catalog
from tests.shared import shared
from tests.videos import make_uneven_video, make_video

frames_strategy = st.lists(
    st.builds(
        VpdqFrame,
        st.text("0123456789abcdef", min_size=64, max_size=64),
        st.integers(0, 100),
        st.integers(0, 10_000_000).map(lambda ms: ms / 1000),
    ),
    min_size=1,
    max_size=20,
)


@given(frames_strategy)
def test_both_text_forms_round_trip(frames: list[VpdqFrame]) -> None:
    signal = to_signal(frames)
    assert frames_of(signal) == tuple(frames)
    assert VPDQ.parse(dump_frames_file(frames)) == signal
    assert load_frames_file(dump_frames_file(frames)) == tuple(frames)


def test_the_signal_value_is_python_threatexchange_s_form() -> None:
    signal = to_signal([VpdqFrame("ab" * 32, 100, 1.5)])
    assert json.loads(signal.value) == ["ab" * 32 + ",100,1.500"]
    # pytx writes timestamps with three significant digits: read them as numbers.
    assert frames_of(parse_signal("vpdq", json.dumps(["ab" * 32 + ",99,1.23e+02"]))) == (
        VpdqFrame("ab" * 32, 99, 123.0),
    )


def test_meta_s_hash_file_reads_as_a_signal() -> None:
    text = shared("video", "vpdq-hashes", "pattern-hd-no-bar.txt").read_text()
    frames = frames_of(VPDQ.parse(text))
    assert len(frames) == 206
    assert frames[1] == VpdqFrame(
        "d2d899daa62c5de7bebc9295ae580905016999aa57969ac0ee4bd50df52c5b0e", 100, 0.033
    )


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('["' + "a" * 64 + ',101,0.0"]', "quality must be 0-100"),
        ('["' + "a" * 64 + ',100,-1"]', "non-negative"),
        ('["' + "a" * 64 + ',100"]', "pdq,quality,timestamp"),
        ("[1, 2]", "JSON list"),
        ("0,100," + "a" * 63 + ",0.0", "64 hexadecimal"),
        ("x,100," + "a" * 64 + ",0.0", "frame_number,quality"),
        ("[", "not a JSON list"),
    ],
)
def test_bad_values_name_the_problem(text: str, named: str) -> None:
    with pytest.raises(InvalidInput, match=named):
        VPDQ.parse(text)


def test_upstream_rule_counts_unique_frames_of_quality_50_and_more() -> None:
    a, b, c = "0" * 64, "f" * 64, "0f" * 32
    near_a = "1" + "0" * 63  # one bit from a
    query = [VpdqFrame(a, 100, 0), VpdqFrame(a, 100, 1), VpdqFrame(c, 100, 2)]
    compared = [VpdqFrame(near_a, 100, 0), VpdqFrame(b, 100, 1), VpdqFrame(c, 10, 2)]
    # query unique: {a, c} of which a matches; compared (quality >= 50): {near_a, b}.
    assert compare_videos(query, compared) == (50.0, 50.0)
    assert VPDQ.distance(to_signal(query), to_signal(compared)) == 50.0
    assert not VPDQ.can_match(to_signal([VpdqFrame(a, 49, 0)]))


def test_video_media_types_are_sniffed() -> None:
    assert sniff_media_type(make_video(1)) == "video/mp4"
    webm = make_video(1, codec="libvpx-vp9", container="webm")
    assert sniff_media_type(webm) == "video/webm"
    assert "video/webm" in VIDEO_TYPES


def test_a_video_is_sampled_once_a_second_by_default() -> None:
    hashed = hash_video(make_video(5, fps=10))
    assert [f.timestamp for f in hashed.frames] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert hashed.frame_numbers == (0, 10, 20, 30, 40)
    assert len({f.pdq for f in hashed.frames}) == 5
    assert all(f.quality >= 50 for f in hashed.frames)


@pytest.mark.parametrize(
    ("data", "count"),
    [
        (make_video(4, fps=30, moving=True), 120),  # H.264, samples among unreferenced B-frames
        (make_video(4, fps=30, moving=True, gop=20), 120),  # key frames between the samples
        # Key frames that are not IDR pictures (open GOP): frames shown before one, decoded
        # after it, refer to frames before it (a sample falls on such a frame here).
        (make_video(4, fps=30, moving=True, x264="open-gop=1:keyint=16:scenecut=0"), 120),
        (make_video(4, fps=30, codec="libvpx-vp9", container="webm", moving=True), 120),  # ms
        (make_uneven_video(40), 40),  # frames unevenly spaced: counted one by one
    ],
    ids=["h264", "h264-short-gop", "h264-open-gop", "vp9-webm", "uneven"],
)
def test_sampled_frames_are_those_of_hashing_every_frame(data: bytes, count: int) -> None:
    # Frames that are not sampled are skipped where the timestamps allow it: the frames hashed
    # and their numbers must be those of hashing every frame.
    every = hash_video(data, VideoLimits(seconds_per_frame=0))
    assert every.frame_numbers == tuple(range(count))
    sampled = hash_video(data, VideoLimits(seconds_per_frame=0.5))
    step = int(sampled.fps / 2)
    kept = [(n, f) for n, f in zip(every.frame_numbers, every.frames, strict=True) if n % step == 0]
    assert list(zip(sampled.frame_numbers, sampled.frames, strict=True)) == kept
    assert len(kept) >= 4
    assert sampled.seconds == every.seconds


def test_the_rate_is_configurable_and_pruning_drops_repeated_frames() -> None:
    data = make_video(3, fps=10)
    every = hash_video(data, VideoLimits(seconds_per_frame=0))
    assert len(every.frames) == 30
    pruned = hash_video(data, VideoLimits(seconds_per_frame=0, prune_distance=31))
    assert [f.timestamp for f in pruned.frames] == [0.0, 1.0, 2.0]


def test_odd_codec_and_pixel_format_are_hashed_like_the_common_one() -> None:
    common = hash_video(make_video(3)).frames
    mpeg4 = make_video(3, codec="mpeg4", container="avi", bit_rate=4_000_000)
    odd = hash_video(mpeg4).frames
    yuv444 = hash_video(make_video(3, pix_fmt="yuv444p")).frames
    for other in (odd, yuv444):
        assert compare_videos(common, other) == (100.0, 100.0)


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"", "empty video file"),
        (b"\x00\x00\x00\x18ftypmp42" + bytes(200), "not a readable video"),
        (b"not a video at all, just words", "not a readable video"),
    ],
)
def test_unreadable_files_are_refused_by_name(data: bytes, named: str) -> None:
    with pytest.raises(InvalidInput, match=named):
        hash_video(data)


def test_audio_only_is_refused() -> None:
    import io

    import av
    import numpy as np

    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as box:
        stream = box.add_stream("aac", rate=8000)
        samples = np.zeros((1, 8000), dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode()]:
            box.mux(packet)
    with pytest.raises(InvalidInput, match="no video stream"):
        hash_video(out.getvalue())


def test_a_truncated_video_keeps_what_was_decoded_or_names_the_damage() -> None:
    data = make_video(6, width=128, height=96)
    for cut in (len(data) // 2, len(data) * 9 // 10):
        try:
            hashed = hash_video(data[:cut])
        except InvalidInput as exc:
            assert "video" in str(exc)
        else:
            assert 0 < len(hashed.frames) <= 6


def test_long_videos_stop_at_the_caps_with_a_warning() -> None:
    data = make_video(20, fps=5, width=32, height=32)
    by_time = hash_video(data, VideoLimits(max_seconds=5))
    assert [f.timestamp for f in by_time.frames] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert [str(warning) for warning in by_time.warnings] == ["only the first 5 s were hashed"]
    by_count = hash_video(data, VideoLimits(max_frames=3))
    assert len(by_count.frames) == 3
    assert [str(warning) for warning in by_count.warnings] == [
        "only the first 3 frames were hashed"
    ]


def test_frames_above_the_pixel_cap_are_refused_before_decoding() -> None:
    with pytest.raises(InvalidInput, match=r"too large: 64x48 pixels \(limit 1,000\)") as caught:
        hash_video(make_video(1), VideoLimits(max_frame_pixels=1000))
    assert (
        message_of(caught.value)
        .render(load_catalog("fr").gettext)
        .endswith("64×48 pixels (limite 1\u202f000)")
    )


def test_a_signal_of_too_many_frames_is_refused_in_french() -> None:
    frame = VpdqFrame("0" * 64, 100, 0.0)
    with pytest.raises(InvalidInput) as caught:
        to_signal([frame] * (MAX_FRAMES + 1))
    assert message_of(caught.value).render(load_catalog("fr").gettext) == (
        "l’empreinte vpdq compte 200\u202f001 images (limite 200\u202f000)"
    )
