"""The thumbnails of a matched video's frames are made when the video is preserved, kept
encrypted beside it, served from there, and go with it (purge, sweep)."""

from __future__ import annotations

import io
from functools import cache

import pytest
from PIL import Image

from passerelle.core.bank import EntryInput
from passerelle.core.case import QueueFilters
from passerelle.core.content import Content
from passerelle.core.errors import NotFound
from passerelle.core.identity import User
from passerelle.core.taxonomy import Category, Labels, Tier
from passerelle.core.video import hash_video, thumbnail_name
from passerelle.db.session import Database
from passerelle.scan import ScanOptions, scan
from passerelle.services.banks import add_entries, create_bank, load_matcher
from passerelle.services.ingest import queue_result
from passerelle.services.queue import case_frame
from passerelle.settings import Settings
from passerelle.storage.content_store import EncryptedContentStore
from tests.factories import make_agency, make_user
from tests.shared import shared
from tests.videos import join_clips

ORIGINAL = shared("video", "videos", "chair-orig-22-sd-bar.mp4")
PATTERN = shared("video", "videos", "pattern-hd-no-bar.mp4")


@cache
def compilation() -> bytes:
    """2 s of another video, then 12 s of the banked one."""
    return join_clips([(PATTERN, 0.0, 2.0), (ORIGINAL, 6.0, 18.0)], width=360, height=240)


def _queued_video_case(database: Database, store: EncryptedContentStore) -> tuple[str, str, User]:
    """The case opened for the compilation, the SHA-256 of its preserved content, and an
    analyst of the agency."""
    with database.unit_of_work(write=True) as uow:
        make_agency(uow, code="unite-fr")
        labels = Labels(category=Category.INCITES, tier=Tier.PROMOTIONAL)
        create_bank(uow, agency_code="unite-fr", name="videos", actor="test")
        banked = hash_video(ORIGINAL.read_bytes()).signal
        entry = EntryInput("vpdq", banked.value, labels)
        add_entries(uow, agency_code="unite-fr", bank_name="videos", entries=[entry], actor="t")
        matcher = load_matcher(uow, agency_code="unite-fr")
        uow.commit()
    result = scan(
        Content(source="compilation.mp4", data=compilation()),
        matcher,
        ScanOptions(keep_matched_content=True),
    )
    assert result.matches and [t for t, _ in result.thumbnails] == [2.0]
    with database.unit_of_work(write=True) as uow:
        queue_result(uow, agency_code="unite-fr", result=result, actor="test", store=store)
        viewer = make_user(uow, agency_code="unite-fr", username="analyste", roles=("analyst",))
        uow.commit()
    with database.unit_of_work() as uow:
        agency = uow.agencies.get_by_code("unite-fr")
        (case_id,) = [c.id for c in uow.queue.list_cases(agency.id, QueueFilters(), limit=10)]
    return case_id, result.sha256, viewer


def test_thumbnails_are_kept_encrypted_with_the_preserved_video_and_served_from_there(
    database: Database, store: EncryptedContentStore, settings: Settings
) -> None:
    case_id, sha256, viewer = _queued_video_case(database, store)
    kept = store.get_derived(sha256, thumbnail_name(2.0))
    assert Image.open(io.BytesIO(kept)).format == "JPEG"
    on_disk = list(settings.content_dir.glob(f"derived/??/??/{sha256}/*"))
    assert [p.name for p in on_disk] == ["frame-2000.jpg"]
    assert b"JFIF" not in on_disk[0].read_bytes()  # encrypted at rest
    # The case page's strip gets the kept thumbnail, not one made again from the video.
    marker = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(marker, format="JPEG")
    store.put_derived(sha256, thumbnail_name(2.0), marker.getvalue())
    with database.unit_of_work() as uow:
        served = case_frame(uow, store, viewer=viewer, case_id=case_id, seconds=2.0)
        assert served == marker.getvalue()
        # A moment with no kept thumbnail is still made on request from the content.
        other = case_frame(uow, store, viewer=viewer, case_id=case_id, seconds=5.0)
    assert Image.open(io.BytesIO(other)).format == "JPEG"


def test_thumbnails_go_with_the_content(
    database: Database, store: EncryptedContentStore, settings: Settings
) -> None:
    _, sha256, _ = _queued_video_case(database, store)
    assert store.delete(sha256)  # what the retention purge calls
    with pytest.raises(NotFound):
        store.get_derived(sha256, thumbnail_name(2.0))
    assert not list(settings.content_dir.glob("derived/??/??/*"))
    # Thumbnails of content that nothing refers to (a transaction that failed) are swept.
    store.put_derived(sha256, thumbnail_name(1.0), b"x")
    swept = store.sweep(lambda names: set(), grace_seconds=0)
    assert swept.deleted == 1
    assert not list(settings.content_dir.glob("derived/??/??/*"))
