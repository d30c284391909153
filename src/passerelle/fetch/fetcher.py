"""Fetching a URL safely: the address guard on every hop, redirects followed by hand and
re-checked, the connection made to the checked address (no second DNS look-up that could
answer differently), caps on size, time and redirects, and the real media type sniffed."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from passerelle import __version__
from passerelle.core.content import Content
from passerelle.core.errors import ExternalServiceError, InvalidInput
from passerelle.core.signals.url import canonicalize_url
from passerelle.fetch.guard import AddressGuard

REDIRECTS = frozenset({301, 302, 303, 307, 308})


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


class SafeFetcher:
    def __init__(
        self, guard: AddressGuard | None = None, limits: FetchLimits | None = None
    ) -> None:
        self.guard = guard or AddressGuard()
        self.limits = limits or FetchLimits()
        self._client = httpx.Client(
            follow_redirects=False,
            timeout=httpx.Timeout(self.limits.timeout_seconds),
            headers={"User-Agent": f"Passerelle/{__version__} (referral unit; +content checks)"},
            trust_env=False,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SafeFetcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def fetch(self, url: str) -> FetchResult:
        deadline = time.monotonic() + self.limits.timeout_seconds
        current = canonicalize_url(url)  # refuses what is not http(s)
        hops: list[str] = []
        for _ in range(self.limits.max_redirects + 1):
            status, headers, body = self._get_once(current, deadline)
            if status in REDIRECTS and headers.get("location"):
                hops.append(current)
                current = canonicalize_url(urljoin(current, headers["location"]))
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
            f"too many redirects (more than {self.limits.max_redirects}) from {url}"
        )

    def _get_once(self, url: str, deadline: float) -> tuple[int, httpx.Headers, bytes]:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = self.guard.resolve(host, port)[0]
        pinned = url.replace(parts.netloc, _netloc(str(address), parts.port), 1)
        request = self._client.build_request(
            "GET", pinned, headers={"Host": parts.netloc}, extensions={"sni_hostname": host}
        )
        try:
            response = self._client.send(request, stream=True)
        except httpx.TimeoutException:
            raise ExternalServiceError(f"timed out fetching {url}") from None
        except httpx.HTTPError as exc:
            raise ExternalServiceError(f"cannot fetch {url}: {exc}") from None
        try:
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > self.limits.max_bytes:
                raise InvalidInput(
                    f"{url} is too large: {int(declared):,} bytes (limit {self.limits.max_bytes:,})"
                )
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > self.limits.max_bytes:
                    raise InvalidInput(
                        f"{url} is larger than the limit of {self.limits.max_bytes:,} bytes"
                    )
                if time.monotonic() > deadline:
                    raise ExternalServiceError(f"timed out fetching {url}")
        except httpx.HTTPError as exc:
            raise ExternalServiceError(f"cannot fetch {url}: {exc}") from None
        finally:
            response.close()
        return response.status_code, response.headers, bytes(body)


def _netloc(address: str, port: int | None) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{host}:{port}" if port else host
