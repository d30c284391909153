"""Talking to a partner's Passerelle: push a signed agreement or answer, pull a signed feed.

Partners are configured by a liaison officer (their address and key), so this client does not
go through the web fetcher's address guard; it never follows redirects, caps the size it
reads, and gives up after a short time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from passerelle.core.errors import ExternalServiceError
from passerelle.core.exchange import MAX_FEED_BYTES, FeedPage, Partner, parse_page
from passerelle.exchange.signing import Refused, open_private, request_headers, unseal

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def _address(partner: Partner) -> str:
    if not partner.base_url:
        raise ExternalServiceError(f"{partner.code} has no address: exchange by file with it")
    return partner.base_url


def push(partner: Partner, path: str, body: bytes) -> None:
    """POST a signed envelope to the partner; ExternalServiceError names what went wrong."""
    url = _address(partner) + path
    try:
        response = httpx.post(
            url,
            content=body,
            headers={"Content-Type": "application/json"},
            timeout=TIMEOUT,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        raise ExternalServiceError(f"{partner.code} unreachable: {type(exc).__name__}") from None
    if response.status_code >= 300:
        detail = response.text[:300]
        raise ExternalServiceError(f"{partner.code} answered {response.status_code}: {detail}")


def pull_feed(
    partner: Partner, *, key: Ed25519PrivateKey, subscriber: str, cursor: int
) -> FeedPage:
    """One page of the partner's feed, its signature and schema checked (Refused or
    InvalidInput otherwise); ExternalServiceError when the partner cannot be reached."""
    target = "/api/v1/exchange/feed?" + urlencode({"cursor": cursor})
    headers = request_headers(
        key,
        subscriber=subscriber,
        publisher=partner.code,
        target=target,
        now=datetime.now(UTC),
    )
    try:
        with httpx.stream(
            "GET",
            _address(partner) + target,
            headers=headers,
            timeout=TIMEOUT,
            follow_redirects=False,
        ) as response:
            if response.status_code != 200:
                response.read()
                raise ExternalServiceError(
                    f"{partner.code} answered {response.status_code}: {response.text[:300]}"
                )
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_FEED_BYTES:
                    raise Refused(f"the feed is over the limit of {MAX_FEED_BYTES} bytes")
    except httpx.HTTPError as exc:
        raise ExternalServiceError(f"{partner.code} unreachable: {type(exc).__name__}") from None
    return parse_page(unseal(body, partner.public_key, max_bytes=MAX_FEED_BYTES))


def make_pull(secret: str) -> Callable[[Partner, str, str, int], FeedPage]:
    """A way to a partner for the sync: a feed page pulled with a request signed by our key
    (opened from its sealed form with the instance secret), its envelope verified."""

    def pull(partner: Partner, subscriber: str, sealed_key: str, cursor: int) -> FeedPage:
        key = open_private(sealed_key, secret)
        return pull_feed(partner, key=key, subscriber=subscriber, cursor=cursor)

    return pull
