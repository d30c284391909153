"""Videos made in the tests with PyAV: synthetic ones (a scene per second, so that sampled
frames differ) and clips re-encoded from the shared sample videos."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def scene(index: int, width: int, height: int) -> np.ndarray:
    """A picture with structure (PDQ quality 100) that differs from one index to the next."""
    rng = np.random.default_rng(index)
    blocks = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    big = np.kron(blocks, np.ones((height // 8 + 1, width // 8 + 1, 1), dtype=np.uint8))
    return np.ascontiguousarray(big[:height, :width])


def make_video(
    seconds: float,
    *,
    fps: int = 10,
    width: int = 64,
    height: int = 48,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    container: str = "mp4",
    bit_rate: int | None = None,
    moving: bool = False,
    gop: int | None = None,
    x264: str | None = None,
) -> bytes:
    """A scene a second; `moving`: each frame is its scene moved 2 pixels further (every frame
    differs, so the encoder makes frames that depend on others, B-frames included); `gop`: a
    key frame every this many frames; `x264`: the encoder's own parameters."""
    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as box:
        options = {"x264-params": x264} if x264 else None
        stream = box.add_stream(codec, rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if bit_rate:
            stream.bit_rate = bit_rate
        if gop:
            stream.codec_context.gop_size = gop
        for number in range(int(seconds * fps)):
            picture = scene(number // fps, width, height)
            if moving:
                picture = np.ascontiguousarray(np.roll(picture, 2 * number, axis=1))
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            for packet in stream.encode(frame):
                box.mux(packet)
        for packet in stream.encode():
            box.mux(packet)
    return out.getvalue()


def make_uneven_video(frames: int, *, fps: int = 10) -> bytes:
    """A video whose frames are not evenly spaced in time (every third one lasts longer)."""
    out = io.BytesIO()
    base = Fraction(1, 100)
    with av.open(out, mode="w", format="mp4") as box:
        stream = box.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = base
        moment = 0
        for number in range(frames):
            frame = av.VideoFrame.from_ndarray(scene(number // fps, 64, 48), format="rgb24")
            frame.pts, frame.time_base = moment, base
            moment += 100 // fps + (7 if number % 3 == 0 else 0)
            for packet in stream.encode(frame):
                box.mux(packet)
        for packet in stream.encode():
            box.mux(packet)
    return out.getvalue()


def cut_clip(path: Path, start: float, end: float, *, scale: float = 1.0) -> bytes:
    """Frames of `path` from `start` to `end` seconds, re-encoded (H.264, optionally resized)."""
    out = io.BytesIO()
    with av.open(str(path)) as source, av.open(out, mode="w", format="mp4") as box:
        video = source.streams.video[0]
        rate = video.average_rate
        stream = box.add_stream("libx264", rate=rate)
        stream.width = int(video.codec_context.width * scale) // 2 * 2
        stream.height = int(video.codec_context.height * scale) // 2 * 2
        stream.pix_fmt = "yuv420p"
        for number, frame in enumerate(source.decode(video)):
            moment = number / float(rate)
            if moment < start:
                continue
            if moment >= end:
                break
            picture = frame.to_ndarray(format="rgb24")
            resized = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(
                width=stream.width, height=stream.height
            )
            for packet in stream.encode(resized):
                box.mux(packet)
        for packet in stream.encode():
            box.mux(packet)
    return out.getvalue()


def still_jpeg(path: Path, moment: float) -> bytes:
    """The frame of `path` shown at `moment` seconds, saved as a JPEG."""
    with av.open(str(path)) as source:
        video = source.streams.video[0]
        rate = float(video.average_rate)
        for number, frame in enumerate(source.decode(video)):
            if number / rate >= moment:
                out = io.BytesIO()
                frame.to_image().save(out, format="JPEG", quality=85)
                return out.getvalue()
    raise ValueError(f"{path} is shorter than {moment} s")


def join_clips(parts: list[tuple[Path, float, float]], *, width: int, height: int) -> bytes:
    """Stretches of several videos, one after the other, re-encoded at one size and rate."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as box:
        stream = box.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for path, start, end in parts:
            with av.open(str(path)) as source:
                video = source.streams.video[0]
                rate = float(video.average_rate)
                for number, frame in enumerate(source.decode(video)):
                    if number / rate < start:
                        continue
                    if number / rate >= end:
                        break
                    picture = frame.to_ndarray(format="rgb24")
                    resized = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(
                        width=width, height=height
                    )
                    for packet in stream.encode(resized):
                        box.mux(packet)
        for packet in stream.encode():
            box.mux(packet)
    return out.getvalue()
