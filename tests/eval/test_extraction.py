"""Quality floor of extraction on ../shared/data/extraction-fr, scored as trafilatura's own
evaluation does, and language detection."""

from __future__ import annotations

import json

import pytest

from passerelle.core.content import decode_text
from passerelle.core.extract.html import extract_document, image_urls
from passerelle.core.extract.language import detect_language
from tests.shared import shared


def score() -> dict[str, float]:
    gold = json.loads(shared("extraction-fr", "gold.json").read_text(encoding="utf-8"))
    true_pos = false_neg = false_pos = 0
    languages = set()
    for url, entry in gold.items():
        html = decode_text(shared("extraction-fr", "html", entry["file"]).read_bytes())
        document = extract_document(html, url=url)
        languages.add(document.language)
        true_pos += sum(snippet in document.text for snippet in entry.get("with", []))
        false_neg += sum(snippet not in document.text for snippet in entry.get("with", []))
        false_pos += sum(snippet in document.text for snippet in entry.get("without", []))
    precision = true_pos / (true_pos + false_pos)
    recall = true_pos / (true_pos + false_neg)
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall),
        "languages": len(languages),
    }


def test_extraction_quality_floor(capsys: pytest.CaptureFixture[str]) -> None:
    figures = score()
    with capsys.disabled():
        print(f"\nextraction on extraction-fr: {figures}")
    assert figures["precision"] >= 0.88
    assert figures["recall"] >= 0.97
    assert figures["f1"] >= 0.92
    assert figures["languages"] == 1  # every page is French


def test_titles_dates_and_images_of_a_page() -> None:
    html = decode_text(
        shared("extraction-fr", "html", "ledevoir.com.trottinettes.html").read_bytes()
    )
    document = extract_document(html, url="https://www.ledevoir.com/politique/montreal/573258/x")
    assert document.title == "La fin des trottinettes en libre-service à Montréal"
    assert document.date == "2020-02-19"
    assert document.language == "fr"
    assert all(u.startswith("https://") for u in document.image_urls)
    assert "![" not in document.text


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (
            "La France et le Québec s'entendent sur une nouvelle coopération contre la radicalisation.",
            "fr",
        ),
        ("The two governments agreed to cooperate closely on prevention in communities.", "en"),
        (
            "Die beiden Regierungen haben eine enge Zusammenarbeit bei der Prävention vereinbart.",
            "de",
        ),
        ("اتفقت الحكومتان على التعاون الوثيق في مجال الوقاية في المجتمعات المحلية", "ar"),
        (
            "Los dos gobiernos acordaron cooperar estrechamente en la prevención en las comunidades.",
            "es",
        ),
        (
            "I due governi hanno concordato di collaborare strettamente nella prevenzione nelle comunità.",
            "it",
        ),
        (
            "De twee regeringen kwamen overeen nauw samen te werken aan preventie in gemeenschappen.",
            "nl",
        ),
        (
            "Os dois governos concordaram em cooperar estreitamente na prevenção nas comunidades.",
            "pt",
        ),
        ("ok", None),
        ("", None),
        ("1234 5678 !!!", None),
    ],
)
def test_languages(text: str, language: str | None) -> None:
    assert detect_language(text).language == language


@pytest.mark.parametrize(
    "html",
    ["", "<", "<html><body>", "\x00\x01\x02", "<html>" * 10000, "<img src='data:x'><img src=''>"],
)
def test_broken_html_gives_an_empty_or_short_document_never_an_error(html: str) -> None:
    document = extract_document(html)
    assert isinstance(document.text, str)
    assert image_urls(html, None) == ()
