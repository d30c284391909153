"""The fast path of scans: only the signal types the banks hold are computed, and a matched
item still gets every signal (what the queue, the case page and the search use)."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
from PIL import Image

from passerelle.core.bank import Bank, BankEntry, BankKind, BankOrigin
from passerelle.core.content import Content
from passerelle.core.match import Matcher
from passerelle.core.signals.pdq import PDQ
from passerelle.core.signals.text import _permutations, minhash_of, signature_of
from passerelle.core.taxonomy import Labels, Tier
from passerelle.scan import ScanOptions, compared_text, needed_signal_types, scan_many
from tests.shared import shared

BANK = Bank("b", "agency", "connu", BankKind.POSITIVE, BankOrigin.OWN, "")
LABELS = Labels(tier=Tier.PROMOTIONAL)


def _noise_jpeg() -> bytes:
    pixels = np.random.default_rng(3).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def _contents() -> list[Content]:
    page = shared("extraction-fr", "html", "ledevoir.com.trottinettes.html").read_bytes()
    image = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    other = _noise_jpeg()
    return [
        Content(source="page", data=page, url="https://exemple.test/page"),
        Content(source="image", data=image, url="https://exemple.test/a.jpg"),
        Content(source="other", data=other, url="https://exemple.test/b.jpg"),
    ]


def test_only_the_banked_types_are_computed_and_a_match_gets_them_all() -> None:
    banked = PDQ.compute(shared("pdq", "images", "aaa-orig.jpg").read_bytes())
    matcher = Matcher.build([BANK], [BankEntry("e", "b", banked, LABELS)])
    options = ScanOptions(signal_types=needed_signal_types(matcher.index.catalogue.kinds))
    page, image, other = scan_many(_contents(), matcher, options)
    full_page, full_image, _ = scan_many(_contents(), matcher, ScanOptions())
    # no text entry: the page is not parsed, nor hashed but for its name
    assert [s.type for s in page.signals] == ["sha256"] and page.title is None
    # an image no entry matches: its PDQ only
    assert [s.type for s in other.signals] == ["sha256", "pdq"]
    # the matched image: every signal, as the full path gives them, and the same match
    assert image.signals == full_image.signals
    assert [s.type for s in image.signals] == ["sha256", "md5", "url", "pdq"]
    assert image.matches == full_image.matches and len(image.matches) == 1
    assert full_page.signal("text") is not None


def test_a_page_matched_by_its_text_gets_its_title_and_every_signal() -> None:
    text = compared_text(_contents()[0].data) or ""
    banked = scan_many(_contents()[:1], Matcher.build([], []), ScanOptions())[0].signal("text")
    assert banked is not None and text
    matcher = Matcher.build([BANK], [BankEntry("e", "b", banked, LABELS)])
    options = ScanOptions(signal_types=needed_signal_types({"text"}))
    (page,) = scan_many(_contents()[:1], matcher, options)
    assert [s.type for s in page.signals] == ["sha256", "md5", "url", "text"]
    assert page.title and page.matches[0].distance == 0.0


def test_the_vectorised_minhash_equals_datasketch() -> None:
    for text in (
        compared_text(_contents()[0].data) or "",
        " ".join(f"mot{i % 997}" for i in range(30_000)),  # more shingles than one block
    ):
        sketch = minhash_of(text)
        assert sketch is not None
        assert np.array_equal(signature_of(text), sketch.hashvalues)
    assert signature_of("trop court") is None


def test_the_permutations_are_datasketchs_own() -> None:
    from datasketch import MinHash

    drawn = MinHash(num_perm=128, seed=1, scheme="affine32").permutations
    assert drawn.dtype == _permutations().dtype
    assert np.array_equal(_permutations(), drawn)


def test_a_text_fingerprint_loads_neither_datasketch_nor_scipy() -> None:
    # Each scanning process (a worker, a Spark executor) starts without them: they took
    # seconds of its start.
    code = (
        "import sys\n"
        "from passerelle.core.signals.text import TEXT\n"
        "assert TEXT.compute('un deux trois quatre cinq six sept huit neuf dix onze douze')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('datasketch', 'scipy')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
