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
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from passerelle.core.errors import InvalidInput
from passerelle.core.message import Message, grouped
from passerelle.core.signals.base import Signal
from passerelle.core.signals.pdq import PDQ, hamming
from passerelle.core.signals.vpdq import VpdqFrame, to_signal

if TYPE_CHECKING:
    import av


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
    warnings: tuple[Message, ...]

    @property
    def signal(self) -> Signal:
        return to_signal(self.frames)


def hash_video(data: bytes, limits: VideoLimits | None = None) -> VideoHash:
    """Hash a video held in memory; raises `InvalidInput` naming what is wrong with it."""
    chosen = limits or VideoLimits()
    if not data:
        raise InvalidInput("empty video file")
    plan = _plan_frames(data, chosen)
    try:
        return _hash_once(data, chosen, plan)
    except _PlanMismatch:
        return _hash_once(data, chosen, None)


def _open(data: bytes) -> av.container.InputContainer:
    import av  # PyAV loads when a video is read, not with the settings that name its limits
    import av.error

    try:
        return av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, ValueError) as exc:
        raise InvalidInput("not a readable video: %(error)s", error=_reason(exc)) from None


def _hash_once(data: bytes, limits: VideoLimits, plan: _FramePlan | None) -> VideoHash:
    with _open(data) as container:
        if not container.streams.video:
            raise InvalidInput("no video stream in the file (audio only?)")
        return _hash_stream(container, container.streams.video[0], limits, plan)


def _rate(stream: av.VideoStream) -> float:
    rate = stream.average_rate or stream.guessed_rate
    fps = float(rate) if rate else 0.0
    if fps <= 0:
        raise InvalidInput("video has no usable frame rate")
    return fps


def _step(limits: VideoLimits, fps: float) -> int:
    return max(1, int(limits.seconds_per_frame * fps)) if limits.seconds_per_frame > 0 else 1


@dataclass(frozen=True, slots=True)
class _FramePlan:
    """A stream of one frame a packet, evenly spaced at its frame rate, as read from the
    packets alone (demuxing costs ~2 % of decoding): frame n is at `first + n / per_stamp`."""

    first: int
    per_stamp: float  # frames per unit of the stream's time base
    frames: int
    # By frame number: 1 when the frame must be decoded (sampled, or decoded before a sampled
    # frame since the last IDR picture); None: every frame may be needed.
    needed: bytearray | None = None

    def number(self, pts: int) -> int | None:
        """The frame number at this timestamp, None if no frame is there."""
        exact = (pts - self.first) * self.per_stamp
        near = round(exact)
        return near if abs(exact - near) < _ON_TIME and near >= 0 else None

    def is_needed(self, number: int) -> bool:
        return self.needed is None or number >= len(self.needed) or bool(self.needed[number])


class _PlanMismatch(Exception):
    """The decoder gave a frame the plan does not know: hash the plain way."""


_ON_TIME = 0.25  # of a frame: timestamps rounded to the millisecond (WebM) stay on time
_REORDER_MARGIN = 64  # packets read past the caps, for frames stored out of display order


def _plan_frames(data: bytes, limits: VideoLimits) -> _FramePlan | None:
    """The plan of the stream when its packets show one frame each, evenly spaced (the usual
    case): then each packet's frame number is known before decoding, and the decoder may skip
    the frames that nothing samples and no other frame refers to. None otherwise (odd
    timestamps, damage): every frame is decoded and counted, as before."""
    import av  # PyAV loads when a video is read, not with the settings that name its limits
    import av.error

    stamps = array("q")
    idr: list[int] = []  # positions (in decoding order) of the IDR pictures
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            fps, base = _rate(stream), stream.time_base
            keep = int(limits.max_seconds * fps) + 1
            length_size = _avc_length_size(stream)
            for packet in container.demux(stream):
                if packet.size == 0 or packet.is_discard:
                    continue
                if packet.pts is None:
                    return None
                if length_size and packet.is_keyframe and _is_idr(bytes(packet), length_size):
                    idr.append(len(stamps))
                stamps.append(packet.pts)
                if len(stamps) > keep + _REORDER_MARGIN:
                    break
    except (av.error.FFmpegError, ValueError, InvalidInput):
        return None
    if not stamps or base is None:
        return None
    in_order = np.frombuffer(stamps, dtype=np.int64)
    ordered = np.sort(in_order)
    per_stamp = float(base) * fps
    offsets = (ordered - ordered[0]) * per_stamp
    if np.abs(offsets - np.arange(len(ordered))).max() >= _ON_TIME:
        return None
    numbers = np.rint((in_order - ordered[0]) * per_stamp).astype(np.int64)
    return _FramePlan(
        first=int(ordered[0]),
        per_stamp=per_stamp,
        frames=len(ordered),
        needed=_needed_frames(numbers, idr, _step(limits, fps), keep - 1) if idr else None,
    )


def _needed_frames(numbers: np.ndarray, idr: list[int], step: int, last: int) -> bytearray:
    """The frames to decode: from each IDR picture (nothing decoded after it refers to a frame
    before it) up to the last sampled frame before the next one, in decoding order; the rest
    of each stretch feeds only frames nobody samples."""
    needed = np.zeros(len(numbers), dtype=np.uint8)
    starts = sorted({0, *idr})
    for start, end in zip(starts, [*starts[1:], len(numbers)], strict=True):
        stretch = numbers[start:end]
        sampled = np.flatnonzero((stretch % step == 0) & (stretch <= last))
        if len(sampled):
            needed[stretch[: sampled[-1] + 1]] = 1
    return bytearray(needed.tobytes())


def _avc_length_size(stream: av.VideoStream) -> int:
    """The size of the NAL unit lengths of H.264 stored as in MP4 (0 for anything else)."""
    extra = stream.codec_context.extradata or b""
    if stream.codec_context.name != "h264" or len(extra) < 7 or extra[0] != 1:
        return 0
    return (extra[4] & 3) + 1


def _is_idr(packet: bytes, length_size: int) -> bool:
    """Does this H.264 access unit hold an IDR picture (NAL unit type 5)?"""
    at = 0
    while at + length_size < len(packet):
        size = int.from_bytes(packet[at : at + length_size], "big")
        at += length_size
        if size <= 0 or at + size > len(packet):
            return False
        if packet[at] & 0x1F == 5:
            return True
        at += size
    return False


def _planned_frames(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    plan: _FramePlan,
    step: int,
    last_frame: int,
) -> Iterator[tuple[int, av.VideoFrame]]:
    """The sampled frames with their numbers; the frames that are neither sampled nor
    referred to by other frames are not decoded (`skip_frame`, set packet by packet), nor
    those that only frames nobody samples depend on (H.264: see `_needed_frames`)."""
    context = stream.codec_context
    sampled = range(0, min(last_frame, plan.frames - 1) + 1, step)
    waiting = len(sampled)
    for packet in container.demux(stream):
        number = None if packet.pts is None else plan.number(packet.pts)
        if number is not None and not plan.is_needed(number):
            continue  # after the last sampled frame before an IDR picture: nothing needs it
        context.skip_frame = "NONREF" if number is not None and number not in sampled else "DEFAULT"
        for frame in context.decode(packet):
            number = None if frame.pts is None else plan.number(frame.pts)
            if number is None:
                raise _PlanMismatch
            if number in sampled:
                waiting -= 1
                yield number, frame
        if not waiting:
            return


def _hash_stream(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    limits: VideoLimits,
    plan: _FramePlan | None,
) -> VideoHash:
    import av  # PyAV loads when a video is read, not with the settings that name its limits
    import av.error

    stream.thread_type = "AUTO"  # frame threads inside FFmpeg: decoding is most of the time
    fps = _rate(stream)
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > limits.max_frame_pixels:
        raise InvalidInput(
            "video frames too large: %(width)sx%(height)s pixels (limit %(limit)s)",
            width=width,
            height=height,
            limit=grouped(limits.max_frame_pixels),
        )
    step = _step(limits, fps)
    last_frame = int(limits.max_seconds * fps)
    numbered: Iterator[tuple[int, av.VideoFrame]] = (
        _planned_frames(container, stream, plan, step, last_frame)
        if plan is not None
        else enumerate(container.decode(stream))
    )
    frames: list[VpdqFrame] = []
    numbers: list[int] = []
    warnings: list[Message] = []
    number = -1
    try:
        for number, frame in numbered:
            if number > last_frame:
                warnings.append(_first_seconds(limits))
                break
            if number % step:
                continue
            if frame.width * frame.height > limits.max_frame_pixels:
                raise InvalidInput(
                    "video frame %(number)s too large: %(width)sx%(height)s pixels"
                    " (limit %(limit)s)",
                    number=number,
                    width=frame.width,
                    height=frame.height,
                    limit=grouped(limits.max_frame_pixels),
                )
            pdq = PDQ.compute_from_pixels(frame.to_ndarray(format="rgb24"))
            prune = limits.prune_distance
            if prune is not None and frames and hamming(frames[-1].pdq, pdq.value) <= prune:
                continue
            frames.append(VpdqFrame(pdq.value, pdq.quality or 0, round(number / fps, 3)))
            numbers.append(number)
            if len(frames) >= limits.max_frames:
                warnings.append(
                    Message(
                        "only the first %(count)s frames were hashed",
                        {"count": grouped(limits.max_frames)},
                    )
                )
                break
        else:
            if plan is not None:
                number = min(plan.frames - 1, last_frame + 1)
                if plan.frames > last_frame + 1:
                    warnings.append(_first_seconds(limits))
    except (av.error.FFmpegError, ValueError) as exc:
        if not frames:
            raise InvalidInput(
                "damaged video, no frame decoded: %(error)s", error=_reason(exc)
            ) from None
        warnings.append(
            Message(
                "damaged video: hashed up to frame %(number)s (%(error)s)",
                {"number": number - 1, "error": _reason(exc)},
            )
        )
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


def _first_seconds(limits: VideoLimits) -> Message:
    return Message(
        "only the first %(seconds)s s were hashed", {"seconds": f"{limits.max_seconds:g}"}
    )


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).strip() or type(exc).__name__


MAX_THUMBNAILS = 48  # frames a case keeps thumbnails of (the strip of matched frames)


def thumbnail_name(seconds: float) -> str:
    """The stored name of the thumbnail of the frame at `seconds` (to the millisecond)."""
    return f"frame-{round(seconds * 1000)}.jpg"


def thumbnails(
    data: bytes,
    moments: Iterable[float],
    *,
    max_side: int = 240,
    limits: VideoLimits | None = None,
) -> tuple[tuple[float, bytes], ...]:
    """Small JPEGs of the frames shown at these times (the first frame at or after each; the
    last one for a time past the end), in one pass through the video: made when a matched
    video is preserved, for the strip of matched frames on its case page."""
    import av.error  # PyAV loads when a video is read, not with the settings that name its limits

    chosen = limits or VideoLimits()
    wanted = sorted({m for m in moments if 0 <= m <= chosen.max_seconds})[:MAX_THUMBNAILS]
    if not data:
        raise InvalidInput("empty video file")
    if not wanted:
        return ()
    made: list[tuple[float, bytes]] = []
    with _open(data) as container:
        if not container.streams.video:
            raise InvalidInput("no video stream in the file (audio only?)")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > chosen.max_frame_pixels:
            raise InvalidInput(
                "video frames too large: %(width)sx%(height)s pixels", width=width, height=height
            )
        last = None
        try:
            for frame in container.decode(stream):
                last = frame
                while wanted and frame.time is not None and frame.time + 1e-3 >= wanted[0]:
                    made.append((wanted.pop(0), _jpeg(frame, max_side)))
                if not wanted:
                    break
        except (av.error.FFmpegError, ValueError) as exc:
            if last is None:
                raise InvalidInput("damaged video: %(error)s", error=_reason(exc)) from None
        if last is None:
            raise InvalidInput("video has no decodable frame")
        if wanted:
            picture = _jpeg(last, max_side)
            made.extend((moment, picture) for moment in wanted)
    return tuple(made)


def _jpeg(frame: av.VideoFrame, max_side: int) -> bytes:
    image = Image.fromarray(frame.to_ndarray(format="rgb24"))
    image.thumbnail((max_side, max_side))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def frame_at(
    data: bytes, seconds: float, *, max_side: int = 240, limits: VideoLimits | None = None
) -> bytes:
    """The frame shown at `seconds` into the video, as a small JPEG (a thumbnail made on
    request, for content preserved before thumbnails were kept with it)."""
    chosen = limits or VideoLimits()
    if not 0 <= seconds <= chosen.max_seconds:
        raise InvalidInput("no frame at %(seconds)s s", seconds=format(seconds, "g"))
    ((_, picture),) = thumbnails(data, [seconds], max_side=max_side, limits=chosen)
    return picture
