"""Ed25519 for the exchange between agencies: each agency's key pair (the private half sealed
with the instance secret), signed envelopes (feeds, agreements) and signed requests.

An envelope is `{"payload": "<canonical JSON text>", "signature": "<base64>"}`: the signature
covers the exact bytes of the payload text, so a changed byte anywhere is refused. Every signed
document and request carries its time and a random nonce (`new_nonce`); the services refuse a
stale or already seen one (replay)."""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from dataclasses import dataclass
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

from passerelle.core.errors import InvalidInput, WrongSecret
from passerelle.core.ports import UnitOfWork
from passerelle.core.timestamps import parse_timestamp

CLOCK_SKEW = timedelta(minutes=5)  # the default of PASSERELLE_EXCHANGE_WINDOW_SECONDS
MAX_DOCUMENT_BYTES = 256 * 1024  # an agreement or an answer


class Refused(InvalidInput):
    """A signed document or request that cannot be trusted; the message says why."""


def new_nonce() -> str:
    """128 random bits, lowercase hex: what makes each signed document and request unique."""
    return secrets.token_hex(16)


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
        raise WrongSecret(
            "PASSERELLE_SECRET_KEY does not open the agency's signing key (the secret was"
            " changed without `passerelle secret rotate`)"
        ) from None
    return Ed25519PrivateKey.from_private_bytes(raw)


def reseal_private(sealed: str, old_secret: str, new_secret: str) -> str:
    """The same private key, sealed under `new_secret` (for `passerelle secret rotate`)."""
    raw = open_private(sealed, old_secret).private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    nonce = os.urandom(12)
    return base64.b64encode(
        nonce + _sealing_key(new_secret).encrypt(nonce, raw, b"ed25519")
    ).decode()


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


@dataclass(frozen=True, slots=True)
class Envelope:
    """An envelope as read, its signature not yet checked: `claims` is what its payload says,
    only to learn whose key must verify it (`open_envelope` then decides whether to trust it)."""

    payload: str
    signature: bytes
    claims: dict[str, Any]


def read_envelope(body: bytes, *, max_bytes: int) -> Envelope:
    """The parts of an envelope; Refused names what is wrong with its form, which says nothing
    of who exists here (no key is needed to tell)."""
    if len(body) > max_bytes:
        raise Refused(
            "the document is %(size)s bytes, over the limit of %(limit)s",
            size=len(body),
            limit=max_bytes,
        )
    try:
        envelope = _loads(body)
    except ValueError:
        raise Refused("not a signed envelope: the body is not JSON") from None
    if not isinstance(envelope, dict) or set(envelope) != {"payload", "signature"}:
        raise Refused("not a signed envelope: it has two fields, payload and signature")
    payload, signature = envelope["payload"], envelope["signature"]
    if not isinstance(payload, str) or not isinstance(signature, str):
        raise Refused("not a signed envelope: the payload and the signature are text")
    try:
        raw_signature = base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error):
        raise Refused("not a signed envelope: the signature is not in base64") from None
    try:
        document = _loads(payload)
    except ValueError:
        raise Refused("the signed payload is not JSON") from None
    if not isinstance(document, dict):
        raise Refused("the signed payload is not a JSON object")
    return Envelope(payload, raw_signature, document)


def open_envelope(envelope: Envelope, public_key: str) -> dict[str, Any]:
    """The payload of an envelope, once its signature verifies with `public_key`."""
    try:
        _public(public_key).verify(envelope.signature, envelope.payload.encode("utf-8"))
    except InvalidSignature:
        raise Refused("the signature does not verify with the partner's key") from None
    return envelope.claims


def unseal(body: bytes, public_key: str, *, max_bytes: int) -> dict[str, Any]:
    """The payload of an envelope signed by `public_key`; Refused names what is wrong."""
    return open_envelope(read_envelope(body, max_bytes=max_bytes), public_key)


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
    except (ValueError, KeyError, TypeError, RecursionError):
        raise Refused("not a signed envelope") from None
    if not isinstance(document, dict):
        raise Refused("not a signed envelope")
    return document


def request_headers(
    key: Ed25519PrivateKey, *, subscriber: str, publisher: str, target: str, now: datetime
) -> dict[str, str]:
    """Headers that prove a request comes from `subscriber` (who signs `target`, the path
    and query, with the time, a fresh nonce and the publisher it is addressed to)."""
    when = now.astimezone(UTC).isoformat(timespec="seconds")
    nonce = new_nonce()
    message = f"GET\n{target}\n{when}\n{nonce}\n{subscriber}\n{publisher}".encode()
    return {
        "X-Passerelle-From": subscriber,
        "X-Passerelle-To": publisher,
        "X-Passerelle-Date": when,
        "X-Passerelle-Nonce": nonce,
        "X-Passerelle-Signature": base64.b64encode(key.sign(message)).decode(),
    }


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """The signature headers of a request, read and timely, the signature not yet checked."""

    when: str
    moment: datetime
    nonce: str
    subscriber: str
    signature: bytes


def read_request(
    headers: dict[str, str], *, now: datetime, window: timedelta = CLOCK_SKEW
) -> SignedRequest:
    """The signature headers; Refused names what is wrong with their form or time, which says
    nothing of who exists here (no key is needed to tell)."""
    try:
        when = headers["x-passerelle-date"]
        signature = base64.b64decode(headers["x-passerelle-signature"], validate=True)
        subscriber = headers["x-passerelle-from"]
    except (KeyError, ValueError, binascii.Error):
        raise Refused("the request is not signed") from None
    try:
        moment = parse_timestamp(when, "x-passerelle-date")
    except InvalidInput as exc:
        raise Refused("the request's date is refused: %(problem)s", problem=exc) from None
    nonce = headers.get("x-passerelle-nonce", "")
    if len(nonce) != 32 or any(c not in "0123456789abcdef" for c in nonce):
        raise Refused("the request carries no nonce (the partner must upgrade Passerelle)")
    if abs(now - moment) > window:
        minutes = int(window.total_seconds() // 60)
        raise Refused(
            "the request's date is more than %(minutes)s minutes away from ours", minutes=minutes
        )
    return SignedRequest(when, moment, nonce, subscriber, signature)


def check_request(signed: SignedRequest, *, target: str, public_key: str, publisher: str) -> None:
    """Refused unless `public_key` signed the request for `target` at `publisher`."""
    message = (
        f"GET\n{target}\n{signed.when}\n{signed.nonce}\n{signed.subscriber}\n{publisher}"
    ).encode()
    try:
        _public(public_key).verify(signed.signature, message)
    except InvalidSignature:
        raise Refused("the request's signature does not verify") from None


def verify_request(
    headers: dict[str, str],
    *,
    target: str,
    public_key: str,
    publisher: str,
    now: datetime,
    window: timedelta = CLOCK_SKEW,
) -> tuple[datetime, str]:
    """(the time, the nonce) of a request signed by `public_key`; the caller refuses a nonce
    it has already seen."""
    signed = read_request(headers, now=now, window=window)
    check_request(signed, target=target, public_key=public_key, publisher=publisher)
    return signed.moment, signed.nonce
