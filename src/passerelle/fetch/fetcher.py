"""Fetching a URL safely: the address guard on every hop, redirects followed by hand and
re-checked, the connection made to the checked address (no second DNS look-up that could
answer differently), caps on size, time and redirects, and the real media type sniffed.

One deadline covers the whole fetch: name resolution (bounded in the guard), connection, TLS,
every read of the headers and the body, for every redirect. httpx's own timeouts are per
operation (a server sending one header line every few seconds never trips them), so the
network streams under httpx clamp each operation to the time left.

The body is read raw and decoded here (gzip, deflate, brotli, zstd) under the size cap, a
bounded amount at a time: a decompression bomb is refused before it expands."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx

from passerelle import __version__
from passerelle.core.content import Content
from passerelle.core.errors import ExternalServiceError, InvalidInput
from passerelle.core.message import grouped
from passerelle.core.signals.url import canonicalize_url, resolve_url
from passerelle.fetch.guard import DEFAULT_RESOLVE_SECONDS, AddressGuard
from passerelle.intake.httpbody import BodyError, DecompressionBomb, iter_decoded, parse_encodings

REDIRECTS = frozenset({301, 302, 303, 307, 308})
ACCEPT_ENCODING = "gzip, deflate, br, zstd"
# The monotonic time by which the fetch running in this thread must be over.
_DEADLINE: ContextVar[float | None] = ContextVar("passerelle_fetch_deadline", default=None)


@dataclass(frozen=True, slots=True)
class FetchLimits:
    max_bytes: int = 20 * 1024 * 1024
    timeout_seconds: float = 20.0
    max_redirects: int = 5


@dataclass(frozen=True, slots=True)
class FetchResult:
    content: Content
    status: int
    final_url: str
    redirects: tuple[str, ...]


def time_left(timeout: float | None) -> float | None:
    """`timeout` clamped to what is left before the current deadline; raises when none is."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.TimeoutException("the deadline of the fetch has passed")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the deadline of the fetch."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, time_left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, time_left(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, time_left(timeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, its streams bounded by the deadline of the fetch."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, time_left(timeout), local_address, socket_options
        )
        return DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("the fetcher connects to checked addresses only")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def deadline_transport() -> httpx.HTTPTransport:
    """An httpx transport on the deadline backend. No connection is kept alive: each one was
    made to an address checked for one host name (and, over TLS, verified for it)."""
    transport = httpx.HTTPTransport()
    transport._pool = httpcore.ConnectionPool(  # httpx takes no network backend of its own
        ssl_context=httpx.create_ssl_context(),
        max_keepalive_connections=0,
        network_backend=DeadlineBackend(),
    )
    return transport


class SafeFetcher:
    def __init__(
        self, guard: AddressGuard | None = None, limits: FetchLimits | None = None
    ) -> None:
        self.guard = guard or AddressGuard()
        self.limits = limits or FetchLimits()
        self._client = httpx.Client(
            transport=deadline_transport(),
            follow_redirects=False,
            timeout=httpx.Timeout(self.limits.timeout_seconds),
            headers={
                "User-Agent": f"Passerelle/{__version__} (referral unit; +content checks)",
                "Accept-Encoding": ACCEPT_ENCODING,
            },
            trust_env=False,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SafeFetcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def fetch(self, url: str) -> FetchResult:
        with deadline(self.limits.timeout_seconds) as end:
            return self._follow(url, end)

    def _follow(self, url: str, deadline: float) -> FetchResult:
        current = canonicalize_url(url)  # refuses what is not http(s)
        hops: list[str] = []
        for _ in range(self.limits.max_redirects + 1):
            status, headers, body = self._get_once(current, deadline)
            if status in REDIRECTS and headers.get("location"):
                hops.append(current)
                current = resolve_url(current, headers["location"])
                continue
            content = Content(
                source=url,
                data=body,
                url=current,
                declared_type=headers.get("content-type"),
                origin="url",
            )
            return FetchResult(
                content=content, status=status, final_url=current, redirects=tuple(hops)
            )
        raise ExternalServiceError(
            "too many redirects (more than %(limit)s) from %(url)s",
            limit=self.limits.max_redirects,
            url=url,
        )

    def _get_once(self, url: str, deadline: float) -> tuple[int, httpx.Headers, bytes]:
        request = pinned_request(self._client, "GET", url, self.guard)
        try:
            response = self._client.send(request, stream=True)
        except (httpx.TimeoutException, httpcore.TimeoutException):
            raise ExternalServiceError("timed out fetching %(url)s", url=url) from None
        except httpx.HTTPError as exc:
            raise ExternalServiceError(
                "cannot fetch %(url)s: %(error)s", url=url, error=exc
            ) from None
        try:
            return response.status_code, response.headers, self._read_body(url, response)
        except (httpx.TimeoutException, httpcore.TimeoutException):
            raise ExternalServiceError("timed out fetching %(url)s", url=url) from None
        except httpx.HTTPError as exc:
            raise ExternalServiceError(
                "cannot fetch %(url)s: %(error)s", url=url, error=exc
            ) from None
        finally:
            response.close()

    def _read_body(self, url: str, response: httpx.Response) -> bytes:
        cap = self.limits.max_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise InvalidInput(
                "%(url)s is too large: %(size)s bytes (limit %(limit)s)",
                url=url,
                size=grouped(int(declared)),
                limit=grouped(cap),
            )
        try:
            encodings = parse_encodings(response.headers.get("content-encoding"))
        except BodyError as exc:
            raise InvalidInput("%(url)s: %(error)s", url=url, error=exc) from None

        def raw() -> Any:
            received = 0
            for chunk in response.iter_raw():  # still compressed: decoded below, capped
                received += len(chunk)
                if received > cap:
                    raise InvalidInput(
                        "%(url)s is larger than the limit of %(limit)s bytes",
                        url=url,
                        limit=grouped(cap),
                    )
                yield chunk

        body = bytearray()
        try:
            for piece in iter_decoded(raw(), encodings, cap):
                body += piece
        except DecompressionBomb as exc:
            raise InvalidInput("%(url)s: %(error)s", url=url, error=exc) from None
        except BodyError as exc:
            raise InvalidInput(
                "%(url)s: body not decodable: %(error)s", url=url, error=exc
            ) from None
        return bytes(body)


@contextmanager
def deadline(seconds: float) -> Iterator[float]:
    """Let every network operation of this thread (resolution, connection, each read and
    write) end within `seconds` from now; yields the monotonic time of the deadline."""
    end = time.monotonic() + seconds
    token = _DEADLINE.set(end)
    try:
        yield end
    finally:
        _DEADLINE.reset(token)


def pinned_request(
    client: httpx.Client, method: str, url: str, guard: AddressGuard, **options: Any
) -> httpx.Request:
    """A request to the address `guard` checked for the URL's host (resolved within the time
    left), naming the host in `Host` and TLS SNI: no second look-up can answer differently.
    `url` is in canonical form, so the host checked here is the one httpx connects to and a
    browser would reach. InvalidInput for a refused address, ExternalServiceError when it
    cannot be resolved."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    end = _DEADLINE.get()
    left = DEFAULT_RESOLVE_SECONDS if end is None else end - time.monotonic()
    address = guard.resolve(host, port, timeout=left)[0]
    # Rebuilt from its parts: a host that also occurs in the scheme (`http://http/`) stays put.
    pinned = urlunsplit(parts._replace(netloc=_netloc(str(address), parts.port)))
    headers = {"Host": parts.netloc} | dict(options.pop("headers", None) or {})
    return client.build_request(
        method, pinned, headers=headers, extensions={"sni_hostname": host}, **options
    )


def _netloc(address: str, port: int | None) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{host}:{port}" if port else host
