"""What the search box of the console understands, and the keys the search looks up.

One box takes a SHA-256, an MD5, a PDQ hash (64 hex digits: both the SHA-256 and the near
duplicates within the PDQ threshold are looked up), an address (found by its canonical
form), the reference of a public report (PSL-…), or words of a page's text (every word must
be in it).

PDQ near duplicates are found through a multi-index (the principle of `index.mih`): the
256 bits are cut into 16 bands of 16 bits; a hash within `radius` of another has, by the
pigeonhole principle, at least one band within `radius // 16` bits of the other's. Each
stored hash is kept under its 16 band keys, and a query probes every band value within that
many bits: a few hundred exact look-ups, whatever the number of images."""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from itertools import combinations

from passerelle.core.errors import InvalidInput
from passerelle.core.signals.url import canonicalize_url

BANDS = 16
BAND_BITS = 16
MAX_WORDS_INDEXED = 5000  # distinct words of one text; the rest of a huge page is not indexed
MAX_QUERY_WORDS = 8
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_REFERENCE = re.compile(r"^PSL-[A-Z0-9]{8}$", re.IGNORECASE)
_WORD = re.compile(r"\w{2,40}")
_LOOKS_LIKE_ADDRESS = re.compile(r"^(https?://|www\.)|^[a-z0-9-]+(\.[a-z0-9-]+)+(/|$)", re.I)


class SearchKind(enum.StrEnum):
    HASH = "hash"  # 64 hex digits: a SHA-256, or a PDQ hash (near duplicates)
    MD5 = "md5"
    URL = "url"
    REFERENCE = "reference"
    WORDS = "words"


@dataclass(frozen=True, slots=True)
class SearchQuery:
    kind: SearchKind
    text: str  # as typed, trimmed
    value: str  # lower-case hex, canonical URL, upper-case reference, or "" for words
    words: tuple[str, ...] = ()


def parse_search(text: str) -> SearchQuery:
    """What the box holds; refused when empty or when it holds no word to look for."""
    typed = text.strip()
    if not typed:
        raise InvalidInput("type a hash, an address, a reference or words", field="q")
    if len(typed) > 2000:
        raise InvalidInput("the search is too long", field="q")
    if _HEX.match(typed) and len(typed) == 64:
        return SearchQuery(SearchKind.HASH, typed, typed.lower())
    if _HEX.match(typed) and len(typed) == 32:
        return SearchQuery(SearchKind.MD5, typed, typed.lower())
    if _REFERENCE.match(typed):
        return SearchQuery(SearchKind.REFERENCE, typed, typed.upper())
    if " " not in typed and _LOOKS_LIKE_ADDRESS.match(typed):
        address = typed if "://" in typed else "https://" + typed
        return SearchQuery(SearchKind.URL, typed, canonicalize_url(address))
    words = tuple(dict.fromkeys(words_of(typed)))
    if not words:
        raise InvalidInput("type a hash, an address, a reference or words", field="q")
    return SearchQuery(SearchKind.WORDS, typed, "", words[:MAX_QUERY_WORDS])


def words_of(text: str) -> list[str]:
    """The words of a text as they are indexed and searched: case and accents folded
    ("Église" and "eglise" are one word), at least two letters."""
    folded = text.casefold()
    if folded.isascii():  # nothing to decompose nor strip (most of a crawl's pages)
        return _WORD.findall(folded)
    folded = unicodedata.normalize("NFKD", folded)
    # Each distinct character asked once, not each character of the text.
    marks = {ord(ch): None for ch in set(folded) if unicodedata.combining(ch)}
    return _WORD.findall(folded.translate(marks))


def distinct_words(text: str) -> list[str]:
    """The distinct words of a text to index, at most MAX_WORDS_INDEXED of them."""
    return list(dict.fromkeys(words_of(text)))[:MAX_WORDS_INDEXED]


def _bands(value: str) -> list[int]:
    if len(value) != BANDS * BAND_BITS // 4 or not _HEX.match(value):
        raise InvalidInput("not a PDQ hash: %(value)s", value=repr(value))
    width = BAND_BITS // 4
    return [int(value[i : i + width], 16) for i in range(0, len(value), width)]


def _band_key(band: int, sub: int) -> str:
    return f"{band:x}{sub:04x}"


def pdq_band_keys(value: str) -> list[str]:
    """The 16 keys a PDQ hash is stored under."""
    return [_band_key(band, sub) for band, sub in enumerate(_bands(value))]


def pdq_probe_keys(value: str, radius: int) -> list[str]:
    """Every key a hash within `radius` of `value` is stored under, at least one of them."""
    flips = radius // BANDS
    masks = [0]
    for count in range(1, flips + 1):
        masks.extend(sum(1 << b for b in bits) for bits in combinations(range(BAND_BITS), count))
    return [_band_key(band, sub ^ mask) for band, sub in enumerate(_bands(value)) for mask in masks]
