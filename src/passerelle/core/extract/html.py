"""HTML extraction. Two paths on purpose:

- `extract_document`: what an analyst reads (trafilatura: main text, title, date, images);
- `fingerprint_text`: the fast main-content text that near-duplicate fingerprints are computed
  on (resiliparse), used for every page of a crawl and for bank entries alike, so that the two
  sides of a comparison always come from the same extractor."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from urllib.parse import urljoin

from lxml import html as lxml_html
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

MAX_IMAGE_URLS = 200
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)\s*")


@dataclass(frozen=True, slots=True)
class Document:
    text: str
    title: str | None
    date: str | None
    language: str | None
    image_urls: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "title": self.title,
            "date": self.date,
            "language": self.language,
            "image_urls": list(self.image_urls),
        }


def fingerprint_text(html: str | HTMLTree) -> str:
    """Main-content text, fast: the input of the `text` signal for HTML."""
    return str(extract_plain_text(html, main_content=True, alt_texts=False, links=False))


def image_urls(html: str, base_url: str | None) -> tuple[str, ...]:
    """Every image a page shows or announces (img, srcset, og:image), absolute when possible."""
    try:
        tree = lxml_html.document_fromstring(html)
    except (ValueError, lxml_html.etree.ParserError):
        return ()
    found: list[str] = []
    candidates = tree.xpath("//img/@src | //img/@data-src | //meta[@property='og:image']/@content")
    for srcset in tree.xpath("//img/@srcset | //source/@srcset"):
        candidates.extend(part.strip().split(" ")[0] for part in str(srcset).split(","))
    for candidate in candidates:
        url = str(candidate).strip()
        if not url or url.startswith("data:"):
            continue
        absolute = urljoin(base_url, url) if base_url else url
        if absolute not in found:
            found.append(absolute)
        if len(found) >= MAX_IMAGE_URLS:
            break
    return tuple(found)


def page_title(tree: HTMLTree) -> str | None:
    """The page's own title: `og:title` when the page gives one (it has no site name glued to
    it), else `<title>`."""
    document = tree.document
    meta = document.query_selector('meta[property="og:title"]') if document else None
    candidate = meta.getattr("content") if meta is not None else None
    title = (candidate or tree.title or "").strip()
    return title[:300] or None


def page_date(html: str, url: str | None) -> str | None:
    """Publication date from the page's markup (htmldate, quick search: about 2 ms a page;
    the extensive search costs 100 ms and found one more date in 13 on extraction-fr)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from htmldate import find_date  # loaded by the analyst's view only

        found = find_date(html, url=url, extensive_search=False, original_date=True)
    return str(found) if found else None


def extract_document(html: str, *, url: str | None = None) -> Document:
    """The analyst's view of a page. Falls back to the fast extractor when trafilatura finds
    no main text, so that a page is never shown empty when it has words."""
    import trafilatura  # loaded by the analyst's view only, never by scans

    from passerelle.core.extract.language import detect_language

    with warnings.catch_warnings():
        # trafilatura on lxml 6 warns about element truth-testing; not ours to fix.
        warnings.simplefilter("ignore", FutureWarning)
        extracted = trafilatura.bare_extraction(
            html, url=url, with_metadata=False, include_images=False, include_comments=False
        )
    text = ""
    if isinstance(extracted, trafilatura.settings.Document):
        text = _MARKDOWN_IMAGE.sub("", extracted.text or "").strip()
    tree = HTMLTree.parse(html)
    if not text:
        text = fingerprint_text(tree).strip()
    title = page_title(tree)
    date = page_date(html, url) if html.strip() else None
    return Document(
        text=text,
        title=title,
        date=date,
        language=detect_language(text or (title or "")).language,
        image_urls=image_urls(html, url),
    )


def extract_plain(text: str) -> Document:
    from passerelle.core.extract.language import detect_language

    return Document(
        text=text.strip(), title=None, date=None, language=detect_language(text).language
    )
