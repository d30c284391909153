"""Near-duplicate text: MinHash over word 3-shingles of normalised text.

Normalisation folds case, accents and punctuation, so that a copy re-typed, re-formatted or
wrapped in other boilerplate still shares most shingles with its original. The fingerprint is
128 32-bit MinHash values (datasketch: scheme "affine32", seed 1, SHA-1 hashing), written as
1,024 hex digits; the distance is 1 minus the estimated Jaccard similarity."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
from datasketch import MinHash

from passerelle.core.errors import InvalidInput
from passerelle.core.signals.base import Signal

NUM_PERM = 128
SCHEME = "affine32"
SHINGLE = 3
MIN_WORDS = 12
_WORD = re.compile(r"\w+", re.UNICODE)
_HEX_LENGTH = NUM_PERM * 8


def normalise_text(text: str) -> list[str]:
    """Words of the text, lower-case, without accents or punctuation."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _WORD.findall(stripped)


def shingles(words: list[str]) -> set[bytes]:
    return {
        " ".join(words[i : i + SHINGLE]).encode("utf-8") for i in range(len(words) - SHINGLE + 1)
    }


def minhash_of(text: str) -> MinHash | None:
    words = normalise_text(text)
    if len(words) < MIN_WORDS:
        return None
    sketch = MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME)
    sketch.update_batch(list(shingles(words)))
    return sketch


def signature_to_hex(values: np.ndarray) -> str:
    return np.asarray(values, dtype=">u4").tobytes().hex()


def hex_to_signature(value: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(value), dtype=">u4").astype(np.uint32)


@dataclass(frozen=True, slots=True)
class TextType:
    name: str = "text"
    # Measured on pairs built from ../shared/data/extraction-fr (tests/eval): edited copies
    # fall at 0.00-0.53, different pages at 0.98 and above.
    default_threshold: float = 0.7
    max_threshold: float = 1.0

    def compute(self, text: str) -> Signal | None:
        """The fingerprint, or None when the text is too short to compare meaningfully."""
        sketch = minhash_of(text)
        if sketch is None:
            return None
        return Signal(self.name, signature_to_hex(sketch.hashvalues))

    def parse(self, text: str) -> Signal:
        value = text.strip().lower()
        if len(value) != _HEX_LENGTH or not re.fullmatch(r"[0-9a-f]+", value):
            raise InvalidInput(
                f"text fingerprint must be {_HEX_LENGTH} hexadecimal digits"
                f" ({NUM_PERM} MinHash values), got {len(value)} characters"
            )
        return Signal(self.name, value)

    def dump(self, signal: Signal) -> str:
        return signal.value

    def distance(self, a: Signal, b: Signal) -> float:
        left, right = hex_to_signature(a.value), hex_to_signature(b.value)
        return float(1.0 - np.count_nonzero(left == right) / NUM_PERM)

    def can_match(self, signal: Signal) -> bool:
        return True


TEXT = TextType()
