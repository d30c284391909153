"""Extraction on ../shared/data/extraction-fr: precision, recall, F1 and pages per second of
Passerelle's analyst extraction against trafilatura's defaults, in the same run, scored as
trafilatura's own evaluation scores (with/without snippets).

    .venv/bin/python -m benchmarks.bench_extraction [REPEATS]
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import trafilatura

from passerelle.core.content import decode_text
from passerelle.core.extract.html import extract_document, fingerprint_text
from passerelle.core.extract.language import detect_language

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "extraction-fr"


def pages() -> list[tuple[str, str, dict[str, list[str]]]]:
    gold = json.loads((DATA / "gold.json").read_text(encoding="utf-8"))
    return [
        (url, decode_text((DATA / "html" / entry["file"]).read_bytes()), entry)
        for url, entry in gold.items()
    ]


def evaluate(extract: Callable[[str, str], str], repeats: int) -> tuple[float, float, float, float]:
    corpus = pages()
    tp = fn = fp = 0
    start = time.perf_counter()
    for _ in range(repeats):
        texts = [extract(html, url) for url, html, _ in corpus]
    elapsed = time.perf_counter() - start
    for text, (_, _, entry) in zip(texts, corpus, strict=True):
        tp += sum(s in text for s in entry.get("with", []))
        fn += sum(s not in text for s in entry.get("with", []))
        fp += sum(s in text for s in entry.get("without", []))
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    f1 = 2 * precision * recall / (precision + recall)
    return precision, recall, f1, repeats * len(corpus) / elapsed


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    detect_language("préchauffage du modèle")
    warnings.simplefilter("ignore")
    rows = {
        "passerelle extract (analyst view)": lambda html, url: extract_document(html, url=url).text,
        "passerelle fingerprint text (fast path)": lambda html, _url: fingerprint_text(html),
        "trafilatura.extract (defaults)": lambda html, _url: trafilatura.extract(html) or "",
    }
    results = {name: evaluate(fn, repeats) for name, fn in rows.items()}
    print(f"extraction-fr: {len(pages())} pages, {repeats} passes")
    for name, (p, r, f1, rate) in results.items():
        print(f"  {name:<42} precision {p:.3f}  recall {r:.3f}  F1 {f1:.3f}  {rate:7.1f} pages/s")
    ours = results["passerelle extract (analyst view)"]
    peer = results["trafilatura.extract (defaults)"]
    print(f"extraction_f1: {ours[2] / peer[2]:.2f}x vs trafilatura defaults")
    print(f"extraction_speed: {ours[3] / peer[3]:.2f}x vs trafilatura defaults")


if __name__ == "__main__":
    main()
