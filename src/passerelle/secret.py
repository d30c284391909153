"""The instance secret (PASSERELLE_SECRET_KEY): check at start-up that it opens what this
instance sealed with it, and rotate it.

What the secret seals: the agencies' Ed25519 private keys, the audit chain's MAC keys, and the
preserved content (its AES-GCM key is derived from the secret). A changed secret opens none of
them: every entry point checks first and refuses with one message naming the variable.

Rotation (`passerelle secret rotate`) runs with the service stopped, in two steps:
1. one database transaction re-seals every agency key and every audit MAC key under the new
   secret, opens a new audit key epoch and writes the rotation event as its first event (the
   chain goes on, keyed with the new key; `audit verify` opens every epoch with the new
   secret);
2. each preserved file is re-encrypted under the new key, one at a time, atomically.
Interrupted, the command is run again with the same two secrets: step 1 is skipped when the
keys already open with the new secret, and step 2 skips the files that already do."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from passerelle.core.audit import AuditEntry
from passerelle.core.errors import InvalidInput, WrongSecret
from passerelle.db.session import Database
from passerelle.exchange.signing import open_private, reseal_private
from passerelle.storage.content_store import (
    ContentDamaged,
    EncryptedContentStore,
    derive_content_key,
)


def check_secret(database: Database, secret: str) -> None:
    """WrongSecret unless the secret opens the audit chain's keys and every agency key."""
    with database.unit_of_work() as uow:
        uow.audit.keyring()
        for _, sealed in uow.exchange.sealed_keys():
            open_private(sealed, secret)


@dataclass(frozen=True, slots=True)
class Rotation:
    keys_resealed: int  # agency keys; 0 when the database step was already done
    epoch: int | None  # the new audit key epoch; None when already done
    files_reencrypted: int
    files_already_done: int
    files_damaged: int


def _rotate_database(database: Database, old: str, new: str) -> tuple[int, int | None]:
    try:
        check_secret(Database(database.engine, secret=new), new)
    except WrongSecret:
        pass
    else:
        return 0, None  # done by an earlier run: the keys already open with the new secret
    check_secret(database, old)
    with database.unit_of_work(write=True) as uow:
        keys = uow.exchange.sealed_keys()
        for key_id, sealed in keys:
            uow.exchange.replace_sealed_key(key_id, reseal_private(sealed, old, new))
        epoch = uow.audit.rotate(new)
        uow.audit.append(
            AuditEntry(
                "secret.rotated",
                "cli",
                None,
                "instance",
                "secret",
                {"audit_key_epoch": epoch, "agency_keys": len(keys)},
            )
        )
        uow.commit()
    return len(keys), epoch


def rotate_secret(
    database: Database,
    *,
    old: str,
    new: str,
    content_dir: Path,
    progress: Callable[[int], None] | None = None,
) -> Rotation:
    """Re-seal everything the old secret sealed under the new one (see the module's text)."""
    if new == old:
        raise InvalidInput("the new secret is the current one")
    keys, epoch = _rotate_database(database, old, new)
    before = EncryptedContentStore(content_dir, derive_content_key(old))
    after = EncryptedContentStore(content_dir, derive_content_key(new))
    done = already = damaged = 0
    for sha256 in after.stored():
        try:
            if after.reencrypt_from(before, sha256):
                done += 1
            else:
                already += 1
        except ContentDamaged:
            damaged += 1
        if progress is not None:
            progress(1)
    return Rotation(keys, epoch, done, already, damaged)
