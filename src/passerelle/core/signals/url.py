"""URLs: a canonical form (so that trivial variants of one address match), then its SHA-256."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from passerelle.core.errors import InvalidInput
from passerelle.core.signals.base import Signal

_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRACKING = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|mc_cid|mc_eid|igshid|_ga"
    r"|_gl|ref_src|si|spm|oly_enc_id|oly_anon_id|vero_id|mkt_tok)$",
    re.IGNORECASE,
)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SAFE_PATH = "/:@!$&'()*+,;=-._~%"


def canonicalize_url(text: str) -> str:
    """Lower-case scheme and host, no default port, no fragment, no tracking parameters,
    query sorted, path percent-encoding normalised. Raises `InvalidInput` on what is not an
    http(s) URL."""
    raw = text.strip()
    if not raw or any(ch in raw for ch in "\r\n\t "):
        raise InvalidInput(f"not a URL: {text!r}")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"not a URL: {text!r} ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidInput(f"only http and https URLs are accepted, got {text!r}")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidInput(f"URL has no host: {text!r}")
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidInput(f"URL host is not a valid domain name: {text!r}") from None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = quote(unquote(parts.path), safe=_SAFE_PATH) or "/"
    query_items = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)
    ]
    query = urlencode(sorted(query_items), doseq=True)
    return urlunsplit((scheme, netloc, path, query, ""))


@dataclass(frozen=True, slots=True)
class UrlType:
    name: str = "url"
    default_threshold: float = 0
    max_threshold: float = 0

    def compute(self, url: str) -> Signal:
        canonical = canonicalize_url(url)
        return Signal(self.name, hashlib.sha256(canonical.encode("utf-8")).hexdigest())

    def parse(self, text: str) -> Signal:
        """A URL (canonicalised and hashed) or an already computed 64-hex SHA-256."""
        value = text.strip()
        if _HEX64.fullmatch(value.lower()):
            return Signal(self.name, value.lower())
        return self.compute(value)

    def dump(self, signal: Signal) -> str:
        return signal.value

    def distance(self, a: Signal, b: Signal) -> float:
        return 0 if a.value == b.value else 1

    def can_match(self, signal: Signal) -> bool:
        return True


URL = UrlType()
