"""Quality floor of the `text` signal: near-duplicate pairs built from the French pages of
../shared/data/extraction-fr by edits (sentences dropped, words swapped, boilerplate added),
against pairs of different pages. Precision and recall are measured at the default threshold
and printed; the floors below are what was measured, rounded down."""

from __future__ import annotations

import json
import random
import re

import pytest

from passerelle.core.content import decode_text
from passerelle.core.extract.html import fingerprint_text
from passerelle.core.signals.text import TEXT
from tests.shared import shared

BOILERPLATE = (
    "Abonnez-vous à notre infolettre pour ne rien manquer. Partagez cet article sur les réseaux."
    " Tous droits réservés. Publicité. Lire aussi : nos autres articles du jour. Mentions légales,"
    " politique de confidentialité et gestion des témoins. Contactez la rédaction."
)


def page_texts() -> list[str]:
    gold = json.loads(shared("extraction-fr", "gold.json").read_text(encoding="utf-8"))
    texts = []
    for entry in gold.values():
        html = decode_text(shared("extraction-fr", "html", entry["file"]).read_bytes())
        texts.append(fingerprint_text(html))
    return texts


def drop_sentences(text: str, rng: random.Random, share: float) -> str:
    sentences = re.split(r"(?<=[.!?»])\s+", text)
    kept = [s for s in sentences if rng.random() > share]
    return " ".join(kept or sentences[:1])


def swap_words(text: str, rng: random.Random, share: float) -> str:
    words = text.split()
    for _ in range(int(len(words) * share)):
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def add_boilerplate(text: str, _rng: random.Random, _share: float) -> str:
    return f"{BOILERPLATE}\n{text}\n{BOILERPLATE}"


EDITS = [
    ("drop 10% of sentences", drop_sentences, 0.10),
    ("drop 25% of sentences", drop_sentences, 0.25),
    ("swap 5% of words", swap_words, 0.05),
    ("swap 10% of words", swap_words, 0.10),
    ("add boilerplate", add_boilerplate, 0.0),
]


def measure() -> dict[str, float]:
    rng = random.Random(2026)
    texts = [t for t in page_texts() if len(t.split()) >= 150]
    signals = [TEXT.compute(t) for t in texts]
    threshold = TEXT.default_threshold
    true_pos = false_neg = false_pos = true_neg = 0
    for text, signal in zip(texts, signals, strict=True):
        assert signal is not None
        for _name, edit, share in EDITS:
            edited = TEXT.compute(edit(text, rng, share))
            assert edited is not None
            if TEXT.distance(signal, edited) <= threshold:
                true_pos += 1
            else:
                false_neg += 1
    for i, a in enumerate(signals):
        for b in signals[i + 1 :]:
            assert a is not None and b is not None
            if TEXT.distance(a, b) <= threshold:
                false_pos += 1
            else:
                true_neg += 1
    precision = true_pos / max(1, true_pos + false_pos)
    recall = true_pos / max(1, true_pos + false_neg)
    return {
        "pages": len(texts),
        "pairs": true_pos + false_neg,
        "negatives": false_pos + true_neg,
        "precision": precision,
        "recall": recall,
    }


def test_near_duplicate_quality_floor(capsys: pytest.CaptureFixture[str]) -> None:
    figures = measure()
    with capsys.disabled():
        print(f"\ntext near-duplicates at threshold {TEXT.default_threshold}: {figures}")
    assert figures["pages"] >= 10
    assert figures["precision"] == 1.0
    assert figures["recall"] >= 0.95


def test_the_seed_article_is_not_a_near_duplicate_of_any_page() -> None:
    seed = shared("seed", "000_5bf63a78f05527b0.txt").read_text(encoding="utf-8")
    signal = TEXT.compute(seed)
    assert signal is not None
    for text in page_texts():
        other = TEXT.compute(text)
        assert other is not None
        assert TEXT.distance(signal, other) > 0.9
