"""Concurrent streams on one mock process: does each stream keep its rate and TTFT?

For each concurrency level, a fresh `mockclaude serve` streams `--tokens` tokens per request at
`--tps` after `--ttft`; load-generator processes (bench.sse_load) open the streams spread over
`--ramp` seconds and time them. Reported per level: achieved tokens/s per stream (p5, p50) and its
ratio to the target, TTFT error against the scheduled TTFT (p50, p99), the mock's CPU (mean and
peak, 1.0 = one core; CPU ms per stream), the client's CPU, what the rest of the machine used
meanwhile (`other`, in cores: on a shared machine a run is not the mock's alone, and a busy
neighbour also makes each of the mock's CPU-milliseconds slower), and the mock's own lateness
report. Beside the mock's report, what only the client sees (p99 of each): the connect time, and
the time until the response headers, which the handler sends as soon as it runs: the wait before
the handler (the kernel's accept queue, the loop reading and parsing, the handlers before it in a
burst) that the mock's report cannot see. A busy client reads late, and each of those figures
would then charge the mock with the client's delay: so the TTFT error is also given as `kerr99`,
with the first delta timed when it reached the client's socket (the kernel's stamp) and counted
from the request's write (the accept queue's wait is in it, the connect is `conn99`), beside
`clag`, the most the client's loop lagged. When `ttfterr99` misses and `kerr99` does not, the
client was late, not the mock.
With `--rounds N` every level runs N times (a target such as "TTFT error p99 < 50 ms" must hold in
every run); with `--baseline DIR` the mock of another checkout runs alternately with this one, and
the worst and median p99 of each are printed at the end.

    .venv/bin/python -m bench.streams --streams 100,500,1000,2000
    .venv/bin/python -m bench.streams --streams 1000 --ramp 0.01 --rounds 3 --baseline /tmp/main_tree
"""

import argparse
import json
import statistics
from typing import Any

from bench.harness import CpuMeter, admin_stats, machine, message_body, mock, pct, run_clients, run_main


def measure(args: argparse.Namespace, streams: int, flags: list[str], tree: str | None = None) -> dict[str, Any]:
    """One concurrency level against a fresh mock (of checkout `tree`, given one)."""
    with mock(
        "--ttft", str(args.ttft), "--tps", str(args.tps), "--output-tokens", str(args.tokens),
        "--chunk-tokens", str(args.chunk), *flags, tree=tree,
    ) as proc:  # fmt: skip
        body = message_body(args.tokens, stream=True, cached_system_words=args.cached_system_words)
        timeout = args.ttft + args.tokens / args.tps * 3 + 30
        with CpuMeter(proc.popen.pid) as cpu:
            records, client_cpu, client_lag = run_clients(
                proc.url, body, streams, procs=args.client_procs, ramp_s=args.ramp, timeout_s=timeout
            )
        server = admin_stats(proc.url)
    ok = [r for r in records if r["complete"] and r["status"] == 200 and r["output_tokens"] == args.tokens]
    rates = [(r["output_tokens"] - 1) / (r["last_delta"] - r["first_delta"]) for r in ok if r["deltas"] > 1]
    ttft_err = [r["first_delta"] - r["start"] - args.ttft for r in ok]
    # The same error with the first delta timed when it reached the client's socket (the kernel's
    # stamp) and counted from the request's write: what a late-reading client adds is out of it,
    # the wait in the mock's accept queue is in it (the connect is in conn99).
    stamped = [r["first_delta_k"] - r["connected"] - args.ttft for r in ok if r["first_delta_k"]]
    return {
        "streams": streams,
        "completed": len(ok),
        "failed": len(records) - len(ok),
        "rate_p5": pct(rates, 5),
        "rate_p50": pct(rates, 50),
        "rate_p5_ratio": pct(rates, 5) / args.tps,
        "ttft_err_p50_ms": pct(ttft_err, 50) * 1000,
        "ttft_err_p99_ms": pct(ttft_err, 99) * 1000,
        "stamped_err_p99_ms": pct(stamped, 99) * 1000 if stamped else float("nan"),
        "client_lag_max_ms": client_lag * 1000,
        "mock_cpu_mean": cpu.mean,
        "mock_cpu_peak": cpu.peak,
        "mock_cpu_ms_per_stream": cpu.seconds / max(len(records), 1) * 1000,
        "client_cpu_mean": client_cpu / cpu.wall_s,
        "others_cpu_mean": cpu.others(client_cpu),
        "late_frames": server["late_frames"],
        "frames": server["frames"],
        "max_lateness_ms": server["max_lateness_s"] * 1000,
        "connect_p99_ms": pct([r["connected"] - r["start"] for r in ok], 99) * 1000,
        "headers_p99_ms": pct([r["first_byte"] - r["start"] for r in ok], 99) * 1000,
        "client_disconnects": server["client_disconnects"],
        "cache_hits": server["prompt_cache"]["hits"],
    }


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags shared by the streams benchmark and its smoke test."""
    p.add_argument("--streams", default="100,500,1000,2000", help="comma-separated concurrency levels")
    p.add_argument("--tps", type=float, default=40.0, help="target tokens/s per stream")
    p.add_argument("--ttft", type=float, default=0.5, help="scheduled TTFT in seconds")
    p.add_argument("--tokens", type=int, default=400, help="output tokens per stream")
    p.add_argument("--chunk", type=int, default=2, help="tokens per delta")
    p.add_argument("--ramp", type=float, default=3.0, help="seconds over which streams start")
    p.add_argument("--client-procs", type=int, default=1, help="load-generator processes")
    p.add_argument("--mock-flag", action="append", default=[], help="extra flag for the mock (repeatable)")
    p.add_argument(
        "--cached-system-words",
        type=int,
        default=0,
        help="add a system prompt of this many words behind a cache_control breakpoint (prompt-cache A/B)",
    )
    p.add_argument("--rounds", type=int, default=1, help="runs of each level (a target holds in every run)")
    p.add_argument("--baseline", metavar="DIR", help="also run the mock of another checkout, alternating")
    p.add_argument("--json", help="also write the results to this file")


ROW = (
    "{code:<4} {streams:>6} {completed:>6} {failed:>4} {rate_p5:>7.2f} {rate_p50:>7.2f} {rate_p5_ratio:>6.3f} "
    "{ttft_err_p50_ms:>8.1f} {ttft_err_p99_ms:>8.1f} {mock_cpu_mean:>5.2f} {mock_cpu_peak:>5.2f} "
    "{mock_cpu_ms_per_stream:>6.2f} {client_cpu_mean:>6.2f} {others_cpu_mean:>6.2f} {late_frames:>7} "
    "{max_lateness_ms:>8.1f} {cache_hits:>6} {connect_p99_ms:>8.1f} {headers_p99_ms:>8.1f} "
    "{stamped_err_p99_ms:>8.1f} {client_lag_max_ms:>7.1f}"
)
HEAD = (
    "code streams   done fail  tps_p5 tps_p50 p5/tgt ttfterr50 ttfterr99 mcpu  mpeak mcpu/s  ccpu  other"
    "   late   maxlate  cache  conn99    hdr99  kerr99    clag\n"
    "                            tok/s   tok/s              ms        ms  core  core     ms  core   core"
    " frames        ms   hits      ms        ms      ms      ms"
)


def main(argv: list[str] | None = None) -> int:
    """Run the levels and print one row each, with the ratio of achieved p5 rate to the target."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    args = p.parse_args(argv)
    flags = [f for flag in args.mock_flag for f in flag.split()]
    print(f"# bench.streams on {machine()}; target {args.tps:g} tok/s, TTFT {args.ttft:g} s, {args.tokens} tokens")
    print(f"# mock flags: {' '.join(flags) or '(none)'}; client processes: {args.client_procs}")
    print(f"# code: this = this checkout; base = {args.baseline or '(no --baseline)'}; {args.rounds} round(s)")
    print(HEAD)
    trees: list[tuple[str, str | None]] = [("this", None)] + ([("base", args.baseline)] if args.baseline else [])
    results = []
    for rnd in range(args.rounds):
        for n in (int(s) for s in args.streams.split(",")):
            # Alternate the order, so that a drift in the machine's load hits both alike.
            for code, tree in trees if rnd % 2 == 0 else trees[::-1]:
                r = {"code": code, "round": rnd + 1, **measure(args, n, flags, tree)}
                results.append(r)
                print(ROW.format(**r), flush=True)
    if args.rounds > 1 or args.baseline:
        print_worst(results)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)
    return 0


def print_worst(results: list[dict[str, Any]]) -> None:
    """Per code and level, the worst and the median TTFT error p99 over the rounds."""
    for code in dict.fromkeys(r["code"] for r in results):
        for n in dict.fromkeys(r["streams"] for r in results):
            p99s = sorted(r["ttft_err_p99_ms"] for r in results if r["code"] == code and r["streams"] == n)
            print(
                f"{code} {n} streams: TTFT error p99 over {len(p99s)} run(s): worst {p99s[-1]:.1f} ms, "
                f"median {statistics.median(p99s):.1f} ms, each {' / '.join(f'{x:.1f}' for x in p99s)}"
            )


if __name__ == "__main__":
    run_main(main)
