"""Build a WARC of the public test data for benchmarks and tests: the pages of
../shared/data/extraction-fr and the images of ../shared/data/pdq, repeated with small
variations so that every record has its own bytes."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def sources() -> tuple[list[bytes], list[bytes]]:
    pages = [p.read_bytes() for p in sorted((SHARED / "extraction-fr" / "html").iterdir())]
    images = [p.read_bytes() for p in sorted((SHARED / "pdq" / "images").iterdir())]
    return pages, images


def records(count: int, image_share: float = 0.1) -> Iterator[tuple[str, str, bytes]]:
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


def write_warc(path: Path, count: int, image_share: float = 0.1) -> Path:
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for url, content_type, body in records(count, image_share):
            headers = StatusAndHeaders(
                "200 OK",
                [("Content-Type", content_type), ("Content-Length", str(len(body)))],
                protocol="HTTP/1.1",
            )
            record = writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), length=len(body), http_headers=headers
            )
            writer.write_record(record)
    return path
