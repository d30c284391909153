"""The safe fetcher against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import gzip
import ipaddress
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import brotli
import pytest
import zstandard

from passerelle.core.content import sniff_media_type
from passerelle.core.errors import ExternalServiceError, InvalidInput
from passerelle.core.message import message_of
from passerelle.fetch.fetcher import FetchLimits, SafeFetcher, pinned_request
from passerelle.fetch.guard import AddressGuard, describe_refusal, parse_allow_list
from passerelle.web.i18n import load_catalog
from tests.servers import serving

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
BOMB = gzip.compress(b"\x00" * 30_000_000)
# 8 MB of zeros in each content encoding: a few kilobytes on the wire.
ZEROS = b"\x00" * 8_000_000
BOMBS = {
    "gzip": gzip.compress(ZEROS),
    "deflate": zlib.compress(ZEROS, 9),
    "br": brotli.compress(ZEROS, quality=5),
    "zstd": zstandard.ZstdCompressor().compress(ZEROS),
}
HEADER_LINES = 20  # the slow server sends one every HEADER_PAUSE seconds
HEADER_PAUSE = 0.5


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        return

    def send(self, status: int, body: bytes, **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_slow_headers(self) -> None:
        """Headers one line at a time, every HEADER_PAUSE seconds, then a body."""
        try:
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for number in range(HEADER_LINES):
                self.wfile.write(f"X-Slow-{number}: yes\r\n".encode())
                self.wfile.flush()
                time.sleep(HEADER_PAUSE)
            self.wfile.write(b"Content-Length: 2\r\nConnection: close\r\n\r\nok")
        except OSError:
            return  # the fetcher hung up, as it should

    def do_GET(self) -> None:
        routes = {
            "/page.html": lambda: self.send(
                200, b"<html><title>t</title>bonjour</html>", Content_Type="text/html"
            ),
            "/png-as-text": lambda: self.send(200, PNG, Content_Type="text/plain"),
            "/redirect": lambda: self.send(302, b"", Location="/page.html"),
            "/loop": lambda: self.send(302, b"", Location="/loop"),
            "/to-metadata": lambda: self.send(
                302, b"", Location="http://169.254.169.254/latest/meta-data/"
            ),
            "/to-ftp": lambda: self.send(302, b"", Location="ftp://example.org/x"),
            # A browser reads `/\\evil.test/` as `//evil.test/`: another host.
            "/to-backslash": lambda: self.send(302, b"", Location="/\\evil.test/page.html"),
            "/big": lambda: self.send(200, b"x" * 3_000_000),
            "/bomb": lambda: self.send(200, BOMB, Content_Encoding="gzip"),
        }
        if self.path.startswith("/bomb/"):
            codec = self.path.rsplit("/", 1)[1]
            self.send(200, BOMBS[codec], Content_Encoding=codec, Content_Type="text/plain")
            return
        if self.path.startswith("/@"):  # says where the request came, for the tests
            self.send(200, f"{self.headers['Host']} {self.path}".encode())
            return
        if self.path == "/slow-headers":
            self.send_slow_headers()
            return
        if self.path == "/slow":
            time.sleep(2.5)
            self.send(200, b"late")
            return
        routes.get(self.path, lambda: self.send(404, b"nope"))()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serving(Handler) as url:
        yield url


def fetcher(**limits: float) -> SafeFetcher:
    return SafeFetcher(AddressGuard(parse_allow_list(["127.0.0.1/32"])), FetchLimits(**limits))  # type: ignore[arg-type]


def test_a_page_is_fetched_through_the_allow_list(base_url: str) -> None:
    with fetcher() as client:
        result = client.fetch(base_url + "/redirect#frag")
    assert result.status == 200
    assert result.final_url == base_url + "/page.html"
    assert result.redirects == (base_url + "/redirect",)
    assert result.content.data.startswith(b"<html>")
    assert result.content.url == base_url + "/page.html"


def test_the_real_media_type_wins_over_the_header(base_url: str) -> None:
    with fetcher() as client:
        content = client.fetch(base_url + "/png-as-text").content
    assert content.declared_type == "text/plain"
    assert sniff_media_type(content.data) == "image/png"


def test_loopback_is_refused_without_the_allow_list(base_url: str) -> None:
    with SafeFetcher() as client, pytest.raises(InvalidInput) as caught:
        client.fetch(base_url + "/page.html")
    assert (
        str(caught.value)
        == "refused to fetch 127.0.0.1: it resolves to 127.0.0.1, a loopback address"
    )
    with SafeFetcher() as client, pytest.raises(InvalidInput, match="refused to fetch localhost"):
        client.fetch(base_url.replace("127.0.0.1", "localhost") + "/page.html")


def test_a_redirect_to_the_metadata_address_is_refused(base_url: str) -> None:
    with fetcher() as client, pytest.raises(InvalidInput) as caught:
        client.fetch(base_url + "/to-metadata")
    assert "169.254.169.254, a cloud metadata address" in str(caught.value)


def test_a_redirect_to_another_scheme_is_refused(base_url: str) -> None:
    with fetcher() as client, pytest.raises(InvalidInput, match="only http and https"):
        client.fetch(base_url + "/to-ftp")


def test_redirect_loops_stop(base_url: str) -> None:
    with (
        fetcher(max_redirects=3) as client,
        pytest.raises(ExternalServiceError, match="too many redirects"),
    ):
        client.fetch(base_url + "/loop")


def test_size_and_decompression_limits(base_url: str) -> None:
    with fetcher(max_bytes=1_000_000) as client:
        with pytest.raises(InvalidInput, match="too large: 3,000,000 bytes") as too_large:
            client.fetch(base_url + "/big")
        french = message_of(too_large.value).render(load_catalog("fr").gettext)
        assert "3\u202f000\u202f000 octets (limite 1\u202f000\u202f000)" in french
        with pytest.raises(InvalidInput, match="decompresses to more than 1,000,000 bytes"):
            client.fetch(base_url + "/bomb")


def test_slow_servers_time_out(base_url: str) -> None:
    with (
        fetcher(timeout_seconds=1.0) as client,
        pytest.raises(ExternalServiceError, match="timed out"),
    ):
        client.fetch(base_url + "/slow")


@pytest.mark.parametrize("codec", sorted(BOMBS))
def test_a_decompression_bomb_is_refused_before_it_expands(base_url: str, codec: str) -> None:
    tracemalloc.start()
    try:
        with (
            fetcher(max_bytes=100_000) as client,
            pytest.raises(InvalidInput) as caught,
        ):
            client.fetch(f"{base_url}/bomb/{codec}")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(caught.value) == (
        f"{base_url}/bomb/{codec}: {codec} body decompresses to more than 100,000 bytes"
        " (refused as a decompression bomb)"
    )
    # Decompressing the whole bomb would take 8 MB at least; streaming keeps far below it.
    assert peak < 3_000_000


@pytest.mark.parametrize("codec", sorted(BOMBS))
def test_every_content_encoding_is_decoded(base_url: str, codec: str) -> None:
    with fetcher(max_bytes=10_000_000) as client:
        result = client.fetch(f"{base_url}/bomb/{codec}")
    assert result.content.data == ZEROS


def test_one_deadline_covers_headers_sent_slowly(base_url: str) -> None:
    # Each header line comes well within any per-read timeout; only a deadline for the whole
    # fetch stops it (the server would answer after HEADER_LINES * HEADER_PAUSE seconds).
    with (
        fetcher(timeout_seconds=1.5) as client,
        pytest.raises(ExternalServiceError, match="timed out fetching"),
    ):
        client.fetch(base_url + "/slow-headers")


def test_name_resolution_is_bounded_by_the_deadline() -> None:
    answered = threading.Event()

    def stuck_resolver(
        host: str, port: int
    ) -> Sequence[tuple[object, object, object, object, tuple[object, ...]]]:
        answered.wait(30)  # a resolver that does not answer in time
        return [(None, None, None, None, ("93.184.216.34", port))]

    guard = AddressGuard(resolver=stuck_resolver)
    try:
        with (
            SafeFetcher(guard, FetchLimits(timeout_seconds=0.5)) as client,
            pytest.raises(ExternalServiceError, match=r"timed out resolving exemple\.test"),
        ):
            client.fetch("http://exemple.test/")
    finally:
        answered.set()


class StubResolver:
    """Name resolution without the network: `exemple.test` is this machine, `evil.test` a
    private address (refused); every host asked for is noted."""

    ANSWERS: ClassVar[dict[str, str]] = {
        "exemple.test": "127.0.0.1",
        "http": "127.0.0.1",
        "evil.test": "10.0.0.1",
    }

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(
        self, host: str, port: int
    ) -> Sequence[tuple[object, object, object, object, tuple[object, ...]]]:
        self.asked.append(host)
        return [(None, None, None, None, (self.ANSWERS[host], port))]


def stubbed_fetcher(resolver: StubResolver) -> SafeFetcher:
    return SafeFetcher(AddressGuard(parse_allow_list(["127.0.0.1/32"]), resolver=resolver))


def test_the_host_checked_is_the_host_connected_to_and_shown(base_url: str) -> None:
    """A backslash ends the host for a browser: `exemple.test:P\\@evil.test/` is
    `exemple.test`, path `/@evil.test/`, not `evil.test` (which urllib and httpx would read)."""
    port = base_url.rsplit(":", 1)[1]
    resolver = StubResolver()
    with stubbed_fetcher(resolver) as client:
        result = client.fetch(f"http://exemple.test:{port}\\@evil.test/")
    assert resolver.asked == ["exemple.test"]
    assert result.content.data == f"exemple.test:{port} /@evil.test/".encode()
    assert result.content.url == result.final_url == f"http://exemple.test:{port}/@evil.test/"


def test_a_host_after_a_backslash_is_checked_before_any_connection(base_url: str) -> None:
    """`evil.test\\@exemple.test:P` goes to `evil.test` (port 80), refused by the guard; read
    as urllib reads it, it would have been fetched from the allowed `exemple.test`."""
    port = base_url.rsplit(":", 1)[1]
    resolver = StubResolver()
    with stubbed_fetcher(resolver) as client, pytest.raises(InvalidInput, match=r"evil\.test"):
        client.fetch(f"http://evil.test\\@exemple.test:{port}/@page")
    assert resolver.asked == ["evil.test"]


def test_a_host_named_like_the_scheme_is_pinned_in_its_place() -> None:
    with stubbed_fetcher(StubResolver()) as client:
        request = pinned_request(client._client, "GET", "http://http/", client.guard)
    assert str(request.url) == "http://127.0.0.1/"
    assert request.headers["Host"] == "http"


def test_a_numeric_host_is_fetched_and_shown_as_the_address_it_is(base_url: str) -> None:
    port = base_url.rsplit(":", 1)[1]
    resolver = StubResolver()
    with stubbed_fetcher(resolver) as client:
        result = client.fetch(f"http://0x7f.1:{port}/@page")
    assert resolver.asked == []  # an address: nothing to look up
    assert result.final_url == f"http://127.0.0.1:{port}/@page"
    assert result.content.data == f"127.0.0.1:{port} /@page".encode()  # as a browser says it


def test_a_redirect_is_followed_where_a_browser_goes(base_url: str) -> None:
    resolver = StubResolver()
    with stubbed_fetcher(resolver) as client, pytest.raises(InvalidInput, match=r"evil\.test"):
        client.fetch(base_url + "/to-backslash")
    assert resolver.asked == ["evil.test"]


def test_an_unresolvable_host_is_an_outside_failure() -> None:
    with SafeFetcher() as client, pytest.raises(ExternalServiceError, match="cannot resolve"):
        client.fetch("http://nothing.invalid/")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd00::1", "a private address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "the unspecified address"),  # noqa: S104 - the point of the test
        ("::", "the unspecified address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("100.64.0.1", "not a public address"),
        ("240.0.0.1", "a private address"),
        ("2002:7f00:1::", "a loopback address (embeds 127.0.0.1)"),
        ("2002:a9fe:a9fe::1", "a cloud metadata address (embeds 169.254.169.254)"),
        ("2002:c0a8:101::", "a private address (embeds 192.168.1.1)"),
        ("64:ff9b::7f00:1", "a loopback address (embeds 127.0.0.1)"),
        ("64:ff9b::a9fe:a9fe", "a cloud metadata address (embeds 169.254.169.254)"),
        ("::ffff:169.254.169.254", "a cloud metadata address"),
        # Teredo: server 65.54.227.120, client 127.0.0.1 stored inverted (0x80ffffFE).
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "a loopback address (embeds 127.0.0.1)"),
        ("2002:5db8:d822::1", None),  # 6to4 of a public address
        ("93.184.216.34", None),
        ("2606:2800:220:1:248:1893:25c8:1946", None),
    ],
)
def test_address_classification(address: str, reason: str | None) -> None:
    refusal = describe_refusal(ipaddress.ip_address(address))
    assert (refusal.english() if refusal else None) == reason


def test_a_refused_address_is_said_in_the_readers_language() -> None:
    with pytest.raises(InvalidInput) as caught:
        AddressGuard().check(ipaddress.ip_address("2002:7f00:1::"), "piege.exemple")
    said = message_of(caught.value)
    assert said.render(load_catalog("fr").gettext) == (
        "récupération de piege.exemple refusée\u00a0: le nom désigne 2002:7f00:1::,"
        " une adresse de bouclage (qui contient 127.0.0.1)"
    )
    assert said.english() == (
        "refused to fetch piege.exemple: it resolves to 2002:7f00:1::,"
        " a loopback address (embeds 127.0.0.1)"
    )


def test_a_bad_allow_list_entry_is_named() -> None:
    with pytest.raises(InvalidInput, match="'intranet' is not an IP network"):
        parse_allow_list(["intranet"])
