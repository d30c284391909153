"""An encrypted, content-addressed file store for preserved content.

Each item is stored once under its SHA-256 (`ab/cd/<sha256>`), encrypted with AES-256-GCM; the
SHA-256 is the associated data, so a file moved to another name does not decrypt. The key is
derived from the instance's secret with HKDF (or given directly). Partners never receive it."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from passerelle.core.errors import InvalidInput, NotFound, PasserelleError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
NONCE_BYTES = 12


class ContentDamaged(PasserelleError):
    """A stored file does not decrypt: changed, truncated, or encrypted with another key."""


def derive_content_key(secret: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"passerelle content store v1"
    ).derive(secret.encode("utf-8"))


class EncryptedContentStore:
    def __init__(self, root: Path, key: bytes) -> None:
        if len(key) != 32:
            raise InvalidInput("the content key must be 32 bytes")
        self._root = root
        self._aead = AESGCM(key)
        self._word_key = hmac.new(key, b"passerelle search words v1", hashlib.sha256).digest()

    def blind_words(self, words: Sequence[str]) -> list[str]:
        """Keyed digests of words, for the search index of preserved texts: the index finds
        a word typed in the search box but does not hold the words of the content."""
        return [
            hmac.new(self._word_key, word.encode("utf-8"), hashlib.sha256).hexdigest()[:24]
            for word in words
        ]

    def _path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise InvalidInput(f"not a SHA-256: {sha256!r}")
        return self._root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Store `data` (once) and return its SHA-256."""
        sha256 = hashlib.sha256(data).hexdigest()
        path = self._path(sha256)
        if path.exists():
            return sha256
        path.parent.mkdir(parents=True, exist_ok=True)
        nonce = os.urandom(NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, data, sha256.encode("ascii"))
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(sealed)
        temporary.replace(path)  # atomic: a reader never sees half a file
        return sha256

    def get(self, sha256: str) -> bytes:
        path = self._path(sha256)
        try:
            sealed = path.read_bytes()
        except FileNotFoundError:
            raise NotFound("content not preserved") from None
        try:
            data = self._aead.decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], sha256.encode("ascii")
            )
        except InvalidTag:
            raise ContentDamaged(f"preserved content {sha256[:12]}… does not decrypt") from None
        return data

    def stored(self) -> Iterator[str]:
        """The SHA-256 of every stored item (for re-encryption under a new secret)."""
        for path in sorted(self._root.glob("??/??/*")):
            if _SHA256.match(path.name):
                yield path.name

    def opens(self, sha256: str) -> bool:
        """Does the stored item decrypt with this store's key?"""
        try:
            self.get(sha256)
        except ContentDamaged:
            return False
        return True

    def reencrypt_from(self, old: EncryptedContentStore, sha256: str) -> bool:
        """Re-encrypt one item sealed with `old`'s key under this store's key, atomically;
        False when it already opens with this key (a rotation run again goes on where it
        stopped). ContentDamaged when it opens with neither."""
        if self.opens(sha256):
            return False
        data = old.get(sha256)
        path = self._path(sha256)
        nonce = os.urandom(NONCE_BYTES)
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(nonce + self._aead.encrypt(nonce, data, sha256.encode("ascii")))
        temporary.replace(path)
        return True

    def has(self, sha256: str) -> bool:
        return self._path(sha256).exists()

    def delete(self, sha256: str) -> bool:
        path = self._path(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True
