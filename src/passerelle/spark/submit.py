"""The `spark-submit` entry point: scan WARC files against a banks file, write candidates.

    spark-submit --master yarn --py-files passerelle.zip \\
        "$(python -c 'import passerelle.spark.submit as m; print(m.__file__)')" \\
        --banks banks.json --output s3a://bucket/candidates/2026-11 s3a://bucket/crawl/*.warc.gz

`banks.json` comes from `passerelle spark export-banks --agency CODE -o banks.json`, run where
the database is: the cluster never needs the database. The driver writes the banks' index to
a temporary folder once and ships its files to the executors."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from passerelle.core.errors import InvalidInput
from passerelle.exchange.bankbundle import read_bundle
from passerelle.spark.job import build_index, expand_inputs, make_session, run_scan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="passerelle.spark.submit", description=__doc__)
    parser.add_argument("inputs", nargs="+", help="WARC files, globs, folders or @list files")
    parser.add_argument("--banks", required=True, type=Path, help="banks file (JSON)")
    parser.add_argument("--output", required=True, help="where to write the Parquet data set")
    parser.add_argument("--full", action="store_true", help="compute every signal type")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--master", default=None, help="Spark master (default: spark-submit's)")
    args = parser.parse_args(argv)
    try:
        inputs = expand_inputs(args.inputs)
        banks, entries = read_bundle(args.banks)
    except InvalidInput as exc:
        # In the operator's language, as the command line says it (passerelle.language).
        from passerelle.language import error_text, say

        print("passerelle: " + say("error: %(message)s", message=error_text(exc)), file=sys.stderr)
        return 2
    spark = make_session(args.master)
    try:
        with tempfile.TemporaryDirectory(prefix="passerelle-index-") as scratch:
            counters = run_scan(
                spark,
                inputs,
                index=build_index(banks, entries, Path(scratch)),
                output=args.output,
                full=args.full,
                mode="overwrite" if args.overwrite else "errorifexists",
            )
    finally:
        spark.stop()
    print(json.dumps(counters.as_dict(), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
