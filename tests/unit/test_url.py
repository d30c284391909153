"""Canonical URLs: trivial variants of one address give one signal."""

from __future__ import annotations

import pytest

from passerelle.core.errors import InvalidInput
from passerelle.core.signals.url import URL, canonicalize_url, resolve_url


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("HTTPS://Example.ORG:443/a?b=2&a=1#frag", "https://example.org/a?a=1&b=2"),
        ("http://example.org:80", "http://example.org/"),
        ("http://example.org:8080/x", "http://example.org:8080/x"),
        (
            "https://example.org/p?utm_source=x&utm_medium=y&id=3&fbclid=abc",
            "https://example.org/p?id=3",
        ),
        ("https://example.org/p?gclid=1&mc_cid=2", "https://example.org/p"),
        ("https://exemple.fr/caf%C3%A9", "https://exemple.fr/caf%C3%A9"),
        ("https://exemple.fr/café", "https://exemple.fr/caf%C3%A9"),
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ("https://example.org./x", "https://example.org/x"),
        ("https://[2001:DB8::1]:443/", "https://[2001:db8::1]/"),
        # dot segments resolved (RFC 3986 5.2.4), also percent-encoded ones
        ("https://exemple.test/a/./b", "https://exemple.test/a/b"),
        ("https://exemple.test/a/x/../b", "https://exemple.test/a/b"),
        ("https://exemple.test/a/%2e%2E/b", "https://exemple.test/b"),
        ("https://exemple.test/../../a", "https://exemple.test/a"),
        ("https://exemple.test/a/b/..", "https://exemple.test/a/"),
        ("https://exemple.test/a/.", "https://exemple.test/a/"),
        ("https://exemple.test/a/.%2e/b/%2E", "https://exemple.test/b/"),
        # only escapes of unreserved characters are decoded (RFC 3986 6.2.2.2), never %25
        ("https://exemple.test/x/%252e%252e/page", "https://exemple.test/x/%252e%252e/page"),
        ("https://exemple.test/a%2525", "https://exemple.test/a%2525"),
        ("https://exemple.test/100%25", "https://exemple.test/100%25"),
        ("https://exemple.test/a%2fb/..", "https://exemple.test/"),
        ("https://exemple.test/a%2Fb", "https://exemple.test/a%2Fb"),
        ("https://exemple.test/a/%2e%2f../b", "https://exemple.test/a/.%2F../b"),
        ("https://exemple.test/%7e%41%2D%5f%2E%30", "https://exemple.test/~A-_.0"),
        ("https://exemple.test/w/Foo%3aBar%40x", "https://exemple.test/w/Foo%3ABar%40x"),
        ("https://exemple.test/w/Foo:Bar@x", "https://exemple.test/w/Foo:Bar@x"),
        ("https://exemple.test/caf%e9", "https://exemple.test/caf%E9"),
        ('https://exemple.test/a"b%22', "https://exemple.test/a%22b%22"),
        # a % that begins no escape is one, encoded: decoding can never make a new escape
        ("https://exemple.test/a%", "https://exemple.test/a%25"),
        ("https://exemple.test/a%zz", "https://exemple.test/a%25zz"),
        ("https://exemple.test/%%32e", "https://exemple.test/%252e"),
        # full stops a browser reads as "." in a host
        ("https://exemple\u3002test/a", "https://exemple.test/a"),
        ("https://exemple\uff0etest/a", "https://exemple.test/a"),
        ("https://exemple\uff61test\u3002/a", "https://exemple.test/a"),
        # a percent-encoded host is the host it encodes
        ("https://ex%61mple.test/", "https://example.test/"),
        # a backslash before the query is a slash to a browser (WHATWG, http and https)
        ("https://exemple.test\\@evil.test/", "https://exemple.test/@evil.test/"),
        ("https://exemple.test\\a\\b?q=\\", "https://exemple.test/a/b?q=%5C"),
        ("https:\\\\exemple.test\\a", "https://exemple.test/a"),
        ("HTTP:/\\/exemple.test/a", "http://exemple.test/a"),
        ("http:exemple.test/a", "http://exemple.test/a"),
        ("https://exemple.test/a\\..\\b", "https://exemple.test/b"),
        ("https://ex\\mple.test/", "https://ex/mple.test/"),
        ("\x01 https://exemple.test/a", "https://exemple.test/a"),
        # a host ending in a number is an IPv4 address (WHATWG): decimal, 0x hex, 0 octal
        ("http://0x5db8d822/page", "http://93.184.216.34/page"),
        ("http://1572395042/page", "http://93.184.216.34/page"),
        ("http://0135.0270.0330.042/page", "http://93.184.216.34/page"),
        ("http://0335.0270.0330.042/page", "http://221.184.216.34/page"),
        ("http://93.0xb8.55330/page", "http://93.184.216.34/page"),
        ("http://0X5DB8D822./page", "http://93.184.216.34/page"),
        ("http://127.1/", "http://127.0.0.1/"),
        ("http://0x7f.0.0.0x/", "http://127.0.0.0/"),
        ("http://0/", "http://0.0.0.0/"),
        ("http://4294967295/", "http://255.255.255.255/"),
        ("http://%30x7f.1/", "http://127.0.0.1/"),
        ("http://\uff10\uff58\uff17\uff46\uff0e\uff11/", "http://127.0.0.1/"),
        ("http://93.184.216.34:8080/", "http://93.184.216.34:8080/"),
        ("http://0x.test/", "http://0x.test/"),
        ("http://1.2.3.test/", "http://1.2.3.test/"),
    ],
)
def test_canonical_form(raw: str, canonical: str) -> None:
    assert canonicalize_url(raw) == canonical


@pytest.mark.parametrize(
    ("location", "target"),
    [
        ("/\\evil.test/x", "https://evil.test/x"),
        ("\\\\evil.test/x", "https://evil.test/x"),
        ("///evil.test/x", "https://evil.test/x"),
        ("https:\\\\evil.test/x", "https://evil.test/x"),
        ("https:page", "https://exemple.test/a/page"),
        ("http:\\\\evil.test", "http://evil.test/"),
        ("..\\c?q=\\", "https://exemple.test/c?q=%5C"),
        ("?q=1", "https://exemple.test/a/b?q=1"),
    ],
)
def test_a_redirect_goes_where_a_browser_goes(location: str, target: str) -> None:
    assert resolve_url("https://exemple.test/a/b", location) == target


@pytest.mark.parametrize("location", ["//[::1/", "ftp://exemple.test/", "//ex<a>mple.test/"])
def test_a_redirect_to_no_http_address_is_refused(location: str) -> None:
    with pytest.raises(InvalidInput):
        resolve_url("https://exemple.test/a/b", location)


def test_variants_give_one_signal() -> None:
    a = URL.compute("https://Example.org/page?utm_campaign=x#top")
    b = URL.compute("https://example.org:443/page")
    assert a == b
    assert URL.parse("https://example.org/page") == a
    assert URL.parse(a.value.upper()) == a


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("ftp://example.org/x", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("https://", "no host"),
        ("https://exa mple.org/", "not a URL"),
        ("", "not a URL"),
        ("http://example.org:99999/", "not a URL"),
        ("not a url", "not a URL"),
        ("https://exemple.test/\ud800", "not a URL"),
        ("https://exemple.test/?q=\udfff", "not a URL"),
        *[(f"https://ex{ch}mple.test/", "not a valid domain name") for ch in "<>\"{}|'`^%"],
        ("https://ex%3Cmple.test/", "not a valid domain name"),
        ("https://a..b.test/", "not a valid domain name"),
        ("https://-a.test/", "not a valid domain name"),
        ("https://[fe80::zz]/", "not a URL|not a valid IPv6"),
        ("http://4294967296/", "not a valid IPv4"),
        ("http://256.0.0.1/", "not a valid IPv4"),
        ("http://1.2.3.256/", "not a valid IPv4"),
        ("http://1.2.65536/", "not a valid IPv4"),
        ("http://1.2.3.4.5/", "not a valid IPv4"),
        ("http://08.1/", "not a valid IPv4"),
        ("http://0x1g.1/", "not a valid IPv4"),
        ("http://exemple.123/", "not a valid IPv4"),
        ("http://exemple.0x1f/", "not a valid IPv4"),
    ],
)
def test_bad_urls_are_refused(raw: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        canonicalize_url(raw)
