"""The Spark job's driver-side logic, without Spark: inputs checked before a job starts, the
fast path's options, and one matcher per job in a worker."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from passerelle.core.bank import Bank, BankEntry, BankKind, BankOrigin
from passerelle.core.errors import InvalidInput
from passerelle.core.index.store import (
    HEADER,
    MatchIndex,
    UnusableIndex,
    open_index,
    read_header,
)
from passerelle.core.match import Matcher
from passerelle.core.signals.digests import SHA256
from passerelle.core.taxonomy import Labels
from passerelle.spark import job
from passerelle.spark.job import expand_inputs, job_options


def test_paths_globs_folders_and_lists_are_expanded(tmp_path: Path) -> None:
    for name in ("a.warc.gz", "b.warc.gz", "c.arc"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.warc").write_bytes(b"x")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{tmp_path / 'c.arc'}\n\n{tmp_path / 'sub'}\n")
    found = expand_inputs([str(tmp_path / "*.warc.gz"), "@" + str(listing), "s3a://seau/x.warc.gz"])
    assert found == [
        str(tmp_path / "a.warc.gz"),
        str(tmp_path / "b.warc.gz"),
        str(tmp_path / "c.arc"),
        str(tmp_path / "sub" / "d.warc"),
        "s3a://seau/x.warc.gz",  # left to the cluster's file system
    ]
    # file:// URIs are checked here and read through Spark's file system, like s3a://
    assert expand_inputs([f"file://{tmp_path / 'c.arc'}"]) == [f"file://{tmp_path / 'c.arc'}"]
    with pytest.raises(InvalidInput, match="no such input file"):
        expand_inputs([f"file://{tmp_path / 'absent.warc'}"])


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("{d}/absent.warc.gz", "no such input file: {d}/absent.warc.gz"),
        ("{d}/*.nothing", "no input matches {d}/*.nothing"),
        ("@{d}/absent.txt", "cannot read the list {d}/absent.txt"),
    ],
)
def test_a_missing_input_is_named(tmp_path: Path, argument: str, message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        expand_inputs([argument.format(d=tmp_path)])
    assert str(raised.value).startswith(message.format(d=tmp_path))


def test_an_empty_list_is_refused(tmp_path: Path) -> None:
    listing = tmp_path / "empty.txt"
    listing.write_text("\n")
    with pytest.raises(InvalidInput, match="no input file"):
        expand_inputs(["@" + str(listing)])


def entry(value: bytes, bank: str = "b") -> BankEntry:
    return BankEntry(value.hex(), bank, SHA256.compute(value), Labels())


def test_the_fast_path_computes_the_banks_types_and_the_address() -> None:
    options = job_options({"sha256"})
    assert options.signal_types == frozenset({"sha256", "url"})
    assert options.keep_matched_content
    assert job_options({"sha256"}, full=True).signal_types is None


@dataclass
class FakeBroadcast:
    value: job.Shared


def test_a_worker_opens_the_shipped_index_once_per_job_never_mixing_two_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank = Bank("b", "a", "n", BankKind.POSITIVE, BankOrigin.OWN, "")
    job.build_index([bank], [entry(b"un")], tmp_path / "shipped" / "index-1")
    job.build_index([bank], [entry(b"deux")], tmp_path / "shipped" / "index-2")

    def no_build(*_: object, **__: object) -> MatchIndex:
        raise AssertionError("a worker rebuilt an index")

    monkeypatch.setattr(MatchIndex, "build", classmethod(no_build))
    monkeypatch.setattr(job, "_locate", lambda name: tmp_path / "shipped" / name)
    first = job._matcher(FakeBroadcast(("job-1", "index-1", None)))  # type: ignore[arg-type]
    again = job._matcher(FakeBroadcast(("job-1", "index-1", None)))  # type: ignore[arg-type]
    second = job._matcher(FakeBroadcast(("job-2", "index-2", ["b"])))  # type: ignore[arg-type]
    assert first is again and second is not first
    assert list(job._MATCHERS) == ["job-2"]
    assert second.index.path == tmp_path / "shipped" / "index-2"  # memory-mapped from there
    assert second.match([SHA256.compute(b"deux")]).matches
    assert not second.match([SHA256.compute(b"un")]).matches


def test_a_snapshot_holds_the_index_as_it_stood(tmp_path: Path) -> None:
    bank = Bank("b", "a", "n", BankKind.POSITIVE, BankOrigin.OWN, "")
    source = job.build_index([bank], [entry(b"un")], tmp_path / "live")
    shipped = job.snapshot_index(source, tmp_path / "shipped")
    job.build_index([bank], [entry(b"deux")], source)  # the live index moves on
    assert read_header(source)["segments"] != read_header(shipped)["segments"]
    matcher = Matcher(open_index(shipped))  # every file's size and checksum verified
    assert matcher.match([SHA256.compute(b"un")]).matches
    assert not matcher.match([SHA256.compute(b"deux")]).matches
    (shipped / HEADER).write_text("{}")
    with pytest.raises(UnusableIndex):
        job.snapshot_index(shipped, tmp_path / "again")


def test_the_types_of_the_chosen_banks_only() -> None:
    one = Bank("b1", "a", "n1", BankKind.POSITIVE, BankOrigin.OWN, "")
    two = Bank("b2", "a", "n2", BankKind.POSITIVE, BankOrigin.OWN, "")
    from passerelle.core.signals.pdq import PDQ

    entries = [entry(b"x", "b1"), BankEntry("p", "b2", PDQ.parse("f" * 64), Labels())]
    index = Matcher.build([one, two], entries).index
    assert job.banked_types(index, None) == {"sha256", "pdq"}
    assert job.banked_types(index, ["b1"]) == {"sha256"}
    assert job.banked_types(index, ["b2"]) == {"pdq"}


def test_the_fast_path_hashes_videos_when_images_are_banked_and_images_when_videos_are() -> None:
    for banked in ({"pdq"}, {"vpdq"}):
        assert {"pdq", "vpdq"} <= job_options(banked).signal_types  # type: ignore[operator]
