"""`serve --workers N`: throughput against one worker, and rate limits that stay exact, in one run.

Phase 1 (scaling): `--conns` client slots send non-streaming requests back to back for `--seconds`
to `--workers 1` and then to `--workers N`, both with an enforced (but never reached) rate limit so
every request goes through the shared bucket store. Reported: requests/s, the ratio N-workers / 1,
and the servers' CPU; on a 2-core machine the load generator shares the cores, so the ratio is
bounded by what the client leaves free (stated in BENCHMARKS.md).
Phase 2 (exactness): `--limit-rpm` requests per minute, 2 x that many requests as fast as the
client can send them to N workers: exactly `--limit-rpm` must be admitted (plus the refill during
the burst, at most limit/60 per second, which is reported).

    .venv/bin/python -m bench.workers_scaling --workers 2
"""

import argparse
from typing import Any

from bench.harness import closed_loop, machine, message_body, mock, run_clients, run_main


def exactness(workers: int, rpm: int, conns: int) -> dict[str, Any]:
    """Send 2*rpm requests to N workers with a limit of rpm; how many were admitted, refused, lost."""
    with mock("--workers", str(workers), "--rate-limit", f"{rpm}rpm", "--ttft", "0", "--tps", "1e9") as proc:
        records = run_clients(proc.url, message_body(5, stream=False), conns, requests=2 * rpm).records
    started = min(r["start"] for r in records)
    ended = max(r["first_byte"] for r in records)
    return {
        "sent": len(records),
        "admitted": sum(1 for r in records if r["status"] == 200),
        "refused": sum(1 for r in records if r["status"] == 429),
        "burst_s": ended - started,
    }


def main(argv: list[str] | None = None) -> int:
    """Both phases; prints the scaling ratio and the admitted count against the limit."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--conns", type=int, default=100)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--tokens", type=int, default=20)
    p.add_argument("--client-procs", type=int, default=1)
    p.add_argument("--limit-rpm", type=int, default=1000)
    args = p.parse_args(argv)
    print(f"# bench.workers_scaling on {machine()}; {args.conns} slots x {args.seconds:g} s, non-streaming")
    body = message_body(args.tokens, stream=False)
    flags = ["--ttft", "0", "--tps", "1e9", "--output-tokens", str(args.tokens), "--rate-limit", "100000000rpm"]
    results = {}
    for n in (1, args.workers):
        with mock("--workers", str(n), *flags) as proc:
            results[n] = closed_loop(proc, body, args.conns, args.seconds, args.client_procs)
    print(f"{'workers':>7} {'requests':>9} {'bad':>5} {'req/s':>8} {'server cpu':>10} {'client cpu':>10}")
    for n, r in results.items():
        print(
            f"{n:>7} {r['requests']:>9} {r['bad']:>5} {r['requests_per_s']:>8.0f} "
            f"{r['server_cpu']:>10.2f} {r['client_cpu']:>10.2f}"
        )
    ratio = results[args.workers]["requests_per_s"] / results[1]["requests_per_s"]
    print(f"ratio {args.workers} workers / 1 worker: requests/s {ratio:.2f} (ideal {args.workers:.2f})")
    # Where the cores are shared with the client, N workers cannot get N cores: requests per server
    # CPU-second show whether each worker keeps one worker's efficiency (ideal 1.00).
    per_cpu = [results[n]["requests_per_s"] / max(results[n]["server_cpu"], 1e-9) for n in (1, args.workers)]
    print(f"per server CPU-second, {args.workers} workers / 1 worker: {per_cpu[1] / per_cpu[0]:.2f} (ideal 1.00)")
    e = exactness(args.workers, args.limit_rpm, args.conns)
    refill = args.limit_rpm / 60 * e["burst_s"]
    print(
        f"exactness, {args.workers} workers, {args.limit_rpm} rpm: sent {e['sent']}, admitted {e['admitted']}, "
        f"refused {e['refused']}, burst {e['burst_s']:.2f} s (refill during it <= {refill:.1f}); "
        f"admitted / limit {e['admitted'] / args.limit_rpm:.3f}"
    )
    return 0


if __name__ == "__main__":
    run_main(main)
