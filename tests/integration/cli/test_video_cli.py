"""Videos through the CLI: `bank add --file` computes the vpdq a scan computes, and `scan`
finds videos in files, folders, URLs and WARC records, says which segment matched, and goes on
past broken videos."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.cli_runner import Cli
from tests.servers import serving
from tests.shared import shared
from tests.videos import cut_clip

ORIGINAL = "chair-orig-22-sd-bar"


def video_path(name: str) -> Path:
    return shared("video", "videos", f"{name}.mp4")


@pytest.fixture
def run(tmp_path: Path, database_url: str) -> Cli:
    runner = Cli(
        {
            "PASSERELLE_ENV": "dev",
            "PASSERELLE_DATABASE_URL": database_url,
            "PASSERELLE_DATA_DIR": str(tmp_path / "var"),
            "PASSERELLE_FETCH_ALLOW": "127.0.0.0/8",
        }
    )
    assert runner("db", "upgrade").exit_code == 0
    created = runner("agency", "add", "unite-fr", "--name", "Unité", "--jurisdiction", "FR")
    assert created.exit_code == 0
    assert runner("bank", "create", "videos").exit_code == 0
    added = runner("bank", "add", "videos", "--file", str(video_path(ORIGINAL)), "--tier", "crisis")
    assert added.output == "3 added, 0 already in bank videos\n"
    return runner


def lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_a_banked_video_and_what_scanning_a_folder_of_videos_finds(
    run: Cli, tmp_path: Path
) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(video_path("chair-22-sd-grey-bar"), folder / "a-grey.mp4")
    shutil.copy(video_path("pattern-hd-no-bar"), folder / "b-pattern.mp4")
    data = video_path(ORIGINAL).read_bytes()
    (folder / "c-truncated.mp4").write_bytes(data[:3000])
    (folder / "d-empty.mp4").write_bytes(b"")
    (folder / "e-clip.mp4").write_bytes(cut_clip(video_path(ORIGINAL), 4.0, 14.0, scale=0.5))
    result = run("scan", "--json", str(folder))
    items = {Path(str(i["source"])).name: i for i in lines(result.output)}
    assert sorted(items) == [
        "a-grey.mp4",
        "b-pattern.mp4",
        "c-truncated.mp4",
        "d-empty.mp4",
        "e-clip.mp4",
    ]
    grey = items["a-grey.mp4"]
    assert grey["media_type"] == "video/mp4"
    assert set(grey["signals"]) == {"sha256", "md5", "vpdq"}  # type: ignore[arg-type]
    (match,) = grey["matches"]  # type: ignore[misc]
    assert match["signal_type"] == "vpdq" and match["video"]["compared_share"] == 100.0
    assert grey["reasons"][1].startswith("segment 0:00–0:22 matches 100 % of a banked video")  # type: ignore[index]
    assert items["b-pattern.mp4"]["matches"] == []
    (clip_match,) = items["e-clip.mp4"]["matches"]  # type: ignore[misc]
    segment = clip_match["video"]["segments"][0]
    assert (segment["query_start"], segment["query_end"]) == (0.0, 9.0)
    assert 3.0 <= segment["banked_start"] <= 5.0 and 12.0 <= segment["banked_end"] <= 14.0
    assert items["c-truncated.mp4"]["warnings"][0].startswith("no vpdq signal: ")  # type: ignore[index]
    assert items["d-empty.mp4"]["matches"] == []
    assert "5 items" in result.output


def test_bank_add_refuses_a_video_it_cannot_fingerprint(run: Cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(video_path(ORIGINAL).read_bytes()[:3000])
    refused = run("bank", "add", "videos", "--file", str(broken))
    assert refused.exit_code == 2
    assert f"{broken}: no vpdq signal: " in refused.output


class Handler(BaseHTTPRequestHandler):
    body = b""

    def log_message(self, *_: object) -> None:
        return

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


@pytest.fixture
def server() -> Iterator[str]:
    Handler.body = cut_clip(video_path(ORIGINAL), 2.0, 12.0)
    with serving(Handler) as url:
        yield url + "/clip.mp4"


def test_videos_at_a_url_and_in_a_warc_record_are_matched(
    run: Cli, server: str, tmp_path: Path
) -> None:
    archive = tmp_path / "crawl.warc"
    body = video_path("chair-22-sd-grey-bar").read_bytes()
    http = f"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {len(body)}\r\n\r\n"
    block = http.encode() + body
    head = (
        "WARC/1.0\r\nWARC-Type: response\r\n"
        "WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000001>\r\n"
        "WARC-Date: 2026-01-01T00:00:00Z\r\n"
        "WARC-Target-URI: https://exemple.test/grey.mp4\r\n"
        "Content-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {len(block)}\r\n\r\n"
    )
    archive.write_bytes(head.encode() + block + b"\r\n\r\n")
    result = run("scan", "--json", server, str(archive))
    found = lines(result.output)
    assert [i["media_type"] for i in found] == ["video/mp4", "video/mp4"]
    assert all(i["matches"] and i["matches"][0]["signal_type"] == "vpdq" for i in found)  # type: ignore[index]
    assert found[1]["url"] == "https://exemple.test/grey.mp4"


def test_a_long_video_s_vpdq_is_banked_once(run: Cli) -> None:
    # 300 frames: some 24 kB, beyond what a PostgreSQL B-tree row holds.
    rng = random.Random(3)
    value = json.dumps([f"{rng.getrandbits(256):064x},100,{t:.3f}" for t in range(300)])
    first = run("bank", "add", "videos", "--type", "vpdq", "--value", value)
    assert first.output == "1 added, 0 already in bank videos\n"
    again = run("bank", "add", "videos", "--type", "vpdq", "--value", value)
    assert again.output == "0 added, 1 already in bank videos\n"


def test_a_video_banked_after_the_index_was_written_is_matched(run: Cli, tmp_path: Path) -> None:
    # The first scan writes the match index; the next bank entry reaches it as a delta,
    # which must carry the video's frames like a full build does.
    pattern = tmp_path / "pattern.mp4"
    pattern.write_bytes(cut_clip(video_path("pattern-hd-no-bar"), 0.0, 30.0, scale=0.5))
    assert lines(run("scan", "--json", str(pattern)).output)[0]["matches"] == []
    assert run("bank", "create", "later").exit_code == 0
    added = run("bank", "add", "later", "--file", str(video_path("pattern-hd-no-bar")))
    assert added.exit_code == 0
    (item,) = lines(run("scan", "--json", str(pattern)).output)
    assert [m["bank"] for m in item["matches"]] == ["later"]  # type: ignore[index]
