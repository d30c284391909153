"""Ed25519 for the exchange between agencies: each agency's key pair (the private half sealed
with the instance secret), signed envelopes (feeds, agreements) and signed requests.

An envelope is `{"payload": "<canonical JSON text>", "signature": "<base64>"}`: the signature
covers the exact bytes of the payload text, so a changed byte anywhere is refused."""

from __future__ import annotations

import base64
import binascii
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from passerelle.core.errors import InvalidInput, PasserelleError
from passerelle.core.ports import UnitOfWork

CLOCK_SKEW = timedelta(minutes=5)
MAX_DOCUMENT_BYTES = 256 * 1024  # an agreement or an answer


class Refused(InvalidInput):
    """A signed document or request that cannot be trusted; the message says why."""


def _sealing_key(secret: str) -> AESGCM:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"passerelle agency keys v1"
    ).derive(secret.encode("utf-8"))
    return AESGCM(key)


def new_key_pair(secret: str) -> tuple[str, str]:
    """(public key, sealed private key), both as text."""
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    nonce = os.urandom(12)
    sealed = nonce + _sealing_key(secret).encrypt(nonce, raw, b"ed25519")
    return public_text(private.public_key()), base64.b64encode(sealed).decode()


def public_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def open_private(sealed: str, secret: str) -> Ed25519PrivateKey:
    data = base64.b64decode(sealed)
    try:
        raw = _sealing_key(secret).decrypt(data[:12], data[12:], b"ed25519")
    except InvalidTag:
        raise PasserelleError("the agency's signing key does not open with this secret") from None
    return Ed25519PrivateKey.from_private_bytes(raw)


def agency_key(uow: UnitOfWork, agency_id: str, secret: str) -> tuple[str, Ed25519PrivateKey]:
    """The agency's active key pair, created on first use."""
    found = uow.exchange.active_key(agency_id)
    if found is None:
        public, sealed = new_key_pair(secret)
        uow.exchange.add_key(agency_id, public, sealed)
        found = (public, sealed)
    return found[0], open_private(found[1], secret)


def rotate_key(uow: UnitOfWork, agency_id: str, secret: str) -> str:
    """A new key pair; the old one is retired. Partners need the new public key."""
    public, sealed = new_key_pair(secret)
    uow.exchange.add_key(agency_id, public, sealed)
    return public


def _public(key_text: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(key_text, validate=True))
    except (ValueError, binascii.Error):
        raise Refused("the partner's public key is not an Ed25519 key") from None


def canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def seal(document: dict[str, Any], key: Ed25519PrivateKey) -> bytes:
    payload = canonical(document)
    signature = base64.b64encode(key.sign(payload.encode("utf-8"))).decode()
    return json.dumps({"payload": payload, "signature": signature}).encode("utf-8")


def unseal(body: bytes, public_key: str, *, max_bytes: int) -> dict[str, Any]:
    """The payload of an envelope signed by `public_key`; Refused names what is wrong."""
    if len(body) > max_bytes:
        raise Refused(f"the document is {len(body)} bytes, over the limit of {max_bytes}")
    try:
        envelope = _loads(body)
        payload, signature = envelope["payload"], envelope["signature"]
        if set(envelope) != {"payload", "signature"} or not isinstance(payload, str):
            raise ValueError("unexpected envelope fields")
        raw_signature = base64.b64decode(signature, validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise Refused(f"not a signed envelope: {exc}") from None
    try:
        _public(public_key).verify(raw_signature, payload.encode("utf-8"))
    except InvalidSignature:
        raise Refused("the signature does not verify with the partner's key") from None
    try:
        document = _loads(payload)
    except ValueError as exc:
        raise Refused(f"the signed payload is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise Refused("the signed payload is not a JSON object")
    return document


def _loads(text: str | bytes) -> Any:
    """JSON from a partner, or anyone posing as one: nesting deep enough to exhaust the
    parser's stack is bad input like any other (ValueError), never a crash."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None


def claimed(body: bytes) -> dict[str, Any]:
    """What an envelope says before its signature is checked: only to learn whose key must
    verify it (`unseal` then decides whether to trust it)."""
    try:
        document = _loads(_loads(body)["payload"])
    except (ValueError, KeyError, TypeError):
        raise Refused("not a signed envelope") from None
    if not isinstance(document, dict):
        raise Refused("not a signed envelope")
    return document


def request_headers(
    key: Ed25519PrivateKey, *, subscriber: str, publisher: str, target: str, now: datetime
) -> dict[str, str]:
    """Headers that prove a request comes from `subscriber` (who signs `target`, the path
    and query, with the time and the publisher it is addressed to)."""
    when = now.astimezone(UTC).isoformat(timespec="seconds")
    message = f"GET\n{target}\n{when}\n{subscriber}\n{publisher}".encode()
    return {
        "X-Passerelle-From": subscriber,
        "X-Passerelle-To": publisher,
        "X-Passerelle-Date": when,
        "X-Passerelle-Signature": base64.b64encode(key.sign(message)).decode(),
    }


def verify_request(
    headers: dict[str, str], *, target: str, public_key: str, publisher: str, now: datetime
) -> None:
    try:
        when = headers["x-passerelle-date"]
        moment = datetime.fromisoformat(when)
        signature = base64.b64decode(headers["x-passerelle-signature"], validate=True)
        subscriber = headers["x-passerelle-from"]
    except (KeyError, ValueError, binascii.Error):
        raise Refused("the request is not signed") from None
    if moment.tzinfo is None or abs(now - moment) > CLOCK_SKEW:
        raise Refused("the request's date is more than 5 minutes away from ours")
    message = f"GET\n{target}\n{when}\n{subscriber}\n{publisher}".encode()
    try:
        _public(public_key).verify(signature, message)
    except InvalidSignature:
        raise Refused("the request's signature does not verify") from None
