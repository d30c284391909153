"""Language identification over the languages Passerelle's partners meet most: py3langid's
model restricted to them, loaded once per process (about 120 MB at peak, 1 s)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

LANGUAGES = ("fr", "en", "ar", "de", "es", "it", "nl", "pt")
MIN_CONFIDENCE = 0.5
_LETTERS = re.compile(r"[^\W\d_]")
SAMPLE_CHARS = 1000


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    language: str | None
    confidence: float


@cache
def _identifier() -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def detect_language(text: str) -> LanguageGuess:
    """The most likely of LANGUAGES, or None when the text is too short or too unsure."""
    sample = text[:SAMPLE_CHARS]
    if len(_LETTERS.findall(sample)) < 20:
        return LanguageGuess(None, 0.0)
    language, confidence = _identifier().classify(sample)
    if confidence < MIN_CONFIDENCE:
        return LanguageGuess(None, float(confidence))
    return LanguageGuess(str(language), float(confidence))
