"""The media type of ISO base media files (MP4, QuickTime, 3GP, HEIF, AVIF) from their `ftyp`
box: still images (AVIF, HEIF/HEIC) are never taken for videos, and a broken box is no type."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from passerelle.core.content import OCTETS, Content, sniff_media_type
from passerelle.scan import ScanOptions, fingerprint
from tests.shared import shared


def ftyp(major: bytes, *compatible: bytes, size: int | None = None) -> bytes:
    """An `ftyp` box as the files open with, followed by an empty `mdat` box."""
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    length = size if size is not None else 8 + len(body)
    return length.to_bytes(4, "big") + b"ftyp" + body + b"\x00\x00\x00\x08mdat"


@pytest.mark.parametrize(
    ("header", "media_type"),
    [
        # HEIF images coded with HEVC (what phones save): HEIC.
        (ftyp(b"heic", b"mif1", b"heic"), "image/heic"),
        (ftyp(b"heix", b"mif1", b"heix"), "image/heic"),
        (ftyp(b"hevc", b"msf1", b"hevc"), "image/heic"),
        (ftyp(b"mif1", b"mif1", b"heic", b"miaf"), "image/heic"),
        (ftyp(b"msf1", b"msf1", b"hevx"), "image/heic"),
        # HEIF with no coding brand: HEIF.
        (ftyp(b"mif1", b"mif1", b"miaf"), "image/heif"),
        # AVIF, still and sequence, also under a generic HEIF major brand.
        (ftyp(b"avif", b"avif", b"mif1", b"miaf", b"MA1B"), "image/avif"),
        (ftyp(b"avis", b"avis", b"msf1", b"miaf"), "image/avif"),
        (ftyp(b"mif1", b"avif", b"mif1", b"miaf"), "image/avif"),
        # Videos.
        (ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), "video/mp4"),
        (ftyp(b"mp42", b"mp42", b"isom"), "video/mp4"),
        (ftyp(b"MSNV", b"MSNV", b"mp42"), "video/mp4"),
        (ftyp(b"qt  ", b"qt  "), "video/quicktime"),
        (ftyp(b"3gp4", b"3gp4", b"isom"), "video/3gpp"),
        (ftyp(b"3gp5", b"3gp5"), "video/3gpp"),
        (ftyp(b"3g2a", b"3g2a"), "video/3gpp2"),
        # Audio in MP4: not a video.
        (ftyp(b"M4A ", b"M4A ", b"mp42"), "audio/mp4"),
    ],
)
def test_brands_name_the_media_type(header: bytes, media_type: str) -> None:
    assert sniff_media_type(header) == media_type


@pytest.mark.parametrize(
    "header",
    [
        ftyp(b"heic", size=8),  # a box too short to hold its major brand
        ftyp(b"isom", b"iso", size=22),  # a size that cuts a brand in two
        b"\x00\x00\x00\x18ftypmp4",  # the file ends inside the box
    ],
    ids=["too-short", "cut-brand", "truncated"],
)
def test_a_broken_ftyp_box_is_no_known_type(header: bytes) -> None:
    assert sniff_media_type(header) == OCTETS


def test_an_avif_image_is_hashed_as_an_image() -> None:
    picture = Image.open(io.BytesIO(shared("pdq", "images", "aaa-orig.jpg").read_bytes()))
    out = io.BytesIO()
    picture.convert("RGB").save(out, format="AVIF", quality=90)
    found = fingerprint(Content(source="photo.avif", data=out.getvalue()), ScanOptions())
    assert found.media_type == "image/avif"
    assert [s.type for s in found.signals] == ["sha256", "md5", "pdq"]
    assert found.warnings == []


def test_a_heic_image_is_named_and_not_taken_for_a_video() -> None:
    data = ftyp(b"heic", b"mif1", b"heic") + bytes(64)
    found = fingerprint(Content(source="photo.heic", data=data), ScanOptions())
    assert found.media_type == "image/heic"
    assert [s.type for s in found.signals] == ["sha256", "md5"]
    assert [warning.english() for warning in found.warnings] == [
        "no pdq signal: image/heic images cannot be decoded here (HEIF/HEIC);"
        " convert it to JPEG or PNG to compare it"
    ]
