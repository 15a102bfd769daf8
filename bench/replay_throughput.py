"""The replayer's cost and accuracy: requests/s per core against Locust's FastHttpUser, and TTFT as
the replayer measures it against the TTFT the mock scheduled.

Phase 1: the same non-streaming request, back to back from `--users` users for `--seconds`, once
with PlainFastHttpUser and once with the replayer's ClaudeUser (bench/locust_users.py), each in one
headless Locust process. Requests per CPU-second of the Locust process is the figure (the mock runs
on the same 2 cores, so raw requests/s are reported too).
Phase 2: `--streams` users stream answers from a mock that schedules TTFT at exactly `--ttft`; the
replayer's per-request records (its --report folder) give measured TTFT, whose error against the
schedule is reported (p50, p99), with the mock's own lateness report. Beside it, to split the error
between the replayer and the rest: the Locust process's gevent loop lag (how late a 5 ms sleep
wakes), and the TTFT error that `--probe-streams` streams from an independent asyncio client
(bench.sse_load, in its own process, timed from its connect) see from the same mock meanwhile.

    .venv/bin/python -m bench.replay_throughput
"""

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.harness import admin_stats, machine, message_body, mock, pct, run_clients, run_main

LOCUSTFILE = Path(__file__).resolve().parent / "locust_users.py"


def locust(
    url: str, user: str, users: int, seconds: float, env: dict[str, str], *extra: str, spawn_rate: float = 0.0
) -> dict[str, Any]:
    """Run one headless Locust process; its request count (as the mock counted them) and CPU seconds."""
    served = admin_stats(url)["requests"]
    with tempfile.TemporaryDirectory() as tmp:
        argv = [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", url,
            "-u", str(users), "-r", f"{spawn_rate or users:g}", "-t", f"{seconds:g}s", "--only-summary",
            "--csv", f"{tmp}/run", "--stop-timeout", "10", *extra, user,
        ]  # fmt: skip
        child = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env, "PYTHONPATH": str(LOCUSTFILE.parents[1])},
        )
        # The child's CPU (and its forked workers') from the kernel once reaped: nothing else ends meanwhile.
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            _, err = child.communicate(timeout=seconds + 120)
        finally:  # stopped early (SIGTERM, timeout): Locust must not outlive the benchmark
            if child.poll() is None:
                child.terminate()
                child.wait(30)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        rows = list(csv.DictReader(open(f"{tmp}/run_stats.csv", encoding="utf-8")))  # noqa: SIM115
    if child.returncode not in (0, 1):
        raise RuntimeError(f"locust {user} exited with {child.returncode}:\n{err[-2000:]}")
    # Not Locust's "Aggregated" row: the replayer adds a TTFB (and TTFT, ITL...) row per request.
    count = admin_stats(url)["requests"] - served
    failures = sum(int(r["Failure Count"]) for r in rows if r["Name"] != "Aggregated" and r["Type"] in ("POST", "E2E"))
    cpu_s = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {
        "requests": count,
        "failures": failures,
        "requests_per_s": count / seconds,
        "requests_per_cpu_s": count / cpu_s if cpu_s else 0.0,
        "cpu": cpu_s / seconds,
    }


def ttft_accuracy(args: argparse.Namespace) -> dict[str, Any]:
    """Streams through the replayer against a mock with a fixed TTFT; error percentiles."""
    flags = ["--ttft", str(args.ttft), "--tps", "40", "--output-tokens", str(args.stream_tokens)]
    with mock(*flags) as proc, tempfile.TemporaryDirectory() as tmp:
        env = {"BENCH_STREAM": "1", "BENCH_TOKENS": str(args.stream_tokens), "BENCH_LAG_FILE": f"{tmp}/lag"}
        probe: list[dict[str, Any]] = []
        prober = threading.Thread(target=_probe, args=(proc.url, args, probe), daemon=True)
        prober.start()
        run = locust(
            proc.url, "ReplayBenchUser", args.streams, args.stream_seconds, env, "--report", f"{tmp}/report",
            *(["--processes", str(args.processes)] if args.processes > 1 else []), spawn_rate=args.streams / 4,
        )  # fmt: skip
        prober.join()
        server = admin_stats(proc.url)
        with open(f"{tmp}/report/records.jsonl", encoding="utf-8") as f:
            records = [json.loads(line) for line in f if line.strip()]
        lags = [x for path in Path(tmp).glob("lag.*") for x in json.loads(path.read_text())]
    timed = [r for r in records if r.get("ttft_s") is not None and r.get("ttfb_s") is not None]
    # The mock starts a stream's clock when it sends the headers (TTFB); TTFT - TTFB against the
    # schedule is the replayer's own error, TTFT alone adds the time before the mock's handler ran.
    errors = [r["ttft_s"] - args.ttft for r in timed]
    own = [r["ttft_s"] - r["ttfb_s"] - args.ttft for r in timed]
    probed = [r for r in probe if r["complete"] and r["first_delta"]]
    probe_errors = [r["first_delta"] - r["connected"] - args.ttft for r in probed] or [0.0]
    return {
        "ttfb_p50_ms": pct([r["ttfb_s"] for r in timed], 50) * 1000,
        "probe_ttfb_p50_ms": pct([r["first_byte"] - r["connected"] for r in probed] or [0.0], 50) * 1000,
        "lag_p50_ms": pct(lags or [0.0], 50) * 1000,
        "lag_p99_ms": pct(lags or [0.0], 99) * 1000,
        "probe_n": len(probed),
        "probe_p50_ms": pct(probe_errors, 50) * 1000,
        "probe_p99_ms": pct(probe_errors, 99) * 1000,
        "streams": len(records),
        "ok": len(timed),
        "err_p50_ms": pct(errors, 50) * 1000,
        "err_p99_ms": pct(errors, 99) * 1000,
        "own_p50_ms": pct(own, 50) * 1000,
        "own_p99_ms": pct(own, 99) * 1000,
        "locust_cpu": run["cpu"],
        "mock_late_frames": server["late_frames"],
        "mock_frames": server["frames"],
        "mock_max_lateness_ms": server["max_lateness_s"] * 1000,
    }


def _probe(url: str, args: argparse.Namespace, out: list[dict[str, Any]]) -> None:
    """Streams from an independent asyncio client in the middle of phase 2 (after Locust's ramp)."""
    time.sleep(args.stream_seconds * 0.3)
    body = message_body(args.stream_tokens, True)
    records = run_clients(url, body, args.probe_streams, ramp_s=1.0, loop_s=args.stream_seconds * 0.4).records
    out.extend(records)


def main(argv: list[str] | None = None) -> int:
    """Both phases, with the ratio and the TTFT error."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--streams", type=int, default=500)
    p.add_argument("--stream-seconds", type=float, default=20.0)
    p.add_argument("--stream-tokens", type=int, default=60)
    p.add_argument("--ttft", type=float, default=0.5)
    p.add_argument("--processes", type=int, default=1, help="Locust processes for phase 2 (--processes)")
    p.add_argument("--probe-streams", type=int, default=20, help="independent asyncio streams beside phase 2")
    args = p.parse_args(argv)
    print(f"# bench.replay_throughput on {machine()}")
    env = {"BENCH_STREAM": "0", "BENCH_TOKENS": "20"}
    got = {}
    with mock("--ttft", "0", "--tps", "1e9", "--output-tokens", "20") as proc:
        for user in ("PlainFastHttpUser", "ReplayBenchUser"):
            got[user] = r = locust(proc.url, user, args.users, args.seconds, env)
            print(
                f"{user:<18} requests {r['requests']:>7} failures {r['failures']:>4} req/s {r['requests_per_s']:>7.0f} "
                f"req/cpu-s {r['requests_per_cpu_s']:>7.0f} locust cpu {r['cpu']:.2f}",
                flush=True,
            )
    base, ours = got["PlainFastHttpUser"], got["ReplayBenchUser"]
    print(
        f"ratio replayer / FastHttpUser: requests per Locust CPU-second "
        f"{ours['requests_per_cpu_s'] / base['requests_per_cpu_s']:.2f}, requests/s "
        f"{ours['requests_per_s'] / base['requests_per_s']:.2f}"
    )
    t = ttft_accuracy(args)
    print(
        f"TTFT at {args.streams} streams (scheduled {args.ttft:g} s): {t['ok']}/{t['streams']} timed; "
        f"TTFT - TTFB - scheduled p50 {t['own_p50_ms']:+.1f} ms, p99 {t['own_p99_ms']:+.1f} ms; "
        f"TTFT - scheduled p50 {t['err_p50_ms']:+.1f} ms, p99 {t['err_p99_ms']:+.1f} ms; Locust cpu "
        f"{t['locust_cpu']:.2f}; mock late frames {t['mock_late_frames']}/{t['mock_frames']}, max lateness "
        f"{t['mock_max_lateness_ms']:.0f} ms"
    )
    print(
        f"beside it: Locust gevent loop lag p50 {t['lag_p50_ms']:.1f} ms, p99 {t['lag_p99_ms']:.1f} ms; independent "
        f"asyncio client ({t['probe_n']} streams from connect) TTFT - scheduled p50 {t['probe_p50_ms']:+.1f} ms, "
        f"p99 {t['probe_p99_ms']:+.1f} ms; TTFB p50: replayer {t['ttfb_p50_ms']:.1f} ms, asyncio client "
        f"{t['probe_ttfb_p50_ms']:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    run_main(main)
