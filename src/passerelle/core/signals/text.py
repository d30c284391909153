"""Near-duplicate text: MinHash over word 3-shingles of normalised text.

Normalisation folds case, accents and punctuation, so that a copy re-typed, re-formatted or
wrapped in other boilerplate still shares most shingles with its original. Fingerprint v1:

- words: `\\w+` runs of the text after NFKD, case folding and removal of combining marks;
- each word hashed with CRC-32; a shingle of three words hashed by mixing their three
  CRC-32 values (`_mix` below), all in NumPy;
- 128 MinHash values of the distinct shingle hashes (datasketch: scheme "affine32", seed 1),
  written as 1,024 hex digits.

The distance is 1 minus the estimated Jaccard similarity (the share of differing values)."""

from __future__ import annotations

import re
import unicodedata
import zlib
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from passerelle.core.errors import InvalidInput
from passerelle.core.signals.base import Signal

NUM_PERM = 128
SCHEME = "affine32"
SHINGLE = 3
MIN_WORDS = 12
_WORD = re.compile(r"\w+", re.UNICODE)
# Combining marks: Latin accents, Greek, Cyrillic, Hebrew points, Arabic harakat.
_COMBINING = re.compile(r"[\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u064b-\u065f\u0670]")
_HEX_LENGTH = NUM_PERM * 8


def normalise_text(text: str) -> list[str]:
    """Words of the text, lower-case, without accents or punctuation."""
    return _words_of_folded(_folded(text))


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKD", text.casefold())


def _words_of_folded(folded: str) -> list[str]:
    return _WORD.findall(_COMBINING.sub("", folded))


# Past this many distinct characters beyond ASCII (a French page has about ten), replacing
# them one by one would cost more than the regular expression: a text of every character
# would take hours.
_MAX_REPLACED = 100
# ASCII bytes that are not word characters (all but letters, digits and `_`) become spaces;
# the other bytes (UTF-8 of characters past ASCII) stay as they are.
_ASCII_NON_WORD_TO_SPACE = bytes(
    byte if _WORD.match(chr(byte)) else ord(" ") for byte in range(128)
) + bytes(range(128, 256))


def normalised_words(text: str) -> list[bytes]:
    """`normalise_text`'s words, each in UTF-8, three times as fast: no regular expression
    runs over the whole text (Python's `\\w` costs some 30 ns a character). The few distinct
    characters past ASCII are sorted once each (a combining mark is removed, any other
    character that is not a word character becomes a space), then the UTF-8 bytes are split
    with ASCII punctuation turned into spaces. Same words for every text (the tests compare
    both over every Unicode character)."""
    folded = _folded(text)
    if not folded.isascii():
        # A text mostly past ASCII (Arabic, Cyrillic, Chinese) has too many distinct
        # characters to sort one by one, and even the set of them costs more than the
        # definition: its UTF-8 is a quarter longer than its characters, or more.
        if len(folded.encode("utf-8", "surrogatepass")) - len(folded) > len(folded) // 4:
            return _defined_words(folded)
        past_ascii = [char for char in set(folded) if char >= "\x80"]
        if len(past_ascii) > _MAX_REPLACED:  # one pass over the text each: the definition
            return _defined_words(folded)
        for char in past_ascii:
            if _COMBINING.match(char):
                folded = folded.replace(char, "")
            elif not _WORD.match(char):
                folded = folded.replace(char, " ")
    return folded.encode().translate(_ASCII_NON_WORD_TO_SPACE).split()


def _defined_words(folded: str) -> list[bytes]:
    return [word.encode() for word in _words_of_folded(folded)]


def _mix(values: np.ndarray) -> np.ndarray:
    """A 32-bit avalanche (the MurmurHash3 finaliser), in place over a uint32 array (its
    products wrap modulo 2**32, as the finaliser's do)."""
    values ^= values >> np.uint32(16)
    values *= np.uint32(0x85EBCA6B)
    values ^= values >> np.uint32(13)
    values *= np.uint32(0xC2B2AE35)
    values ^= values >> np.uint32(16)
    return values


def shingle_hashes(words: list[str]) -> np.ndarray:
    """Distinct 32-bit hashes of the word 3-shingles."""
    return np.unique(_shingles_in_order(words))


def _shingles_in_order(words: list[str]) -> np.ndarray:
    """The hash of the shingle that starts at each word (all but the last two)."""
    return _shingles_of_utf8([word.encode() for word in words])


def _shingles_of_utf8(words: list[bytes]) -> np.ndarray:
    # map() keeps the per-word loop in C: a third of the time of a generator expression.
    word_hashes = np.fromiter(map(zlib.crc32, words), dtype=np.uint32, count=len(words))
    # Each word mixed three ways (as first, second and third word of a shingle), all in
    # 32 bits: no widening to 64 bits, no mask, no copy but the first.
    combined = _mix(word_hashes[:-2].copy())
    combined ^= _mix(word_hashes[1:-1] ^ np.uint32(0x9E3779B9))
    combined ^= _mix(word_hashes[2:] ^ np.uint32(0x7F4A7C15))
    return _mix(combined)


if TYPE_CHECKING:
    from datasketch import MinHash


def _minhash(**options: object) -> MinHash:
    # datasketch (and SciPy behind it) loads on the first text fingerprint, not at start-up.
    from datasketch import MinHash

    return MinHash(**options)


def _identity(value: int) -> int:
    return value


@cache
def _permutations() -> np.ndarray:
    """The (a, b) pairs of the 128 permutations, drawn as datasketch draws them for "affine32"
    and seed 1 (the same NumPy generator, the same calls): without importing datasketch and
    SciPy, which took 2.5 s of each scanning process's start."""
    generator = np.random.RandomState(1)
    a = generator.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return np.array([a, b])


# Shingles permuted at a time: bounds the (shingles x 128) intermediate to 512 KiB.
_PERMUTE_BLOCK = 1024


def signature_of(text: str) -> np.ndarray | None:
    """The 128 MinHash values of the text (None when it is too short), computed as
    datasketch's "affine32" scheme computes them (MurmurHash3 pre-mix, then a * h + b
    modulo 2**32, the minimum of each permutation), without building a `MinHash` object or
    a Python list of the shingles: about half the time per page."""
    words = normalised_words(text)
    if len(words) < MIN_WORDS:
        return None
    # The minimum over repeated shingles is the minimum over the distinct ones: no need to
    # make them distinct first (a sort or a hash table per page).
    values = _mix(_shingles_of_utf8(words))  # datasketch's MurmurHash3 pre-mix
    a, b = _permutations()
    found = np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32)
    # One buffer, written in place: temporaries per operation took 2.5 times as long.
    permuted = np.empty((min(len(values), _PERMUTE_BLOCK), NUM_PERM), dtype=np.uint32)
    for start in range(0, len(values), _PERMUTE_BLOCK):
        block = values[start : start + _PERMUTE_BLOCK, None]
        out = permuted[: len(block)]
        np.multiply(block, a, out=out)
        np.add(out, b, out=out)
        np.minimum(found, out.min(axis=0), out=found)
    return found


def minhash_of(text: str) -> MinHash | None:
    words = normalise_text(text)
    if len(words) < MIN_WORDS:
        return None
    sketch = _minhash(
        num_perm=NUM_PERM, scheme=SCHEME, hashfunc=_identity, permutations=_permutations()
    )
    sketch.update_batch(shingle_hashes(words).tolist())
    return sketch


def signature_to_hex(values: np.ndarray) -> str:
    return np.asarray(values, dtype=">u4").tobytes().hex()


def hex_to_signature(value: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(value), dtype=">u4").astype(np.uint32)


def _words_with_spans(text: str) -> list[tuple[str, int, int]]:
    """The words of `normalise_text`, each with the span of the original text it came from."""
    found = []
    for match in _WORD.finditer(text):
        for word in normalise_text(match.group()):
            found.append((word, match.start(), match.end()))
    return found


def _permuted(values: np.ndarray) -> np.ndarray:
    """Each shingle hash under the 128 permutations (one row per hash), by datasketch itself."""
    rows = []
    for value in values.tolist():
        one = _minhash(
            num_perm=NUM_PERM, scheme=SCHEME, hashfunc=_identity, permutations=_permutations()
        )
        one.update_batch([value])
        rows.append(one.hashvalues)
    return np.vstack(rows)


def witness_spans(text: str, fingerprint: str) -> list[tuple[int, int]]:
    """The passages of `text` that make it match `fingerprint`: the character spans of its
    word 3-shingles that hold the same MinHash minimum as the fingerprint does. Where a
    minimum agrees, the shingle that gives it is, but for a 2**-32 collision, one the
    fingerprinted text also had. Overlapping and touching spans are merged."""
    words = _words_with_spans(text)
    if len(words) < MIN_WORDS or [w for w, _, _ in words] != normalise_text(text):
        return []  # no highlighting rather than a wrong one
    in_order = _shingles_in_order([w for w, _, _ in words])
    distinct = np.unique(in_order)
    permuted = _permuted(distinct)
    target = hex_to_signature(fingerprint)
    agreeing = np.flatnonzero(permuted.min(axis=0) == target)
    witnesses = set(distinct[permuted[:, agreeing].argmin(axis=0)].tolist())
    spans: list[tuple[int, int]] = []
    for start, value in enumerate(in_order.tolist()):
        if value not in witnesses:
            continue
        begin, end = words[start][1], words[start + SHINGLE - 1][2]
        if spans and begin <= spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((begin, end))
    return spans


@dataclass(frozen=True, slots=True)
class TextType:
    name: str = "text"
    # Measured on pairs built from ../shared/data/extraction-fr (tests/eval): edited copies
    # fall at 0.00-0.53, different pages at 0.98 and above.
    default_threshold: float = 0.7
    max_threshold: float = 1.0

    def compute(self, text: str) -> Signal | None:
        """The fingerprint, or None when the text is too short to compare meaningfully."""
        values = signature_of(text)
        if values is None:
            return None
        return Signal(self.name, signature_to_hex(values))

    def parse(self, text: str) -> Signal:
        value = text.strip().lower()
        if len(value) != _HEX_LENGTH or not re.fullmatch(r"[0-9a-f]+", value):
            raise InvalidInput(
                "text fingerprint must be %(length)s hexadecimal digits"
                " (%(count)s MinHash values), got %(got)s characters",
                length=_HEX_LENGTH,
                count=NUM_PERM,
                got=len(value),
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
