"""Build a WARC of the public test data for benchmarks and tests: the pages of
../shared/data/extraction-fr and the images of ../shared/data/pdq, repeated with small
variations so that every fresh record has its own bytes.

By default the file looks like a crawler's (`crawl=True`): a warcinfo record, then a request
record before each response, as Heritrix, wget and Common Crawl write them; responses that
are not 200 (some 404 pages, all with the site's same error page, and 301 redirects without
a body); pages stored as the server sent them, some gzip-encoded; and payloads served again
at other addresses (an article behind tracking parameters, a picture shown on several
pages). The shares are the `CRAWL_*` constants below and are printed by the benchmarks.
`crawl=False` gives the plain file of earlier versions: one 200 response per record, every
payload distinct."""

from __future__ import annotations

import gzip
import hashlib
import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

CRAWL_NOT_FOUND = 0.03  # 404 responses: the site's error page
CRAWL_REDIRECTS = 0.03  # 301 responses, no body
CRAWL_PAGES_AGAIN = 0.10  # of the pages: a page already served, at another address
CRAWL_IMAGES_AGAIN = 0.25  # of the images: a picture already served, at another address
CRAWL_GZIPPED = 0.25  # of the pages: stored gzip-encoded, as sent
NOT_FOUND_PAGE = (
    b"<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'><title>Page introuvable"
    b"</title></head><body><header><nav><a href='/'>Accueil</a></nav></header><main>"
    b"<h1>Page introuvable</h1><p>La page que vous cherchez n'existe pas ou plus. Elle a"
    b" peut-\xc3\xaatre \xc3\xa9t\xc3\xa9 d\xc3\xa9plac\xc3\xa9e.</p></main></body></html>"
)


@dataclass(frozen=True, slots=True)
class Response:
    url: str
    status: str
    content_type: str
    body: bytes
    encoding: str | None = None  # Content-Encoding of the stored body
    location: str | None = None


def sources() -> tuple[list[bytes], list[bytes]]:
    pages = [p.read_bytes() for p in sorted((SHARED / "extraction-fr" / "html").iterdir())]
    images = [p.read_bytes() for p in sorted((SHARED / "pdq" / "images").iterdir())]
    return pages, images


def records(count: int, image_share: float = 0.1) -> Iterator[tuple[str, str, bytes]]:
    """The plain records: (url, content type, body), every body distinct."""
    pages, images = sources()
    every = max(1, round(1 / image_share)) if image_share else 0
    for i in range(count):
        if every and i % every == every - 1:
            image = images[i % len(images)]
            # Appending bytes after the JPEG end marker changes the digests, not the picture.
            yield f"https://images.exemple.test/{i}.jpg", "image/jpeg", image + i.to_bytes(4, "big")
        else:
            page = pages[i % len(pages)]
            marker = f"<!-- copie {i} -->".encode()
            yield f"https://pages.exemple.test/{i}.html", "text/html; charset=utf-8", page + marker


def crawl_responses(count: int, image_share: float = 0.1) -> Iterator[Response]:
    """`count` responses as a crawl holds them (see the module's docstring)."""
    draw = random.Random(20261202)
    served_pages: list[bytes] = []
    served_images: list[bytes] = []
    for i, (url, content_type, body) in enumerate(records(count, image_share)):
        roll = draw.random()
        if roll < CRAWL_NOT_FOUND:
            yield Response(url, "404 Not Found", "text/html; charset=utf-8", NOT_FOUND_PAGE)
            continue
        if roll < CRAWL_NOT_FOUND + CRAWL_REDIRECTS:
            yield Response(url, "301 Moved Permanently", "text/html", b"", location=f"{url}/")
            continue
        is_image = content_type.startswith("image/")
        served = served_images if is_image else served_pages
        if served and draw.random() < (CRAWL_IMAGES_AGAIN if is_image else CRAWL_PAGES_AGAIN):
            body = served[draw.randrange(len(served))]
            url = f"{url}?utm_source=lettre&n={i}"
        else:
            served.append(body)
        if not is_image and draw.random() < CRAWL_GZIPPED:
            yield Response(url, "200 OK", content_type, gzip.compress(body, mtime=0), "gzip")
        else:
            yield Response(url, "200 OK", content_type, body)


def write_warc(path: Path, count: int, image_share: float = 0.1, *, crawl: bool = True) -> Path:
    """A WARC.gz of `count` responses (and, with `crawl`, their requests)."""
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        if crawl:
            writer.write_record(
                writer.create_warcinfo_record(path.name, {"software": "passerelle warcgen"})
            )
            for response in crawl_responses(count, image_share):
                _write_request(writer, response.url)
                _write_response(writer, response)
        else:
            for url, content_type, body in records(count, image_share):
                _write_response(writer, Response(url, "200 OK", content_type, body))
    return path


def _write_request(writer: WARCWriter, url: str) -> None:
    host = url.split("/")[2]
    path = "/" + url.split("/", 3)[3]
    headers = StatusAndHeaders(
        f"GET {path} HTTP/1.1",
        [("Host", host), ("User-Agent", "passerelle-warcgen"), ("Accept-Encoding", "gzip")],
        is_http_request=True,
    )
    record = writer.create_warc_record(url, "request", http_headers=headers)
    writer.write_record(record)


def _write_response(writer: WARCWriter, response: Response) -> None:
    fields = [("Content-Type", response.content_type), ("Content-Length", str(len(response.body)))]
    if response.encoding:
        fields.append(("Content-Encoding", response.encoding))
    if response.location:
        fields.append(("Location", response.location))
    headers = StatusAndHeaders(response.status, fields, protocol="HTTP/1.1")
    record = writer.create_warc_record(
        response.url,
        "response",
        payload=io.BytesIO(response.body),
        length=len(response.body),
        http_headers=headers,
    )
    writer.write_record(record)


def describe(records: int, image_share: float = 0.1) -> str:
    """What the generated crawl holds, counted from the same generator."""
    responses = list(crawl_responses(records, image_share))
    pages = [r for r in responses if r.status.startswith("200") and "html" in r.content_type]
    images = [r for r in responses if r.content_type.startswith("image/")]
    again = len(responses) - len({hashlib.sha256(r.body).digest() for r in responses})
    return (
        f"{len(pages)} pages ({sum(bool(r.encoding) for r in pages)} gzip-encoded),"
        f" {len(images)} JPEG images, {sum(r.status.startswith('404') for r in responses)} 404"
        f" and {sum(r.status.startswith('301') for r in responses)} 301 responses;"
        f" {again} payloads served again at another address; each with its request record"
    )
