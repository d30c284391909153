"""Sealing of the audit chain's MAC keys under the instance secret.

The MAC keys are random (32 bytes, one per epoch) and stored only sealed with AES-256-GCM under
a key derived from PASSERELLE_SECRET_KEY by HKDF-SHA256 with its own label, so the database
alone never gives them: someone who can write to the database but lacks the secret cannot
recompute the chain. The associated data binds each sealed key to its epoch and first event,
so a key cannot be moved to another place in the chain. Epoch 0 is the seal of the unkeyed
prefix (events written before keyed chaining): its last number and hash."""

from __future__ import annotations

import base64
import binascii
import json
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from passerelle.core.audit import LegacySeal
from passerelle.core.errors import WrongSecret

LABEL = b"passerelle audit keys v1"
LEGACY_EPOCH = 0
_NONCE = 12


@lru_cache(maxsize=4)
def _aead(secret: str) -> AESGCM:
    # Derived once per secret: every audited change opens the current epoch's key.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=LABEL).derive(
        secret.encode("utf-8")
    )
    return AESGCM(key)


def _seal(secret: str, data: bytes, context: bytes) -> str:
    nonce = os.urandom(_NONCE)
    return base64.b64encode(nonce + _aead(secret).encrypt(nonce, data, context)).decode()


def _open(secret: str, sealed: str, context: bytes) -> bytes:
    try:
        data = base64.b64decode(sealed, validate=True)
        return _aead(secret).decrypt(data[:_NONCE], data[_NONCE:], context)
    except (InvalidTag, ValueError, binascii.Error):
        raise WrongSecret(
            "PASSERELLE_SECRET_KEY does not open the audit chain's keys (the secret was changed"
            " without `passerelle secret rotate`, or the keys were tampered with)"
        ) from None


def _epoch_context(epoch: int, from_seq: int) -> bytes:
    return f"audit key {epoch} from {from_seq}".encode()


def new_mac_key() -> bytes:
    return os.urandom(32)


def seal_epoch_key(secret: str, *, epoch: int, from_seq: int, key: bytes) -> str:
    return _seal(secret, key, _epoch_context(epoch, from_seq))


@lru_cache(maxsize=16)
def open_epoch_key(secret: str, *, epoch: int, from_seq: int, sealed: str) -> bytes:
    """The epoch's MAC key (kept once opened: the same sealed text always opens to the same
    key, and a wrong secret or a tampered seal raises, which is never kept)."""
    return _open(secret, sealed, _epoch_context(epoch, from_seq))


def seal_legacy(secret: str, seal: LegacySeal) -> str:
    payload = json.dumps({"until": seal.until, "hash": seal.hash}, sort_keys=True)
    return _seal(secret, payload.encode(), b"audit legacy prefix")


def open_legacy(secret: str, sealed: str) -> LegacySeal:
    document = json.loads(_open(secret, sealed, b"audit legacy prefix"))
    return LegacySeal(until=int(document["until"]), hash=str(document["hash"]))
