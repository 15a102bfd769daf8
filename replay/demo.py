"""`mockclaude demo`: start a mock, replay the bundled sessions for ~30 s, print the summary.

Needs no network and no key: the mock listens on a free loopback port, Locust runs headless as a
subprocess, both are stopped (process groups killed) whatever happens.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from mockclaude.processes import mock_server, stop_group
from replay import options, profiles
from replay.command import locust_argv
from replay.summary import format_table

# A little trouble on purpose, so the failure classes show up in the report.
MOCK_FLAGS = ("--seed", "1", "--fault", "529:0.02", "--fault", "midstream:0.01")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `mockclaude demo`."""
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load (default 30)")
    parser.add_argument("--users", type=int, default=8, help="concurrent Locust users (default 8)")
    parser.add_argument("--profile", default="", help="replay one scenario only (default: all bundled ones)")
    parser.add_argument("--report", default="", help="report folder (default: a new temporary folder)")


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when the load test ran and a summary was produced."""
    if args.duration <= 0 or args.users <= 0:
        print("mockclaude demo: --duration and --users must be > 0", file=sys.stderr)
        return 2
    report = Path(args.report or tempfile.mkdtemp(prefix="mockclaude-demo-"))
    report.mkdir(parents=True, exist_ok=True)
    cfg = options.ReplayConfig(workload_profile=args.profile, report=str(report))
    try:
        workload = profiles.resolve_workload(cfg)
    except (options.OptionError, ValueError) as exc:
        print(f"mockclaude demo: {exc}", file=sys.stderr)
        return 2
    scenarios = sorted({s.scenario for s in workload.samples})
    users = str(args.users)
    extra = ["--headless", "-u", users, "-r", users, "-t", f"{args.duration:g}s", "--only-summary",
             "--html", str(report / "locust.html"), "--csv", str(report / "locust")]  # fmt: skip
    log_path = report / "locust.log"
    try:
        with mock_server("--host", "127.0.0.1", *MOCK_FLAGS) as mock:
            url = mock.url
            print(f"mock: {url} (mockclaude serve {' '.join(MOCK_FLAGS)}; models' own timing profiles)")
            print(
                f"replaying {len(workload.samples)} recorded requests ({', '.join(scenarios)}) with {users} users "
                f"for {args.duration:g} s ...",
                flush=True,
            )
            with log_path.open("w") as log:
                proc = subprocess.Popen(
                    locust_argv(cfg, url, extra), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
                try:
                    rc = proc.wait(args.duration + 90)
                except subprocess.TimeoutExpired:
                    print("mockclaude demo: Locust did not finish in time; stopped it", file=sys.stderr)
                    rc = -1
                finally:
                    stop_group(proc)
    except (RuntimeError, KeyboardInterrupt) as exc:
        print(f"mockclaude demo: {exc or 'interrupted'}", file=sys.stderr)
        return 1
    summary_path = report / "summary.json"
    if rc not in (0, 1) or not summary_path.exists():
        print(f"mockclaude demo: the load test failed (exit {rc}); see {log_path}", file=sys.stderr)
        return 1
    print()
    print(format_table(json.loads(summary_path.read_text())))
    print(f"\nreport: {report}  (report.html, summary.json, records.jsonl, locust.html, locust_stats.csv, locust.log)")
    return 0
