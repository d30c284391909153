"""In Debian's Chromium: a video case opens muted, blurred and grey, with the strip of its
matched frames; a click on a frame plays the video from that moment."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.cli_runner import Cli
from tests.servers import running_passerelle
from tests.shared import shared
from tests.videos import join_clips


@pytest.fixture(scope="module")
def video_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("video-server")
    env = {"PASSERELLE_ENV": "dev", "PASSERELLE_DATA_DIR": str(folder / "var")}
    original = shared("video", "videos", "chair-orig-22-sd-bar.mp4")
    pattern = shared("video", "videos", "pattern-hd-no-bar.mp4")
    clip = folder / "compilation.mp4"  # 2 s of another video, then 12 s of the banked one
    clip.write_bytes(
        join_clips([(pattern, 0.0, 2.0), (original, 6.0, 18.0)], width=360, height=240)
    )
    with running_passerelle(folder, "demo", env=env) as url:
        run = Cli(env)
        assert run("bank", "create", "videos", "--agency", "demo-fr").exit_code == 0
        added = run("bank", "add", "videos", "--agency", "demo-fr", "--file", str(original))
        assert added.exit_code == 0, added.output
        scanned = run("scan", "--agency", "demo-fr", "--into-queue", str(clip))
        assert scanned.exit_code == 0, scanned.output
        yield url


def test_a_video_case_is_muted_blurred_and_jumps_to_a_matched_frame(
    page: Page, video_server: str
) -> None:
    page.goto(video_server + "/login")
    page.get_by_label("Identifiant").fill("analyste.fr")
    page.get_by_label("Mot de passe").fill("demo-passerelle")
    page.get_by_role("button", name="Se connecter").click()
    page.goto(video_server + "/queue")
    page.locator("tr[data-case-url]", has_text="video/mp4").locator("a").first.click()
    expect(page).to_have_url(re.compile(r"/cases/"))
    expect(page.get_by_test_id("reasons")).to_contain_text("le segment 0:02–0:13")
    video = page.get_by_test_id("case-video")
    expect(video).to_be_visible()
    assert video.evaluate("v => v.muted") is True
    style = video.evaluate("v => getComputedStyle(v).filter")
    assert "blur" in style and "grayscale" in style
    page.wait_for_function(
        "() => document.querySelector('[data-testid=case-video]').readyState >= 1"
    )
    frames = page.get_by_test_id("matched-frames").get_by_test_id("seek")
    expect(frames.first).to_contain_text("↔")
    assert frames.count() >= 1
    thumbnail = frames.first.locator("img")
    expect(thumbnail).to_be_visible()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=seek] img').naturalWidth > 0"
    )
    start = float(frames.first.get_attribute("data-seek") or "0")
    assert start == 2.0
    frames.first.click()
    page.wait_for_function(
        f"() => Math.abs(document.querySelector('[data-testid=case-video]').currentTime"
        f" - {start}) < 0.5"
    )
    assert video.evaluate("v => v.muted") is True
