"""The Spark job in local mode: the same records and matches as `passerelle scan` on the same
input, bad inputs counted and named, candidates back into the queue once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from benchmarks.warcgen import write_warc
from click.testing import CliRunner

from passerelle.cli.main import cli
from passerelle.core.case import QueueFilters
from passerelle.core.signals.pdq import PDQ
from passerelle.db.engine import make_engine
from passerelle.db.session import Database
from passerelle.exchange.candidates import read_candidates
from passerelle.settings import load_settings
from passerelle.storage.content_store import EncryptedContentStore, derive_content_key
from tests.cli_runner import Cli
from tests.conftest import require_or_skip
from tests.shared import shared

PAGES = ("aoc.media.archaisme.html", "arteradio.com-nuls.html")


@pytest.fixture(scope="module")
def java() -> None:
    if shutil.which("java") is None:
        require_or_skip("Java is not installed (Spark needs it; bash .ci/run installs it)")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, java: None) -> tuple[Cli, Path]:
    folder = tmp_path_factory.mktemp("spark")
    run = Cli(
        {"PASSERELLE_ENV": "dev", "PASSERELLE_DATA_DIR": str(folder / "var")},
        catch_exceptions=False,
    )
    assert run("db", "upgrade").exit_code == 0
    assert run("agency", "add", "unite-fr", "--name", "U", "--jurisdiction", "FR").exit_code == 0
    assert run("bank", "create", "connu").exit_code == 0
    labels = ("--category", "a", "--tier", "promotional")
    known = [shared("pdq", "images", "aaa-orig.jpg")] + [
        shared("extraction-fr", "html", name) for name in PAGES
    ]
    for path in known:
        assert run("bank", "add", "connu", "--file", str(path), *labels).exit_code == 0
    for url in ("http://example.com/", "http://httpbin.org/post"):
        assert run("bank", "add", "connu", "--type", "url", "--value", url, *labels).exit_code == 0
    # A bank of image hashes only: the fast path then computes no text and no MD5.
    assert run("bank", "create", "images").exit_code == 0
    pdq = PDQ.compute(shared("pdq", "images", "aaa-orig.jpg").read_bytes()).value
    assert run("bank", "add", "images", "--type", "pdq", "--value", pdq, *labels).exit_code == 0
    inputs = folder / "inputs"
    inputs.mkdir()
    write_warc(inputs / "generated.warc.gz", 120, image_share=0.2, crawl=False)
    for path in sorted(shared("warc").iterdir()):
        if path.name != "MANIFEST.md":
            shutil.copy(path, inputs / path.name)
    return run, folder


Found = dict[str, tuple[str, list[tuple[object, ...]]]]


def cli_matches(run: Cli, inputs: Path) -> tuple[Found, int]:
    """What `passerelle scan --json` finds: matches by record, and the records it read."""
    result = run("scan", "--json", str(inputs))
    found = {}
    items = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    for item in items:
        if item.get("matches"):
            found[item["source"]] = (
                item["sha256"],
                sorted(
                    (m["bank"], m["signal_type"], m["value"], float(m["distance"]))
                    for m in item["matches"]
                ),
            )
    return found, sum(1 for item in items if item.get("sha256"))


def job_matches(output: Path) -> Found:
    found = {}
    for candidate in read_candidates(output):
        assert not isinstance(candidate, Exception)
        matches = json.loads(candidate.findings.matches_json)  # type: ignore[union-attr]
        found[candidate.source] = (  # type: ignore[union-attr]
            candidate.findings.sha256,  # type: ignore[union-attr]
            sorted(
                (m["bank"], m["signal_type"], m["value"], float(m["distance"])) for m in matches
            ),
        )
    return found


def test_the_job_finds_what_passerelle_scan_finds(workspace: tuple[Cli, Path]) -> None:
    run, folder = workspace
    inputs = folder / "inputs"
    expected, records = cli_matches(run, inputs)
    # every kind of match is exercised: images (pdq), pages (text) and addresses (url)
    kinds = {m[1] for _, matches in expected.values() for m in matches}
    assert kinds >= {"pdq", "text", "url"}
    result = run(
        "spark",
        "scan",
        str(inputs / "*.warc*"),
        str(inputs / "*.arc*"),
        "--output",
        str(folder / "fast"),
        "--master",
        "local[2]",
    )
    assert result.exit_code == 0, result.output
    counters = json.loads(result.output[result.output.index("{") :])
    assert job_matches(folder / "fast") == expected
    assert counters["matched"] == len(expected)
    assert counters["records_read"] == records  # 120 generated ones and the warcio files'
    assert records > 120
    assert counters["files"] == len(list(inputs.iterdir()))
    # the warcio files' known defects are named by file
    assert any("example-trunc.warc" in name for name in counters["problems"])
    assert (folder / "fast" / "_counters.json").exists()


def test_the_fast_path_loses_no_match(workspace: tuple[Cli, Path]) -> None:
    run, folder = workspace
    inputs = str(folder / "inputs" / "generated.warc.gz")
    common = ("--bank", "images", "--master", "local[1]")
    assert run("spark", "scan", inputs, "-o", str(folder / "g-fast"), *common).exit_code == 0
    full = run("spark", "scan", inputs, "-o", str(folder / "g-full"), "--full", *common)
    assert full.exit_code == 0
    fast_found, full_found = job_matches(folder / "g-fast"), job_matches(folder / "g-full")
    assert fast_found == full_found and len(fast_found) == 24  # every image of the 120 records

    def types(output: Path) -> set[str]:
        return {
            kind
            for c in read_candidates(output)
            for kind in json.loads(c.findings.signals_json)  # type: ignore[union-attr]
        }

    # a matched record gets every signal on both paths (what the queue keeps of it)
    assert types(folder / "g-fast") == types(folder / "g-full") == {"sha256", "md5", "pdq", "url"}


def test_uris_are_read_through_sparks_file_system(workspace: tuple[Cli, Path]) -> None:
    """As s3a:// or hdfs:// URIs are on a cluster (here file://, the same code path)."""
    run, folder = workspace
    path = folder / "inputs" / "generated.warc.gz"
    common = ("--bank", "images", "--master", "local[2]")
    assert run("spark", "scan", str(path), "-o", str(folder / "by-path"), *common).exit_code == 0
    by_uri = run("spark", "scan", f"file://{path}", "-o", str(folder / "by-uri"), *common)
    assert by_uri.exit_code == 0, by_uri.output
    renamed = {  # as Hadoop writes a local URI
        source.replace(str(path), f"file:{path}"): found
        for source, found in job_matches(folder / "by-path").items()
    }
    assert job_matches(folder / "by-uri") == renamed and len(renamed) == 24


def test_bad_files_among_good_ones_are_counted_and_named(workspace: tuple[Cli, Path]) -> None:
    run, folder = workspace
    mixed = folder / "mixed"
    mixed.mkdir()
    good = folder / "inputs" / "generated.warc.gz"
    shutil.copy(good, mixed / "good.warc.gz")
    (mixed / "notes.warc").write_text("ceci n'est pas une archive\n")
    data = good.read_bytes()
    (mixed / "cut.warc.gz").write_bytes(data[: len(data) // 2])
    result = run(
        "spark", "scan", str(mixed), "-o", str(folder / "mixed-out"), "--master", "local[2]"
    )
    assert result.exit_code == 0, result.output
    counters = json.loads(result.output[result.output.index("{") :])
    problems = counters["problems"]
    assert any(name.endswith("notes.warc") for name in problems)
    assert any(name.endswith("cut.warc.gz") for name in problems)
    assert counters["invalid"] >= 2
    assert 120 < counters["records_read"] < 240  # all of the good file, part of the cut one


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("{folder}/absent.warc.gz", "no such input file"),
        ("{folder}/nowhere/*.warc.gz", "no input matches"),
        ("@{folder}/absent-list.txt", "cannot read the list"),
    ],
)
def test_missing_inputs_stop_before_spark_starts(
    workspace: tuple[Cli, Path], argument: str, message: str
) -> None:
    run, folder = workspace
    result = CliRunner().invoke(
        cli,
        ["spark", "scan", argument.format(folder=folder), "-o", str(folder / "never")],
        env=run.env,
    )
    assert result.exit_code == 2
    assert message in result.output
    assert not (folder / "never").exists()


def test_candidates_go_into_the_queue_once(workspace: tuple[Cli, Path]) -> None:
    run, folder = workspace
    listing = folder / "list.txt"
    listing.write_text(str(folder / "inputs" / "generated.warc.gz") + "\n")
    assert (
        run(
            "spark", "scan", "@" + str(listing), "-o", str(folder / "q"), "--master", "local[1]"
        ).exit_code
        == 0
    )
    first = run("import", str(folder / "q"), "--into-queue")
    assert first.exit_code == 0, first.output
    opened = len(job_matches(folder / "q"))
    assert f"{opened} candidates read, 0 unreadable; queue: {opened} cases opened" in first.output
    again = run("import", str(folder / "q"), "--into-queue")
    assert f"queue: 0 cases opened, 0 seen again, {opened} already imported" in again.output
    settings = load_settings(env="dev", data_dir=folder / "var")
    database = Database(make_engine(settings.effective_database_url))
    store = EncryptedContentStore(settings.content_dir, derive_content_key(settings.secret_key))
    try:
        with database.unit_of_work() as uow:
            agency = uow.agencies.get_by_code("unite-fr")
            cases = uow.queue.list_cases(agency.id, QueueFilters(), limit=1000)
            details = [uow.queue.get_case(agency.id, c.id) for c in cases]
    finally:
        database.dispose()
    assert len(cases) == opened
    assert all(d.matches for d in details)
    assert all(store.has(d.sha256) for d in details)  # the records' bytes, preserved encrypted


def test_an_import_of_something_else_is_refused(workspace: tuple[Cli, Path]) -> None:
    run, folder = workspace
    not_parquet = folder / "nothing.parquet"
    not_parquet.write_text("bonjour")
    result = CliRunner().invoke(cli, ["import", str(not_parquet), "--into-queue"], env=run.env)
    assert result.exit_code == 2
    assert "is not a Parquet data set" in result.output


def test_the_job_finds_videos_in_warc_records(workspace: tuple[Cli, Path]) -> None:
    run, folder = workspace
    original = shared("video", "videos", "chair-orig-22-sd-bar.mp4")
    assert run("bank", "create", "videos").exit_code == 0
    assert run("bank", "add", "videos", "--file", str(original)).exit_code == 0
    inputs = folder / "video-inputs"
    inputs.mkdir()
    body = shared("video", "videos", "chair-22-sd-grey-bar.mp4").read_bytes()
    http = f"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {len(body)}\r\n\r\n"
    block = http.encode() + body
    head = (
        "WARC/1.0\r\nWARC-Type: response\r\n"
        "WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-0000000000aa>\r\n"
        "WARC-Date: 2026-01-01T00:00:00Z\r\n"
        "WARC-Target-URI: https://exemple.test/grise.mp4\r\n"
        "Content-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {len(block)}\r\n\r\n"
    )
    (inputs / "videos.warc").write_bytes(head.encode() + block + b"\r\n\r\n")
    expected, _ = cli_matches(run, inputs)
    result = run(
        "spark", "scan", str(inputs / "*.warc"), "-o", str(folder / "v-fast"),
        "--bank", "videos", "--master", "local[1]",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    found = job_matches(folder / "v-fast")
    assert [m[:2] for _, matches in found.values() for m in matches] == [("videos", "vpdq")]
    assert found == {k: v for k, v in expected.items() if any(m[0] == "videos" for m in v[1])}
