"""Talking to a partner's Passerelle: push a signed agreement or answer, pull a signed feed.

A partner's address goes through the same address guard as every fetched page: its host is
resolved (within the deadline), every answer must be public unless its network is in the
administrator's allow-list (`PASSERELLE_PARTNER_ALLOW`), and the connection is made to the
checked address. The client never follows redirects, caps the size it reads, and gives up at
one deadline for the whole exchange. What a partner answers is logged, never shown: errors
carry a reason the console translates (`PartnerError.reason`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from passerelle.core.errors import ExternalServiceError, InvalidInput
from passerelle.core.exchange import MAX_FEED_BYTES, FeedPage, Partner, parse_page
from passerelle.exchange.signing import Refused, open_private, request_headers, unseal
from passerelle.fetch.fetcher import deadline, deadline_transport, pinned_request
from passerelle.fetch.guard import AddressGuard

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
DEADLINE_SECONDS = 20.0  # the whole exchange: resolution, connection, answer
MAX_REPLY_LOGGED = 2000
log = logging.getLogger(__name__)

UNREACHABLE, ANSWERED, ADDRESS = "unreachable", "answered", "address"


class PartnerError(ExternalServiceError):
    """A partner could not be reached or refused. `reason` is one of UNREACHABLE, ANSWERED
    (an HTTP error status, in `status`) or ADDRESS (its address is not allowed); the message
    never holds what the partner wrote back."""

    def __init__(
        self, message: str, *, reason: str, status: int | None = None, **params: object
    ) -> None:
        super().__init__(message, **params)
        self.reason = reason
        self.status = status


def _address(partner: Partner) -> str:
    if not partner.base_url:
        raise ExternalServiceError(
            "%(partner)s has no address: exchange by file with it", partner=partner.code
        )
    return partner.base_url


@contextmanager
def _connection() -> Iterator[httpx.Client]:
    """A client whose every operation ends by the exchange's deadline."""
    with (
        deadline(DEADLINE_SECONDS),
        httpx.Client(
            transport=deadline_transport(),
            timeout=TIMEOUT,
            follow_redirects=False,
            trust_env=False,
        ) as client,
    ):
        yield client


def _send(
    client: httpx.Client,
    partner: Partner,
    method: str,
    url: str,
    guard: AddressGuard,
    **options: object,
) -> httpx.Response:
    parts = urlsplit(url)
    try:
        request = pinned_request(client, method, url, guard, **options)
    except InvalidInput as exc:
        log.warning("partner %s: address refused: %s", partner.code, exc)
        raise PartnerError(
            "the address of %(partner)s is refused: %(error)s",
            reason=ADDRESS,
            partner=partner.code,
            error=exc,
        ) from None
    except ExternalServiceError as exc:
        raise PartnerError(
            "%(partner)s unreachable: %(error)s",
            reason=UNREACHABLE,
            partner=partner.code,
            error=exc,
        ) from None
    try:
        return client.send(request, stream=True)
    except httpx.HTTPError as exc:
        log.warning("partner %s at %s unreachable: %r", partner.code, parts.netloc, exc)
        raise PartnerError(
            "%(partner)s unreachable: %(error)s",
            reason=UNREACHABLE,
            partner=partner.code,
            error=type(exc).__name__,
        ) from None


def _refused(partner: Partner, response: httpx.Response) -> PartnerError:
    """The error for an HTTP error status; the reply goes to the log only."""
    try:
        reply = response.read()[:MAX_REPLY_LOGGED].decode("utf-8", "replace")
    except httpx.HTTPError:
        reply = "(unreadable)"
    log.warning("partner %s answered %s: %s", partner.code, response.status_code, reply)
    return PartnerError(
        "%(partner)s answered HTTP %(code)s",
        reason=ANSWERED,
        status=response.status_code,
        partner=partner.code,
        code=response.status_code,
    )


def push(partner: Partner, path: str, body: bytes, *, guard: AddressGuard) -> None:
    """POST a signed envelope to the partner; PartnerError says why it was not taken."""
    url = _address(partner) + path
    with _connection() as client:
        response = _send(
            client,
            partner,
            "POST",
            url,
            guard,
            content=body,
            headers={"Content-Type": "application/json"},
        )
        try:
            if response.status_code >= 300:
                raise _refused(partner, response)
        finally:
            response.close()


def pull_feed(
    partner: Partner,
    *,
    key: Ed25519PrivateKey,
    subscriber: str,
    cursor: int,
    guard: AddressGuard,
) -> FeedPage:
    """One page of the partner's feed, its signature and schema checked (Refused or
    InvalidInput otherwise); PartnerError when the partner cannot be reached or refuses."""
    target = "/api/v1/exchange/feed?" + urlencode({"cursor": cursor})
    headers = request_headers(
        key,
        subscriber=subscriber,
        publisher=partner.code,
        target=target,
        now=datetime.now(UTC),
    )
    url = _address(partner) + target
    with _connection() as client:
        response = _send(client, partner, "GET", url, guard, headers=headers)
        try:
            if response.status_code != 200:
                raise _refused(partner, response)
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_FEED_BYTES:
                    raise Refused(
                        "the feed is over the limit of %(limit)s bytes", limit=MAX_FEED_BYTES
                    )
        except httpx.HTTPError as exc:
            raise PartnerError(
                "%(partner)s unreachable: %(error)s",
                reason=UNREACHABLE,
                partner=partner.code,
                error=type(exc).__name__,
            ) from None
        finally:
            response.close()
    return parse_page(unseal(body, partner.public_key, max_bytes=MAX_FEED_BYTES))


def make_pull(
    secret: str, guard: AddressGuard | None = None
) -> Callable[[Partner, str, str, int], FeedPage]:
    """A way to a partner for the sync: a feed page pulled with a request signed by our key
    (opened from its sealed form with the instance secret), its envelope verified. Partners'
    addresses are checked by `guard` (public addresses only by default)."""
    checked = guard or AddressGuard()

    def pull(partner: Partner, subscriber: str, sealed_key: str, cursor: int) -> FeedPage:
        key = open_private(sealed_key, secret)
        return pull_feed(partner, key=key, subscriber=subscriber, cursor=cursor, guard=checked)

    return pull
