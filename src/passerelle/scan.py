"""The pipeline: `scan(content, matcher) -> ScanResult`, the one function that the CLI, the
console, the jobs and Spark call. Fingerprint, match, prioritise; nothing else, no I/O.

What is computed depends on the real media type: every item gets `sha256` and `md5`; an item
with an address gets `url`; an image gets `pdq`; a video gets `vpdq` (within the caps of
`ScanOptions.video`); HTML and text get `text` (near-duplicate) on
their main content, extracted by the fast path. Analyst-quality extraction is not done here."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from passerelle.core.content import (
    HTML,
    IMAGE_TYPES,
    TEXT,
    UNDECODABLE_IMAGE_TYPES,
    VIDEO_TYPES,
    Content,
    decode_text,
    sniff_media_type,
)
from passerelle.core.errors import InvalidInput
from passerelle.core.match import Match, Matcher, MatchOutcome
from passerelle.core.message import Message, message_of
from passerelle.core.priority import Explanation, prioritise
from passerelle.core.signals import Signal
from passerelle.core.signals.digests import MD5, SHA256
from passerelle.core.signals.pdq import DEFAULT_MAX_PIXELS, PDQ
from passerelle.core.signals.text import TEXT as TEXT_SIGNAL
from passerelle.core.signals.url import URL
from passerelle.core.video import VideoLimits, hash_video, thumbnails

if TYPE_CHECKING:
    from resiliparse.parse.html import HTMLTree

Language = Literal["matched", "always", "never"]
# The characters of a text that its language is detected from (`extract.language`'s sample,
# kept equal by a test, without loading the language module here).
LANGUAGE_SAMPLE_CHARS = 1000


@dataclass(frozen=True, slots=True)
class ScanOptions:
    max_pixels: int = DEFAULT_MAX_PIXELS
    # "matched": only for items with a match (what reaches an analyst); "always"; "never".
    language: Language = "matched"
    # Keep the bytes of matched items on the result, for preservation (never of the others).
    keep_matched_content: bool = False
    # The fast path of crawl-scale scans: compute only these signal types (those the banks
    # hold), so that no image is decoded and no page parsed for a signal nothing can match.
    # `sha256` is always computed (it names the item). None computes every type.
    signal_types: frozenset[str] | None = None
    video: VideoLimits = field(default_factory=VideoLimits)

    def wants(self, signal_type: str) -> bool:
        return self.signal_types is None or signal_type in self.signal_types


@dataclass(frozen=True, slots=True)
class ScanResult:
    source: str
    sha256: str
    media_type: str
    signals: tuple[Signal, ...]
    matches: tuple[Match, ...]
    suppressed: tuple[Match, ...]
    score: int
    explanations: tuple[Explanation, ...]
    url: str | None = None
    crawl_date: str | None = None
    title: str | None = None
    language: str | None = None
    warnings: tuple[Message, ...] = field(default_factory=tuple)
    content: bytes | None = None
    # With the kept bytes of a matched video: thumbnails of its matched frames (seconds, JPEG).
    thumbnails: tuple[tuple[float, bytes], ...] = ()

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(e.text for e in self.explanations)

    def signal(self, name: str) -> Signal | None:
        return next((s for s in self.signals if s.type == name), None)

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "url": self.url,
            "crawl_date": self.crawl_date,
            "sha256": self.sha256,
            "media_type": self.media_type,
            "title": self.title,
            "language": self.language,
            "signals": {s.type: s.value for s in self.signals},
            "pdq_quality": next((s.quality for s in self.signals if s.type == "pdq"), None),
            "matches": [m.as_dict() for m in self.matches],
            "suppressed": [m.as_dict() for m in self.suppressed],
            "score": self.score,
            "reasons": list(self.reasons),
            "warnings": [warning.english() for warning in self.warnings],
            "error": None,
        }


@dataclass(slots=True)
class Fingerprint:
    media_type: str
    signals: list[Signal]
    title: str | None = None
    text: str | None = None
    warnings: list[Message] = field(default_factory=list)
    # The text was read, then dropped (`SeenPayloads` keeps no text)...
    text_dropped: bool = False
    # ...but its start, what the language is told from (LANGUAGE_SAMPLE_CHARS).
    sample: str | None = None

    def copy(self) -> Fingerprint:
        return replace(self, signals=list(self.signals), warnings=list(self.warnings))


class SeenPayloads:
    """What was computed from the payloads a scan has already met, by SHA-256: crawls serve
    the same image, the same error page or the same article at many addresses, and its
    signals are the same each time. Holds the most recent `capacity` payloads; keeps neither
    their bytes nor their text, only its title and first LANGUAGE_SAMPLE_CHARS characters (a
    matched page met again is not parsed again for its language). One per scan and process,
    never shared: it is only a shortcut, results are the same without it."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._found: OrderedDict[str, Fingerprint] = OrderedDict()
        self.hits = 0

    def get(self, sha256: str) -> Fingerprint | None:
        found = self._found.get(sha256)
        if found is None:
            return None
        self._found.move_to_end(sha256)
        self.hits += 1
        return found.copy()

    def put(self, sha256: str, found: Fingerprint) -> None:
        kept = replace(found.copy(), text=None)
        if found.text is not None:
            kept.text_dropped, kept.sample = True, found.text[:LANGUAGE_SAMPLE_CHARS]
        self._found[sha256] = kept
        self._found.move_to_end(sha256)
        while len(self._found) > self.capacity:
            self._found.popitem(last=False)


_ORDER = {name: i for i, name in enumerate(("sha256", "md5", "url", "pdq", "vpdq", "text"))}


def fingerprint(
    content: Content, options: ScanOptions, seen: SeenPayloads | None = None
) -> Fingerprint:
    """Signals of one item, the media type they were computed for, its text and warnings.
    With `seen`, a payload met before in the scan is not fingerprinted again (only its
    address is)."""
    digest = SHA256.compute(content.data)
    known = seen.get(digest.value) if seen is not None else None
    if known is not None:
        _add_url(known, content, options.wants)
        known.signals.sort(key=_signal_order)
        return known
    found = Fingerprint(sniff_media_type(content.data), [digest])
    _add_signals(found, content, options, lambda kind: kind != "url" and options.wants(kind))
    if seen is not None:
        seen.put(digest.value, found)
    _add_url(found, content, options.wants)
    found.signals.sort(key=_signal_order)
    return found


def _signal_order(signal: Signal) -> int:
    return _ORDER.get(signal.type, len(_ORDER))


def _add_url(found: Fingerprint, content: Content, wants: Callable[[str], bool]) -> None:
    if content.url and wants("url"):
        try:
            found.signals.append(URL.compute(content.url))
        except InvalidInput as exc:
            found.warnings.append(_no_signal("url", message_of(exc)))


def _no_signal(kind: str, reason: Message) -> Message:
    return Message("no %(kind)s signal: %(reason)s", {"kind": kind, "reason": reason})


def _add_signals(
    found: Fingerprint, content: Content, options: ScanOptions, wants: Callable[[str], bool]
) -> None:
    signals, warnings, media_type = found.signals, found.warnings, found.media_type
    if wants("md5"):
        signals.append(MD5.compute(content.data))
    _add_url(found, content, wants)
    if media_type in IMAGE_TYPES and wants("pdq"):
        try:
            signals.append(PDQ.compute(content.data, max_pixels=options.max_pixels))
        except InvalidInput as exc:
            warnings.append(_no_signal("pdq", message_of(exc)))
    elif media_type in UNDECODABLE_IMAGE_TYPES and wants("pdq"):
        undecodable = Message(
            "%(type)s images cannot be decoded here (HEIF/HEIC); convert it to JPEG or PNG to"
            " compare it",
            {"type": media_type},
        )
        warnings.append(_no_signal("pdq", undecodable))
    elif media_type in VIDEO_TYPES and wants("vpdq"):
        try:
            hashed = hash_video(content.data, options.video)
        except InvalidInput as exc:
            warnings.append(_no_signal("vpdq", message_of(exc)))
        else:
            signals.append(hashed.signal)
            warnings.extend(hashed.warnings)
    elif media_type in (HTML, TEXT) and wants("text"):
        if found.text is None:
            _read_text(found, content.data)
        text_signal = TEXT_SIGNAL.compute(found.text or "")
        if text_signal is not None:
            signals.append(text_signal)


def needed_signal_types(stored: Iterable[str]) -> frozenset[str]:
    """The signal types worth computing against banks holding `stored` types: a type no
    entry has cannot match. Video frames match banked images and images banked frames, so
    either brings both."""
    wanted = set(stored)
    if wanted & {"pdq", "vpdq"}:
        wanted |= {"pdq", "vpdq"}
    return frozenset(wanted)


def _complete(found: Fingerprint, content: Content, options: ScanOptions) -> None:
    """Add the signals the fast path skipped, to a matched item (what an analyst, the queue
    and the search see of it), in the order `fingerprint` gives them."""
    _add_signals(found, content, options, lambda kind: not options.wants(kind))
    found.signals.sort(key=_signal_order)


def _read_text(found: Fingerprint, data: bytes) -> None:
    decoded = decode_text(data)
    if found.media_type == HTML:
        # The HTML parsers load with the first page: scanning images never pays for them.
        from resiliparse.parse.html import HTMLTree

        from passerelle.core.extract.html import fingerprint_text

        tree = HTMLTree.parse(decoded)
        found.text = fingerprint_text(tree)
        found.title = _title(tree)
    else:
        found.text = decoded


def compared_text(data: bytes) -> str | None:
    """The text a text fingerprint is computed from, as `fingerprint` computes it (what the
    case page shows, with the passages that match highlighted); None for media without text."""
    media_type = sniff_media_type(data)
    if media_type == HTML:
        from resiliparse.parse.html import HTMLTree

        from passerelle.core.extract.html import fingerprint_text

        return fingerprint_text(HTMLTree.parse(decode_text(data)))
    if media_type == TEXT:
        return decode_text(data)
    return None


def _title(tree: HTMLTree) -> str | None:
    title = tree.title
    return title.strip()[:300] or None if title else None


def scan(content: Content, matcher: Matcher, options: ScanOptions | None = None) -> ScanResult:
    return scan_many([content], matcher, options)[0]


def scan_many(
    contents: Sequence[Content],
    matcher: Matcher,
    options: ScanOptions | None = None,
    seen: SeenPayloads | None = None,
) -> list[ScanResult]:
    """`scan` of several items, their signals matched in one batch per signal type (faster
    per item than one at a time: the index answers a batch with one vectorised search).
    `seen` carries the payloads already fingerprinted from one call to the next."""
    return [
        settle(unsettled) for unsettled in scan_many_unsettled(contents, matcher, options, seen)
    ]


@dataclass(frozen=True, slots=True)
class Unsettled:
    """A result whose language is still to be detected from `sample` (None: nothing to
    detect). Scanning workers hand these to the process that reads their results, so that the
    language model loads there once, when a first result needs it, instead of in every worker."""

    result: ScanResult
    sample: str | None


def settle(unsettled: Unsettled) -> ScanResult:
    if unsettled.sample is None:
        return unsettled.result
    from passerelle.core.extract.language import detect_language  # loaded when needed

    language = detect_language(unsettled.sample).language
    return replace(unsettled.result, language=language)


def scan_many_unsettled(
    contents: Sequence[Content],
    matcher: Matcher,
    options: ScanOptions | None = None,
    seen: SeenPayloads | None = None,
) -> list[Unsettled]:
    """`scan_many` but for the language of the results, left to `settle`."""
    chosen = options or ScanOptions()
    found = [fingerprint(content, chosen, seen) for content in contents]
    outcomes = matcher.match_many([f.signals for f in found])
    return [
        _result(content, print_, outcome, chosen)
        for content, print_, outcome in zip(contents, found, outcomes, strict=True)
    ]


def _result(
    content: Content, found: Fingerprint, outcome: MatchOutcome, chosen: ScanOptions
) -> Unsettled:
    priority = prioritise(outcome, source=content.origin)
    if outcome.matches and chosen.signal_types is not None:
        _complete(found, content, chosen)
    wanted = chosen.language == "always" or (chosen.language == "matched" and outcome.matches)
    if (
        (outcome.matches or (wanted and found.text_dropped))
        and found.text is None
        and found.sample is None
        and found.media_type in (HTML, TEXT)
    ):
        # The fast path skipped the text of a page that matched on another signal: the
        # analyst still gets its title and language. (A page met before kept its title and
        # the start of its text.)
        _read_text(found, content.data)
    # The language is detected from the text's start: only that travels.
    start = found.text if found.text is not None else found.sample
    sample = start[:LANGUAGE_SAMPLE_CHARS] if start and wanted else None
    kept = content.data if chosen.keep_matched_content and outcome.matches else None
    result = ScanResult(
        source=content.source,
        sha256=found.signals[0].value,
        media_type=found.media_type,
        signals=tuple(found.signals),
        matches=outcome.matches,
        suppressed=outcome.suppressed,
        score=priority.score,
        explanations=priority.explanations,
        url=content.url,
        crawl_date=content.crawl_date,
        title=found.title,
        warnings=tuple(found.warnings),
        content=kept,
        thumbnails=_thumbnails(kept, found, outcome, chosen) if kept is not None else (),
    )
    return Unsettled(result, sample)


def _thumbnails(
    data: bytes, found: Fingerprint, outcome: MatchOutcome, chosen: ScanOptions
) -> tuple[tuple[float, bytes], ...]:
    """Thumbnails of the matched frames of a video kept for preservation (where each matched
    segment starts in it), made here, before any transaction, to be stored with it. A video
    that cannot give them gets none (they are then made on request)."""
    if found.media_type not in VIDEO_TYPES:
        return ()
    moments = {
        segment.query_start
        for match in outcome.matches
        if match.video is not None
        and (match.signal_type == "pdq" or match.video.query_share is not None)
        for segment in match.video.segments
    }
    try:
        return thumbnails(data, moments, limits=chosen.video)
    except InvalidInput:
        return ()
