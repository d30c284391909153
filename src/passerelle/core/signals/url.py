"""URLs: a canonical form (so that trivial variants of one address match), then its SHA-256."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import string
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

from passerelle.core.errors import InvalidInput
from passerelle.core.signals.base import Signal

_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRACKING = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|mc_cid|mc_eid|igshid|_ga"
    r"|_gl|ref_src|si|spm|oly_enc_id|oly_anon_id|vero_id|mkt_tok)$",
    re.IGNORECASE,
)
_HEX64 = re.compile(r"[0-9a-f]{64}")
# Full stops a browser reads as "." in a host: ideographic, fullwidth, halfwidth ideographic.
_DOTS = re.compile("[\u3002\uff0e\uff61]")
# One label of a domain name in ASCII (underscores occur in real host names).
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
# A last label that makes a host an IPv4 address (WHATWG "ends in a number"), and one part
# of such an address: 0x hex (digits may be absent: 0), 0 octal, or decimal.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
_IPV4_PART = re.compile(r"0x(?P<hex>[0-9a-f]*)|0(?P<octal>[0-7]+)|(?P<decimal>0|[1-9][0-9]*)")
# Lone UTF-16 surrogates: text no browser could send (it has no UTF-8 form).
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
# What a path needs to change: an escape (`%` and two hex digits), or a character outside
# the unreserved, the sub-delimiters, `:`, `@` and `/` (a `%` that begins no escape among them).
_PATH_PIECE = re.compile(r"%[0-9A-Fa-f]{2}|[^A-Za-z0-9\-._~!$&'()*+,;=:@/]")
# What browsers strip from both ends of an address (WHATWG: C0 controls and space).
_C0_CONTROL_OR_SPACE = "".join(map(chr, range(0x21)))
# An http(s) scheme and the slashes or backslashes after it, however many (WHATWG).
_SPECIAL_SCHEME = re.compile(r"(https?):[/\\]*", re.IGNORECASE)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


def canonicalize_url(text: str) -> str:
    """Read as a browser reads it (WHATWG: backslashes, numeric IPv4 hosts), then: lower-case
    scheme and host, no default port, no fragment, no tracking parameters, query sorted, path
    percent-encoding normalised (RFC 3986 6.2.2) and its dot segments resolved (RFC 3986
    5.2.4). The result is its own canonical form. Raises `InvalidInput` on what is not an
    http(s) URL, and on a host that is not a domain name or an IP address."""
    raw = text.strip().strip(_C0_CONTROL_OR_SPACE)
    if not raw or any(ch in raw for ch in "\r\n\t ") or _SURROGATE.search(raw):
        raise InvalidInput("not a URL: %(text)s", text=text)
    try:
        parts = urlsplit(_read_as_browser(raw))
        port = parts.port
    except ValueError as exc:
        raise InvalidInput("not a URL: %(text)s (%(why)s)", text=text, why=str(exc)) from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidInput("only http and https URLs are accepted, got %(text)s", text=text)
    host = _canonical_host(parts.hostname or "", text)
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = remove_dot_segments(_PATH_PIECE.sub(_normalise_path_piece, parts.path)) or "/"
    query_items = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)
    ]
    query = urlencode(sorted(query_items), doseq=True)
    return urlunsplit((scheme, netloc, path, query, ""))


def _read_as_browser(url: str) -> str:
    """`url` with its http(s) scheme followed by `//` and every backslash before its query
    and fragment made a slash, as a browser reads it (WHATWG URL): `https://a.test\\@b.test/`
    goes to host `a.test`, and no other parser (urllib's, httpx's) must read `b.test` there.
    Other URLs are returned as they are."""
    scheme = _SPECIAL_SCHEME.match(url)
    if scheme is None:
        return url
    return f"{scheme.group(1)}://" + _slash_backslashes(url[scheme.end() :])


def resolve_url(base: str, reference: str) -> str:
    """The canonical form of `reference` (a redirect's `Location`) read against `base`, an
    http(s) URL in canonical form, as a browser reads it (WHATWG URL): backslashes before the
    query are slashes, so `/\\evil.test/` and `///evil.test/` name another host, and
    `https:page` on an https page is a relative path. urljoin alone would keep such a host in
    the path, and the fetcher would not go where a browser goes."""
    ref = reference.strip().strip(_C0_CONTROL_OR_SPACE)
    scheme = _SCHEME.match(ref)
    if scheme is not None and scheme.group(1).lower() != urlsplit(base).scheme:
        return canonicalize_url(ref)
    ref = _slash_backslashes(ref[scheme.end() :] if scheme is not None else ref)
    if ref.startswith("//"):
        ref = "//" + ref.lstrip("/")
    try:
        joined = urljoin(base, ref)
    except ValueError as exc:
        raise InvalidInput("not a URL: %(text)s (%(why)s)", text=reference, why=str(exc)) from None
    return canonicalize_url(joined)


def _slash_backslashes(text: str) -> str:
    """Every backslash of `text` before its query and fragment made a slash."""
    ends = [at for at in (text.find("?"), text.find("#")) if at >= 0]
    end = min(ends, default=len(text))
    return text[:end].replace("\\", "/") + text[end:]


def _normalise_path_piece(piece: re.Match[str]) -> str:
    """An escape of an unreserved character decoded (`%7E` is `~`, `%2e` is `.`, so dot
    segments are found as WHATWG finds them), every other escape kept in upper case (`%2F` is
    not `/`, `%25` not `%`: decoding them would change the address, and a second pass would
    decode again); any other character percent-encoded as UTF-8, a lone `%` as `%25`."""
    text = piece.group()
    if len(text) == 3:
        decoded = chr(int(text[1:], 16))
        return decoded if decoded in _UNRESERVED else text.upper()
    return quote(text, safe="")


def _canonical_host(hostname: str, text: str) -> str:
    """The host as a lower-case ASCII domain name (IDNA), or an IP address; anything else is
    refused: a host with `<>"{}|'` and the like is no address a browser would reach."""
    host = _DOTS.sub(".", unquote(hostname)).rstrip(".")
    if not host:
        raise InvalidInput("URL has no host: %(text)s", text=text)
    if ":" in host:
        try:
            return f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError:
            raise InvalidInput(
                "URL host is not a valid IPv6 address: %(text)s", text=text
            ) from None
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidInput("URL host is not a valid domain name: %(text)s", text=text) from None
    if _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
        return _parse_ipv4(host, text)
    if not all(_LABEL.fullmatch(label) for label in host.split(".")) or len(host) > 253:
        raise InvalidInput("URL host is not a valid domain name: %(text)s", text=text)
    return host


def _parse_ipv4(host: str, text: str) -> str:
    """A host whose last label is a number, in dotted decimal: a browser reads `0x5db8d822`,
    `1572395042`, `0135.0270.0330.042` and `93.0xb8.55330` all as 93.184.216.34 (WHATWG IPv4
    parser: up to four parts, the last filling the bytes left). Anything else ending in a
    number is no address a browser reaches, and is refused."""
    parts = [_IPV4_PART.fullmatch(part) for part in host.split(".")]
    if len(parts) > 4 or not all(parts):
        raise InvalidInput("URL host is not a valid IPv4 address: %(text)s", text=text)
    numbers = [_ipv4_number(part) for part in parts if part is not None]
    *leading, last = numbers
    if any(number > 255 for number in leading) or last >= 256 ** (5 - len(numbers)):
        raise InvalidInput("URL host is not a valid IPv4 address: %(text)s", text=text)
    value = last + sum(number << 8 * (3 - index) for index, number in enumerate(leading))
    return str(ipaddress.IPv4Address(value))


def _ipv4_number(part: re.Match[str]) -> int:
    if part["hex"] is not None:
        return int(part["hex"] or "0", 16)
    if part["octal"] is not None:
        return int(part["octal"], 8)
    return int(part["decimal"])


def remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4: `/a/./b` and `/a/x/../b` are `/a/b`; never above the root."""
    segments = path.split("/")
    kept: list[str] = []
    for number, segment in enumerate(segments):
        last = number == len(segments) - 1
        if segment == ".":
            if last:
                kept.append("")
        elif segment == "..":
            if len(kept) > 1 or (kept and kept[0] != ""):
                kept.pop()
            if last:
                kept.append("")
        else:
            kept.append(segment)
    if path.startswith("/") and (not kept or kept[0] != ""):
        kept.insert(0, "")
    resolved = "/".join(kept)
    return "/" if resolved == "" and path.startswith("/") else resolved


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
