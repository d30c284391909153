"""The encrypted content store: round trip, nothing readable on disk, tampering detected."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from passerelle.core.errors import InvalidInput, NotFound
from passerelle.storage.content_store import (
    ContentDamaged,
    EncryptedContentStore,
    derive_content_key,
)

SECRET = "a-secret-of-at-least-thirty-two-characters"
DATA = b"contenu de remplacement, texte neutre " * 20


def store(root: Path, secret: str = SECRET) -> EncryptedContentStore:
    return EncryptedContentStore(root, derive_content_key(secret))


def test_round_trip_and_addressing(tmp_path: Path) -> None:
    box = store(tmp_path)
    sha = box.put(DATA)
    assert sha == hashlib.sha256(DATA).hexdigest()
    assert box.put(DATA) == sha  # stored once
    assert box.get(sha) == DATA and box.has(sha)
    (path,) = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert path.relative_to(tmp_path).parts == (sha[:2], sha[2:4], sha)
    assert b"contenu" not in path.read_bytes()  # encrypted at rest
    assert box.delete(sha) and not box.has(sha) and not box.delete(sha)


def test_tampering_another_key_and_moved_files_are_detected(tmp_path: Path) -> None:
    box = store(tmp_path)
    sha = box.put(DATA)
    other = box.put(b"un autre contenu")
    with pytest.raises(ContentDamaged):
        store(tmp_path, secret=SECRET + "!").get(sha)
    path = next(p for p in tmp_path.rglob(sha))
    original = path.read_bytes()
    path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(ContentDamaged, match="does not decrypt"):
        box.get(sha)
    path.write_bytes(next(p for p in tmp_path.rglob(other)).read_bytes())  # swapped files
    with pytest.raises(ContentDamaged):
        box.get(sha)


def test_bad_addresses(tmp_path: Path) -> None:
    box = store(tmp_path)
    with pytest.raises(NotFound):
        box.get("0" * 64)
    with pytest.raises(InvalidInput, match="not a SHA-256"):
        box.get("../../etc/passwd")
    with pytest.raises(InvalidInput, match="32 bytes"):
        EncryptedContentStore(tmp_path, b"short")
