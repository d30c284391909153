"""The encrypted content store: round trip, nothing readable on disk, tampering detected."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Collection
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


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _age(path: Path, seconds: float) -> None:
    moment = time.time() - seconds
    os.utime(path, (moment, moment))


def test_staged_content_appears_only_once_published(tmp_path: Path) -> None:
    box = store(tmp_path)
    staged = box.stage(DATA)
    assert staged.sha256 == hashlib.sha256(DATA).hexdigest()
    assert not box.has(staged.sha256)  # not readable under its name before the commit
    box.publish(staged)
    assert box.get(staged.sha256) == DATA
    assert _files(tmp_path) == {str(Path(staged.sha256[:2], staged.sha256[2:4], staged.sha256))}
    again = box.stage(DATA)
    box.publish(again)  # already there: the copy is dropped
    discarded = box.stage(b"jamais valide")
    box.discard(discarded)
    assert len(_files(tmp_path)) == 1


def test_folders_removed_under_a_running_store_are_made_again(tmp_path: Path) -> None:
    box = store(tmp_path)
    box.publish(box.stage(b"premier contenu"))
    for folder in sorted(tmp_path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if folder.is_file():
            folder.unlink()
        else:
            folder.rmdir()
    staged = box.stage(DATA)
    box.publish(staged)
    assert box.get(staged.sha256) == DATA


def test_publishing_what_is_gone_says_so(tmp_path: Path) -> None:
    box = store(tmp_path)
    staged = box.stage(DATA)
    box.discard(staged)
    with pytest.raises(FileNotFoundError):
        box.publish(staged)


def test_a_sweep_publishes_what_committed_and_deletes_old_orphans_only(tmp_path: Path) -> None:
    box = store(tmp_path)
    committed = box.stage(b"la transaction a abouti")  # crash after the commit
    abandoned = box.stage(b"la transaction n'a pas abouti")  # crash before it
    running = box.stage(b"une ecriture en cours")  # a write still running
    orphan = box.put(b"ecrit avant un commit qui n'a jamais eu lieu")
    referred = box.put(b"un contenu qu'un element garde")
    for path in tmp_path.rglob("*"):
        if path.is_file() and running.name not in path.name:
            _age(path, 3600)
    kept = {committed.sha256, referred}
    asked: list[str] = []

    def is_kept(sha256s: Collection[str]) -> set[str]:
        asked.extend(sha256s)
        return kept & set(sha256s)

    swept = box.sweep(is_kept, grace_seconds=600, staged_only=True)
    assert (swept.published, swept.deleted) == (1, 1)
    assert box.has(committed.sha256) and box.has(orphan)  # the stored tree was not walked
    swept = box.sweep(is_kept, grace_seconds=600)
    assert (swept.published, swept.deleted) == (0, 1)
    assert box.has(committed.sha256) and box.has(referred) and not box.has(orphan)
    assert not box.has(abandoned.sha256)
    box.publish(running)  # the running write was left alone
    assert box.get(running.sha256) == b"une ecriture en cours"
