"""The `spark-submit` entry point refuses what it cannot read before Spark starts, in the
operator's language, as the command line does."""

from __future__ import annotations

from pathlib import Path

import pytest

from passerelle.spark.submit import main


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en_GB.UTF-8", "passerelle: error: no input matches {folder}/nowhere/*.warc.gz"),
        ("fr_FR.UTF-8", "passerelle: erreur\u00a0: aucune entrée ne correspond à {folder}/nowhere"),
        ("fr_CA.UTF-8", "passerelle: erreur\u00a0: aucune entrée ne correspond à {folder}/nowhere"),
    ],
)
def test_a_missing_input_is_refused_in_the_operators_language(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    language: str,
    said: str,
) -> None:
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", language)
    absent = f"{tmp_path}/nowhere/*.warc.gz"
    output = tmp_path / "never"
    code = main([absent, "--banks", str(tmp_path / "banks.json"), "--output", str(output)])
    assert code == 2
    assert said.format(folder=tmp_path) in capsys.readouterr().err
    assert not output.exists()
