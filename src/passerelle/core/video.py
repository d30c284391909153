"""Video decoding and vPDQ hashing, compatible with Meta's `vpdq`.

Decoding is PyAV's (its wheels carry FFmpeg, so nothing is built on install). Like upstream,
frame n of the decoded stream is hashed when n is a multiple of `int(seconds_per_frame * fps)`,
its time is n / fps (the stream's average frame rate), and it is converted to 8-bit RGB at its
decoded size and hashed by PDQ's float path, the very function images use
(`PdqType.compute_from_pixels`). On Meta's sample videos every frame is within 6 bits of the
reference hashes, with the same quality.

Untrusted input: decoding stops at `max_seconds` of video or `max_frames` hashed frames (with a
warning), frames above `max_frame_pixels` are refused before anything is decoded, and a stream
damaged part-way keeps the frames hashed before the damage (with a warning)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import av.error
from PIL import Image

from passerelle.core.errors import InvalidInput
from passerelle.core.signals.base import Signal
from passerelle.core.signals.pdq import PDQ, hamming
from passerelle.core.signals.vpdq import VpdqFrame, to_signal


@dataclass(frozen=True, slots=True)
class VideoLimits:
    # One frame hashed every this many seconds of video (upstream's default: 1); 0 hashes
    # every frame. Fewer frames: faster hashing and smaller banks, but short clips and
    # re-cuts are matched on fewer frames (see README).
    seconds_per_frame: float = 1.0
    max_seconds: float = 4 * 3600.0
    max_frames: int = 20_000
    max_frame_pixels: int = 4096 * 4096
    # Drop a sampled frame within this PDQ distance of the last frame kept (None: keep all).
    prune_distance: int | None = None


@dataclass(frozen=True, slots=True)
class VideoHash:
    frames: tuple[VpdqFrame, ...]
    frame_numbers: tuple[int, ...]
    fps: float
    width: int
    height: int
    seconds: float
    warnings: tuple[str, ...]

    @property
    def signal(self) -> Signal:
        return to_signal(self.frames)


def hash_video(data: bytes, limits: VideoLimits | None = None) -> VideoHash:
    """Hash a video held in memory; raises `InvalidInput` naming what is wrong with it."""
    chosen = limits or VideoLimits()
    if not data:
        raise InvalidInput("empty video file")
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, ValueError) as exc:
        raise InvalidInput(f"not a readable video: {_reason(exc)}") from None
    with container:
        if not container.streams.video:
            raise InvalidInput("no video stream in the file (audio only?)")
        return _hash_stream(container, container.streams.video[0], chosen)


def _hash_stream(
    container: av.container.InputContainer, stream: av.VideoStream, limits: VideoLimits
) -> VideoHash:
    stream.thread_type = "AUTO"  # frame threads inside FFmpeg: decoding is most of the time
    rate = stream.average_rate or stream.guessed_rate
    fps = float(rate) if rate else 0.0
    if fps <= 0:
        raise InvalidInput("video has no usable frame rate")
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > limits.max_frame_pixels:
        raise InvalidInput(
            f"video frames too large: {width}x{height} pixels (limit {limits.max_frame_pixels:,})"
        )
    step = max(1, int(limits.seconds_per_frame * fps)) if limits.seconds_per_frame > 0 else 1
    last_frame = int(limits.max_seconds * fps)
    frames: list[VpdqFrame] = []
    numbers: list[int] = []
    warnings: list[str] = []
    number = -1
    try:
        for frame in container.decode(stream):
            number += 1
            if number > last_frame:
                warnings.append(f"only the first {limits.max_seconds:g} s were hashed")
                break
            if number % step:
                continue
            if frame.width * frame.height > limits.max_frame_pixels:
                raise InvalidInput(
                    f"video frame {number} too large: {frame.width}x{frame.height} pixels "
                    f"(limit {limits.max_frame_pixels:,})"
                )
            pdq = PDQ.compute_from_pixels(frame.to_ndarray(format="rgb24"))
            prune = limits.prune_distance
            if prune is not None and frames and hamming(frames[-1].pdq, pdq.value) <= prune:
                continue
            frames.append(VpdqFrame(pdq.value, pdq.quality or 0, round(number / fps, 3)))
            numbers.append(number)
            if len(frames) >= limits.max_frames:
                warnings.append(f"only the first {limits.max_frames:,} frames were hashed")
                break
    except (av.error.FFmpegError, ValueError) as exc:
        if not frames:
            raise InvalidInput(f"damaged video, no frame decoded: {_reason(exc)}") from None
        warnings.append(f"damaged video: hashed up to frame {number - 1} ({_reason(exc)})")
    if not frames:
        raise InvalidInput("video has no decodable frame")
    return VideoHash(
        frames=tuple(frames),
        frame_numbers=tuple(numbers),
        fps=fps,
        width=width,
        height=height,
        seconds=round(max(number, 0) / fps, 3),
        warnings=tuple(warnings),
    )


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).strip() or type(exc).__name__


def frame_at(
    data: bytes, seconds: float, *, max_side: int = 240, limits: VideoLimits | None = None
) -> bytes:
    """The frame shown at `seconds` into the video, as a small JPEG (the thumbnails of the
    matched frames on the case page, made on request from the preserved content)."""
    chosen = limits or VideoLimits()
    if not data:
        raise InvalidInput("empty video file")
    if not 0 <= seconds <= chosen.max_seconds:
        raise InvalidInput(f"no frame at {seconds:g} s")
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, ValueError) as exc:
        raise InvalidInput(f"not a readable video: {_reason(exc)}") from None
    with container:
        if not container.streams.video:
            raise InvalidInput("no video stream in the file (audio only?)")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > chosen.max_frame_pixels:
            raise InvalidInput(f"video frames too large: {width}x{height} pixels")
        chosen_frame = None
        try:
            for frame in container.decode(stream):
                chosen_frame = frame
                if frame.time is not None and frame.time + 1e-3 >= seconds:
                    break
        except (av.error.FFmpegError, ValueError) as exc:
            if chosen_frame is None:
                raise InvalidInput(f"damaged video: {_reason(exc)}") from None
        if chosen_frame is None:
            raise InvalidInput("video has no decodable frame")
        image = Image.fromarray(chosen_frame.to_ndarray(format="rgb24"))
    image.thumbnail((max_side, max_side))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()
