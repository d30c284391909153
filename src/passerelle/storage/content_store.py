"""An encrypted, content-addressed file store for preserved content.

Each item is stored once under its SHA-256 (`ab/cd/<sha256>`), encrypted with AES-256-GCM; the
SHA-256 is the associated data, so a file moved to another name does not decrypt. The key is
derived from the instance's secret with HKDF (or given directly). Partners never receive it.

Writes that belong to a database transaction are *staged* (`staging/<sha256>.<token>`) before
the commit and *published* (renamed into place) after it, so that a crash never leaves a file
that no row refers to under a final name; `sweep` publishes what was committed and deletes
what was not, once older than a grace period.

Files derived from an item (the thumbnails of a video's matched frames) live beside it under
`derived/ab/cd/<sha256>/<name>`, encrypted the same way (the SHA-256 and the name are the
associated data), and go with it: `delete` and `sweep` remove them with the item."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from passerelle.core.errors import InvalidInput, NotFound, PasserelleError
from passerelle.core.ports import StagedContent, Swept

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_STAGED = re.compile(r"^[0-9a-f]{64}\.[0-9a-f]{32}$")
_DERIVED_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{0,63}$")
DERIVED = "derived"
NONCE_BYTES = 12
STAGING = "staging"
SWEEP_CHUNK = 500


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
            raise InvalidInput("not a SHA-256: %(sha256)s", sha256=repr(sha256))
        return self._root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Store `data` (once) and return its SHA-256."""
        sha256 = hashlib.sha256(data).hexdigest()
        path = self._path(sha256)
        if path.exists():
            return sha256
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(self._seal(sha256, data))
        temporary.replace(path)  # atomic: a reader never sees half a file
        return sha256

    def _seal(self, sha256: str, data: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data, sha256.encode("ascii"))

    def stage(self, data: bytes) -> StagedContent:
        """Write `data` under a temporary name, to be published once the transaction that
        refers to it has committed (or discarded)."""
        sha256 = hashlib.sha256(data).hexdigest()
        folder = self._root / STAGING
        name = f"{sha256}.{uuid.uuid4().hex}"
        sealed = self._seal(sha256, data)
        try:  # the folder is made once, not asked for at every write (an ingest writes many)
            (folder / name).write_bytes(sealed)
        except FileNotFoundError:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(sealed)
        return StagedContent(sha256=sha256, name=name)

    def publish(self, staged: StagedContent) -> None:
        """Move staged content into place (atomic); when it is there already, drop the copy."""
        source = self._staged_path(staged)
        target = self._path(staged.sha256)
        try:  # over a copy already there: the same bytes, sealed again (rename is atomic)
            _move(source, target)
        except FileNotFoundError:
            if not target.exists():  # published by a sweep meanwhile is fine; lost is not
                raise

    def discard(self, staged: StagedContent) -> None:
        self._staged_path(staged).unlink(missing_ok=True)

    def _staged_path(self, staged: StagedContent) -> Path:
        if not _STAGED.match(staged.name) or not staged.name.startswith(staged.sha256):
            raise InvalidInput("not a staged name: %(name)s", name=repr(staged.name))
        return self._root / STAGING / staged.name

    def sweep(
        self,
        kept: Callable[[Collection[str]], set[str]],
        *,
        grace_seconds: float,
        staged_only: bool = False,
    ) -> Swept:
        """Put the store back in step with the database after a crash. `kept` answers which
        of the given SHA-256 some item still refers to. Staged content that is referred to is
        published (its transaction committed); files that nothing refers to and older than
        `grace_seconds` (younger ones may belong to a write still running) are deleted. With
        `staged_only`, the (large) tree of stored files is not walked."""
        limit = time.time() - grace_seconds
        published = deleted = 0
        staged = sorted((self._root / STAGING).glob("*")) if (self._root / STAGING).is_dir() else []
        for chunk in _chunks(staged):
            referred = kept({path.name.partition(".")[0] for path in chunk})
            for path in chunk:
                sha256 = path.name.partition(".")[0]
                if _STAGED.match(path.name) and sha256 in referred:
                    self.publish(StagedContent(sha256=sha256, name=path.name))
                    published += 1
                elif _is_older(path, limit):
                    path.unlink(missing_ok=True)
                    deleted += 1
        if staged_only:
            return Swept(published, deleted)
        stored = (p for p in self._root.glob("??/??/*") if p.is_file())
        for chunk in _chunks(stored):
            names = {p.name for p in chunk if _SHA256.match(p.name)}
            referred = kept(names)
            for path in chunk:
                if path.name not in referred and _is_older(path, limit):
                    path.unlink(missing_ok=True)  # an orphan, or a `.tmp` left by a crash
                    deleted += 1
        deleted += self._sweep_derived(kept, limit)
        return Swept(published, deleted)

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
        """Delete an item and the files derived from it."""
        path = self._path(sha256)
        shutil.rmtree(self._derived_dir(sha256), ignore_errors=True)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def _derived_dir(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise InvalidInput("not a SHA-256: %(sha256)s", sha256=repr(sha256))
        return self._root / DERIVED / sha256[:2] / sha256[2:4] / sha256

    def _derived_path(self, sha256: str, name: str) -> Path:
        if not _DERIVED_NAME.match(name):
            raise InvalidInput("not a derived file name: %(name)s", name=repr(name))
        return self._derived_dir(sha256) / name

    def put_derived(self, sha256: str, name: str, data: bytes) -> None:
        """Keep a file made from item `sha256` (a thumbnail), encrypted, until it goes."""
        path = self._derived_path(sha256, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        nonce = os.urandom(NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, data, f"{sha256}/{name}".encode("ascii"))
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(sealed)
        temporary.replace(path)

    def get_derived(self, sha256: str, name: str) -> bytes:
        path = self._derived_path(sha256, name)
        try:
            sealed = path.read_bytes()
        except FileNotFoundError:
            raise NotFound("no %(name)s kept for this content", name=name) from None
        try:
            return self._aead.decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], f"{sha256}/{name}".encode("ascii")
            )
        except InvalidTag:
            raise ContentDamaged(f"{name} of {sha256[:12]}… does not decrypt") from None

    def _sweep_derived(self, kept: Callable[[Collection[str]], set[str]], limit: float) -> int:
        """Derived files of items nothing refers to (their item deleted, or never committed)."""
        deleted = 0
        folders = (p for p in (self._root / DERIVED).glob("??/??/*") if p.is_dir())
        for chunk in _chunks(folders):
            referred = kept({p.name for p in chunk if _SHA256.match(p.name)})
            for folder in chunk:
                if folder.name not in referred and _is_older(folder, limit):
                    shutil.rmtree(folder, ignore_errors=True)
                    deleted += 1
        return deleted


def _is_older(path: Path, limit: float) -> bool:
    try:
        return path.stat().st_mtime < limit
    except FileNotFoundError:
        return False


def _chunks(paths: Iterable[Path]) -> Iterator[list[Path]]:
    chunk: list[Path] = []
    for path in paths:
        chunk.append(path)
        if len(chunk) >= SWEEP_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _move(source: Path, target: Path) -> None:
    """Rename `source` to `target`, making the target's folder when it is missing (asked
    only then: most folders exist once the store holds some thousand files)."""
    try:
        source.replace(target)
    except FileNotFoundError:
        if not source.exists():
            raise
        target.parent.mkdir(parents=True, exist_ok=True)
        source.replace(target)
