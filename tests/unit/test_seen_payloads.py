"""A payload met again in a scan is not fingerprinted again (crawls serve the same image, error
page or article at many addresses), and the results are the same as without the shortcut, on
one process and on two."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from passerelle.batch import scan_all
from passerelle.core.bank import Bank, BankEntry, BankKind, BankOrigin
from passerelle.core.content import Content
from passerelle.core.match import Matcher
from passerelle.core.message import Message
from passerelle.core.signals.pdq import PDQ
from passerelle.core.signals.text import TEXT
from passerelle.core.signals.url import URL
from passerelle.core.taxonomy import Labels, Tier
from passerelle.intake import Problem
from passerelle.scan import (
    ScanOptions,
    ScanResult,
    SeenPayloads,
    compared_text,
    needed_signal_types,
    scan_many,
)
from tests.shared import shared

BANK = Bank("b", "agency", "connu", BankKind.POSITIVE, BankOrigin.OWN, "")
LABELS = Labels(tier=Tier.PROMOTIONAL)
BANKED_URL = "https://exemple.test/copie-signalee"


def _noise_jpeg() -> bytes:
    pixels = np.random.default_rng(3).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def _page(name: str) -> bytes:
    return shared("extraction-fr", "html", name).read_bytes()


def _items() -> list[Content]:
    """Pages and images, each served at several addresses, one of them a banked address."""
    matched_page = _page("aoc.media.archaisme.html")
    other_page = _page("ledevoir.com.trottinettes.html")
    photo = shared("pdq", "images", "blur-a-lot.jpg").read_bytes()
    other_photo = _noise_jpeg()
    served = [
        ("https://exemple.test/article", matched_page),
        ("https://exemple.test/autre", other_page),
        ("https://exemple.test/photo.jpg", photo),
        ("https://exemple.test/article?utm_source=x", matched_page),
        ("https://exemple.test/carre.jpg", other_photo),
        (BANKED_URL, other_page),
        ("https://miroir.test/photo.jpg", photo),
        ("https://exemple.test/autre?page=1", other_page),
        ("https://exemple.test/carre-2.jpg", other_photo),
    ]
    return [Content(source=f"#{n}", data=data, url=url) for n, (url, data) in enumerate(served)]


def _matcher() -> Matcher:
    text = TEXT.compute(compared_text(_page("aoc.media.archaisme.html")) or "")
    assert text is not None
    photo = PDQ.compute(shared("pdq", "images", "aaa-orig.jpg").read_bytes())
    entries = [
        BankEntry("e-text", "b", text, LABELS),
        BankEntry("e-pdq", "b", photo, LABELS),
        BankEntry("e-url", "b", URL.compute(BANKED_URL), LABELS),
    ]
    return Matcher.build([BANK], entries)


def test_repeated_payloads_give_the_results_of_a_scan_without_the_shortcut() -> None:
    matcher = _matcher()
    fast = ScanOptions(signal_types=needed_signal_types(matcher.index.catalogue.kinds))
    for options in (fast, ScanOptions(), ScanOptions(language="always")):
        seen = SeenPayloads()
        once = scan_many(_items(), matcher, options, seen)
        each = [scan_many([item], matcher, options)[0] for item in _items()]
        assert once == each
        assert seen.hits == 5  # the second and third address of a payload
    matched = {r.url: sorted(m.entry_id for m in r.matches) for r in once if r.matches}
    assert matched == {
        "https://exemple.test/article": ["e-text"],
        "https://exemple.test/article?utm_source=x": ["e-text"],
        "https://exemple.test/photo.jpg": ["e-pdq"],
        "https://miroir.test/photo.jpg": ["e-pdq"],
        BANKED_URL: ["e-url"],  # the address matches, not the other copies of its page
    }
    # A matched page met again still gets its title and language for the analyst.
    again = next(r for r in once if r.url == "https://exemple.test/article?utm_source=x")
    assert again.title and again.language == "fr"


def test_a_page_met_again_is_parsed_once_even_when_it_matches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Its title and the start of its text are kept: its language needs no second parse.
    import passerelle.scan

    read: list[int] = []
    parse = passerelle.scan._read_text
    monkeypatch.setattr(
        passerelle.scan, "_read_text", lambda found, data: read.append(1) or parse(found, data)
    )
    matcher = _matcher()
    fast = ScanOptions(signal_types=needed_signal_types(matcher.index.catalogue.kinds))
    for options in (fast, ScanOptions(), ScanOptions(language="always")):
        read.clear()
        results = scan_many(_items(), matcher, options, SeenPayloads())
        assert len(read) == 2  # two distinct pages, served at five addresses
        assert sum(bool(r.matches) for r in results if r.media_type == "text/html") == 3
        assert {r.language for r in results if r.matches and r.media_type == "text/html"} == {"fr"}


def test_the_shortcut_forgets_the_oldest_payloads_beyond_its_capacity() -> None:
    matcher = _matcher()
    seen = SeenPayloads(capacity=1)
    scan_many(_items()[:3], matcher, ScanOptions(), seen)  # three payloads: only the last kept
    scan_many(_items()[3:4], matcher, ScanOptions(), seen)  # the first page again
    assert seen.hits == 0
    scan_many(_items()[3:4], matcher, ScanOptions(), seen)
    assert seen.hits == 1


def test_two_workers_give_the_results_of_one_in_the_same_order() -> None:
    matcher = _matcher()
    options = ScanOptions(signal_types=needed_signal_types(matcher.index.catalogue.kinds))
    items: list[object] = [*_items(), Problem("bad.warc", Message("truncated")), *_items()] * 5
    one = list(scan_all(items, matcher=matcher, options=options))
    two = list(scan_all(items, matcher=matcher, options=options, workers=2))
    assert one == two
    assert sum(isinstance(r, ScanResult) and bool(r.matches) for r in two) == 50


@pytest.mark.parametrize("workers", [2, 3])
def test_windows_shared_between_the_reader_and_the_workers_keep_the_results_and_order(
    workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small windows, many of them: the reading process scans those the workers have no room
    # for (all of them while the workers start), and the results stay those of one process.
    import passerelle.batch

    monkeypatch.setattr(passerelle.batch, "MATCH_BATCH", 2)
    matcher = _matcher()
    options = ScanOptions(signal_types=needed_signal_types(matcher.index.catalogue.kinds))
    items: list[object] = [*_items(), Problem("bad.warc", Message("truncated")), *_items()] * 4
    one = list(scan_all(items, matcher=matcher, options=options))
    many = list(scan_all(items, matcher=matcher, options=options, workers=workers))
    assert many == one
    assert [r.source for r in many if isinstance(r, ScanResult)] == [
        i.source for i in items if isinstance(i, Content)
    ]


def test_the_language_sample_is_the_one_the_language_module_reads() -> None:
    from passerelle.core.extract.language import SAMPLE_CHARS
    from passerelle.scan import LANGUAGE_SAMPLE_CHARS

    assert LANGUAGE_SAMPLE_CHARS == SAMPLE_CHARS
