"""The command line end to end, in a fresh SQLite instance: `passerelle scan ONE.jpg` against
a bank of N PDQ hashes, beside python-threatexchange's `match photo` on the same hashes (its
local-file collaboration), in the same run; also `--help` of both, and the import of the N
hashes beside pytx's `fetch` of the same file. Every command is a new process, as a person
types it, with Python's compiled bytecode kept (an installed package has it; a
PYTHONDONTWRITEBYTECODE of the calling shell is dropped for both sides alike).

    .venv/bin/python -m benchmarks.bench_cli [N]     # default 100000; the issue's size: 1000000
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.shared import shared

from passerelle.core.signals.pdq import PDQ

BIN = Path(sys.executable).parent
IMAGE = shared("pdq", "images", "aaa-orig.jpg")


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
    return elapsed, done.stdout


def best_of(runs: int, command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    found = [timed(command, env, cwd) for _ in range(runs)]
    return statistics.median(t for t, _ in found), found[-1][1]


def label(size: int) -> str:
    if size % 1_000_000 == 0:
        return f"{size // 1_000_000}m"
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def load() -> str:
    return "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    started = load()
    rng = random.Random(11)
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as folder:
        root = Path(folder)
        hashes = root / "bank.txt"
        with hashes.open("w") as out:
            out.write(f"pdq {PDQ.compute(IMAGE.read_bytes()).value}\n")
            for _ in range(size - 1):
                out.write(f"pdq {rng.getrandbits(256):064x}\n")
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PASSERELLE_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        env.update(
            {"PASSERELLE_ENV": "dev", "PASSERELLE_DATA_DIR": str(root / "var"), "HOME": folder}
        )
        ours = [str(BIN / "passerelle")]
        peer = [str(BIN / "threatexchange")]
        for step in (
            ["db", "upgrade"],
            ["agency", "add", "unite", "--name", "U", "--jurisdiction", "FR"],
            ["bank", "create", "connu"],
        ):
            timed(ours + step, env, root)
        help_ours, _ = best_of(3, [*ours, "--help"], env, root)
        help_peer, _ = best_of(3, [*peer, "--help"], env, root)
        import_ours, _ = timed([*ours, "bank", "import", "connu", str(hashes)], env, root)
        first_scan, _ = timed([*ours, "scan", str(IMAGE)], env, root)  # builds the index once
        scan_ours, output = best_of(3, [*ours, "scan", str(IMAGE)], env, root)
        assert "connu" in output, output
        timed(
            [*peer, "config", "collab", "edit", "local_file", "--create", "--filename",
             str(hashes), "bench"],
            env,
            root,
        )  # fmt: skip
        fetch_peer, _ = timed([*peer, "fetch"], env, root)
        scan_peer, output = best_of(3, [*peer, "match", "photo", str(IMAGE)], env, root)
        assert output.strip(), "pytx matched nothing"
    print(f"CLI, fresh SQLite instance, bank of {size:,} PDQ hashes, one image scanned:")
    print(f"  load average at the start {started}, at the end {load()}")
    print(f"  {'':<36} {'passerelle':>12} {'pytx':>12}")
    print(f"  {'--help':<36} {help_ours:>11.2f}s {help_peer:>11.2f}s")
    print(f"  {'import / fetch of the hashes':<36} {import_ours:>11.2f}s {fetch_peer:>11.2f}s")
    print(f"  {'first scan (index built once)':<36} {first_scan:>11.2f}s {'':>12}")
    print(f"  {'scan ONE.jpg / match photo':<36} {scan_ours:>11.2f}s {scan_peer:>11.2f}s")
    print(f"cli_help: {help_peer / help_ours:.2f}x vs pytx --help")
    print(f"cli_import_{label(size)}: {fetch_peer / import_ours:.2f}x vs pytx fetch")
    print(f"cli_scan_{label(size)}: {scan_peer / scan_ours:.2f}x vs pytx match")


if __name__ == "__main__":
    main()
