"""`mockclaude report compare BASELINE_DIR NEW_DIR`: did this run get slower than that one? (exit 1: yes)."""

import argparse
import json
import sys
from pathlib import Path

from replay import compare
from replay.options import OptionError
from replay.quantities import parse_percent
from replay.records import RequestRecord
from replay.report import read_records


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The `report` subcommands and their flags."""
    sub = p.add_subparsers(dest="report_command", metavar="SUBCOMMAND", required=True)
    c = sub.add_parser("compare", help="compare two replay report folders; exit 1 on a regression (for CI)")
    c.add_argument("baseline", help="report folder of the baseline run (--report of `mockclaude replay`)")
    c.add_argument("new", help="report folder of the run to check")
    c.add_argument("--threshold", default="10%", help="median latency growth that counts as a regression (10%%)")
    c.add_argument("--error-threshold", default="1%", help="error-rate growth, in points, that counts (1%%)")
    c.add_argument("--alpha", type=float, default=0.01, help="significance level of the one-sided tests (0.01)")
    c.add_argument("--json", action="store_true", help="print the rows as JSON")


def _records(folder: str) -> list[RequestRecord]:
    path = Path(folder) / "records.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; give a folder written by `mockclaude replay --report`")
    try:
        return read_records(path)
    except (ValueError, TypeError) as exc:
        raise FileNotFoundError(f"{path}: not a replay records file ({exc})") from None


def run(args: argparse.Namespace) -> int:
    """Compare and print; 0 when nothing regressed, 1 on a regression, 2 for bad input."""
    try:
        if not 0 < args.alpha < 1:
            raise OptionError(f"--alpha must be between 0 and 1, not {args.alpha}")
        th = compare.Thresholds(
            parse_percent(args.threshold, "--threshold"), parse_percent(args.error_threshold, "--error-threshold"),
            args.alpha,
        )  # fmt: skip
        rows = compare.compare(_records(args.baseline), _records(args.new), th)
    except (FileNotFoundError, OptionError) as exc:
        print(f"mockclaude report compare: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(rows, indent=2) if args.json else compare.format_table(rows, th))
    return 1 if any(r["regression"] for r in rows) else 0
