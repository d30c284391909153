"""Opening a persisted match index reads no content of the files unchanged since they were
written (their size and modification time match the header), and still refuses a file
changed since: its CRC-32 is then computed. `full=True` checks every CRC-32."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from passerelle.core.bank import Bank, BankKind, BankOrigin
from passerelle.core.index import store
from passerelle.core.index.store import (
    IndexEntry,
    MatchIndex,
    UnusableIndex,
    open_index,
    read_header,
    save,
    writing,
)
from passerelle.core.signals import Signal
from passerelle.core.taxonomy import Labels


def written(path: Path) -> Path:
    """An index of 5,000 random PDQ hashes (large enough for multi-index tables) at `path`,
    and the path of its stored hashes."""
    rng = np.random.default_rng(3)
    bank = Bank("b", "a", "b", BankKind.POSITIVE, BankOrigin.OWN, "")
    entries = [
        IndexEntry(f"e{i}", "b", Signal("pdq", rng.bytes(32).hex()), Labels()) for i in range(5000)
    ]
    with writing(path):
        save(MatchIndex.build([bank], entries), path)
    segment = read_header(path)["segments"][0]["name"]  # type: ignore[index]
    return path / segment / "pdq_codes.npy"


def test_an_untouched_index_opens_without_reading_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written(tmp_path)

    def no_read(target: Path) -> int:
        raise AssertionError(f"{target} was read to check it")

    monkeypatch.setattr(store, "_crc", no_read)
    assert len(open_index(tmp_path)) == 5000


def test_a_file_changed_since_written_is_checked_and_refused(tmp_path: Path) -> None:
    codes = written(tmp_path)
    data = bytearray(codes.read_bytes())
    data[-1] ^= 0x01
    codes.write_bytes(bytes(data))
    with pytest.raises(UnusableIndex, match="checksum mismatch"):
        open_index(tmp_path)


def test_a_full_check_finds_a_change_that_kept_the_modification_time(tmp_path: Path) -> None:
    codes = written(tmp_path)
    before = codes.stat()
    data = bytearray(codes.read_bytes())
    data[-1] ^= 0x01
    codes.write_bytes(bytes(data))
    os.utime(codes, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert len(open_index(tmp_path)) == 5000  # size and time as written: not read
    with pytest.raises(UnusableIndex, match="checksum mismatch"):
        open_index(tmp_path, full=True)
