"""Properties of the URL canonicaliser over generated input: idempotent, never failing with
anything but `InvalidInput`, every trivial variant of an address giving one form, every
numeric spelling of an IPv4 address giving its dotted decimal, and the canonical form read
by the fetcher's HTTP client exactly as it is written."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
from hypothesis import example, given, settings
from hypothesis import strategies as st

from passerelle.core.errors import InvalidInput
from passerelle.core.signals.url import canonicalize_url

LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
# A domain name: its last label is no number (a host ending in one is an IPv4 address).
TOP_LABEL = st.from_regex(r"[a-z][a-z0-9]{1,5}", fullmatch=True)
HOST = st.builds(
    lambda labels, top: ".".join([*labels, top]), st.lists(LABEL, min_size=1, max_size=3), TOP_LABEL
)
SEGMENT = st.text(
    alphabet=st.characters(
        blacklist_characters="/?#%", blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")
    ),
    min_size=1,
    max_size=8,
).filter(lambda s: s not in {".", ".."})
PATH = st.lists(SEGMENT, max_size=5)
PARAM = st.tuples(
    st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True),
    st.from_regex(r"[a-zA-Z0-9]{0,6}", fullmatch=True),
)
# How a browser still reads one part of an IPv4 address: decimal, 0x hex, 0 octal.
IPV4_PART_WRITERS: list[Callable[[int], str]] = [
    lambda n: f"{n}",
    lambda n: f"0x{n:x}",
    lambda n: f"0X{n:X}",
    lambda n: f"0{n:o}",
]


@st.composite
def numeric_ipv4(draw: st.DrawFn) -> tuple[str, str]:
    """An IPv4 address written in one to four parts, each decimal, hex or octal (the last
    filling the bytes left), and its dotted decimal."""
    value = draw(st.integers(0, 2**32 - 1))
    count = draw(st.integers(1, 4))
    parts = [(value >> 8 * (3 - index)) & 0xFF for index in range(count - 1)]
    parts.append(value & (256 ** (5 - count) - 1))
    written = ".".join(draw(st.sampled_from(IPV4_PART_WRITERS))(part) for part in parts)
    return written, str(ipaddress.IPv4Address(value))


# Pieces that broke the canonical form before: escapes, escaped escapes (`%25` and hex
# digits), escaped dots and slashes, a `%` that begins no escape, backslashes, dot segments.
TRICKY = st.one_of(
    st.sampled_from(["%25", "%2e", "%2E", "%2f", "%", "\\", ".", "..", "@", "0x"]),
    st.from_regex(r"%(25)?[0-9a-fA-F]{2}", fullmatch=True),
)
PIECES = st.lists(st.one_of(TRICKY, st.text(max_size=3)), max_size=6).map("".join)
TRICKY_SEGMENT = st.lists(st.one_of(TRICKY, TRICKY, st.text(max_size=2)), max_size=3).map("".join)
TRICKY_PATH = st.lists(
    st.tuples(st.sampled_from(["/", "\\"]), TRICKY_SEGMENT).map("".join), max_size=5
).map("".join)
TRICKY_HOST = st.one_of(HOST, HOST, numeric_ipv4().map(lambda forms: forms[0]), PIECES)
TRICKY_URL = st.builds(
    lambda scheme, slashes, host, path, rest: f"{scheme}:{slashes}{host}{path}{rest}",
    st.sampled_from(["http", "https", "HTTPS"]),
    st.sampled_from(["//", "//", "\\\\", "/\\", ""]),
    TRICKY_HOST,
    TRICKY_PATH,
    st.one_of(st.just(""), PIECES.map("?".__add__), PIECES.map("#".__add__)),
)
URLISH = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda scheme, rest: f"{scheme}://{rest}",
        st.sampled_from(["http", "https", "HTTP", "ftp"]),
        st.text(max_size=60),
    ),
    TRICKY_URL,
)


@settings(max_examples=500, deadline=None)
@given(URLISH)
@example("https://ex<a>mple.test/")
@example("http://[::1/")
@example("https://%e3%80%82/")
@example("https://exemple.test/%ff/../%2e/")
@example("https://exemple.test/x/%252e%252e/page")
@example("https://exemple.test/a%2525")
@example("https://exemple.test/%%32e")
@example("https://exemple.test\\@evil.test/")
@example("http://0x5db8d822/page")
def test_it_raises_only_invalid_input_and_is_idempotent(text: str) -> None:
    try:
        canonical = canonicalize_url(text)
    except InvalidInput:
        return
    assert canonicalize_url(canonical) == canonical


@settings(max_examples=300, deadline=None)
@given(TRICKY_URL)
@example("https://exemple.test\\@evil.test/%2e%2E/a%2F")
def test_the_fetchers_client_reads_the_canonical_form_as_written(text: str) -> None:
    """The fetcher checks the host of the canonical form and hands the form to httpx: httpx
    must connect to that host and ask for that path, not read them otherwise."""
    try:
        canonical = canonicalize_url(text)
    except InvalidInput:
        return
    read = httpx.URL(canonical)
    assert read.raw_host.decode("ascii") == urlsplit(canonical).hostname
    assert str(read) == canonical


@settings(max_examples=200, deadline=None)
@given(numeric_ipv4(), st.sampled_from(["", ".", ":80"]))
def test_every_numeric_spelling_of_an_ipv4_address_gives_its_dotted_decimal(
    forms: tuple[str, str], suffix: str
) -> None:
    written, dotted = forms
    assert canonicalize_url(f"http://{written}{suffix}/p") == f"http://{dotted}/p"


@settings(max_examples=200, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https"]),
    host=HOST,
    path=PATH,
    params=st.lists(PARAM, max_size=4, unique_by=lambda p: p[0]),
    data=st.data(),
)
def test_equivalent_forms_give_one_canonical_form(
    scheme: str,
    host: str,
    path: list[str],
    params: list[tuple[str, str]],
    data: st.DataObject,
) -> None:
    plain = f"{scheme}://{host}/{'/'.join(path)}" + (
        "?" + "&".join(f"{k}={v}" for k, v in params) if params else ""
    )
    expected = canonicalize_url(plain)
    # The same address written otherwise: case, default port, an ideographic full stop,
    # backslashes for slashes, dot segments (percent-encoded too), letters and digits
    # percent-encoded, parameters in another order, tracking parameters, a fragment.
    dot = data.draw(st.sampled_from([".", "\u3002", "\uff0e", "\uff61"]))
    odd_host = host.upper().replace(".", dot, 1)
    slashes = data.draw(st.sampled_from(["//", "\\\\", "/\\", ""]))
    port = data.draw(st.sampled_from(["", ":80" if scheme == "http" else ":443"]))
    detour = data.draw(st.sampled_from(["", "./", "x/../", "./y/../", "%2e/", "x/%2E%2e/"]))
    separator = data.draw(st.sampled_from(["/", "\\"]))
    odd_path = separator.join(path)
    if data.draw(st.booleans()):
        odd_path = re.sub(r"[A-Za-z0-9]", lambda m: f"%{ord(m.group()):02x}", odd_path)
    odd_path = separator + detour + odd_path
    shuffled = data.draw(st.permutations(params))
    query = [f"{k}={v}" for k, v in shuffled] + data.draw(
        st.lists(st.sampled_from(["utm_source=x", "fbclid=abc", "gclid=1"]), max_size=2)
    )
    variant = f"{scheme.upper()}:{slashes}{odd_host}{port}{odd_path}"
    variant += ("?" + "&".join(query) if query else "") + data.draw(
        st.sampled_from(["", "#haut", "#"])
    )
    assert canonicalize_url(variant) == expected
