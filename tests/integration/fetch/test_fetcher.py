"""The safe fetcher against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import gzip
import ipaddress
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from passerelle.core.content import sniff_media_type
from passerelle.core.errors import ExternalServiceError, InvalidInput
from passerelle.fetch.fetcher import FetchLimits, SafeFetcher
from passerelle.fetch.guard import AddressGuard, describe_refusal, parse_allow_list

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
BOMB = gzip.compress(b"\x00" * 30_000_000)


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
            "/big": lambda: self.send(200, b"x" * 3_000_000),
            "/bomb": lambda: self.send(200, BOMB, Content_Encoding="gzip"),
        }
        if self.path == "/slow":
            time.sleep(2.5)
            self.send(200, b"late")
            return
        routes.get(self.path, lambda: self.send(404, b"nope"))()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


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
        with pytest.raises(InvalidInput, match="too large: 3,000,000 bytes"):
            client.fetch(base_url + "/big")
        with pytest.raises(InvalidInput, match="larger than the limit"):
            client.fetch(base_url + "/bomb")


def test_slow_servers_time_out(base_url: str) -> None:
    with (
        fetcher(timeout_seconds=1.0) as client,
        pytest.raises(ExternalServiceError, match="timed out"),
    ):
        client.fetch(base_url + "/slow")


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
        ("93.184.216.34", None),
        ("2606:2800:220:1:248:1893:25c8:1946", None),
    ],
)
def test_address_classification(address: str, reason: str | None) -> None:
    assert describe_refusal(ipaddress.ip_address(address)) == reason


def test_a_bad_allow_list_entry_is_named() -> None:
    with pytest.raises(InvalidInput, match="'intranet' is not an IP network"):
        parse_allow_list(["intranet"])
