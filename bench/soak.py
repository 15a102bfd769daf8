"""Memory over a long run: the mock's RSS after a warm-up and after every block of requests.

Streaming and non-streaming requests alternate by block, with 1% each of injected 429s, midstream
errors and dropped connections, so every path that allocates per request (frames, scheduler entries,
rate-limit settlement, error envelopes) runs many times. A leak shows as RSS that keeps climbing;
the figure is (end - start) / requests, and the ratio end / start.

    .venv/bin/python -m bench.soak --requests 100000
"""

import argparse

import psutil

from bench.harness import machine, message_body, mock, run_clients, run_main


def block(url: str, n: int, stream: bool, conns: int) -> tuple[int, int]:
    """Send n requests in a closed loop; (answered with 200, other outcomes)."""
    records = run_clients(url, message_body(30, stream), min(conns, n), ramp_s=0.05, requests=n).records
    ok = sum(1 for r in records if r["status"] == 200 and r["complete"])
    return ok, len(records) - ok


def main(argv: list[str] | None = None) -> int:
    """Warm up, then send --requests in blocks and print RSS after each."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=100_000)
    p.add_argument("--block", type=int, default=10_000, help="requests between RSS samples")
    p.add_argument("--warmup", type=int, default=2_000)
    p.add_argument("--conns", type=int, default=64)
    args = p.parse_args(argv)
    faults = ["--fault", "429:0.01", "--fault", "midstream:0.01", "--fault", "disconnect:0.01"]
    flags = ["--ttft", "0", "--tps", "1e9", "--output-tokens", "5-30", "--seed", "1", *faults]
    print(f"# bench.soak on {machine()}; {args.requests} requests after {args.warmup} warm-up")
    with mock(*flags) as proc:
        rss = psutil.Process(proc.popen.pid).memory_info
        block(proc.url, args.warmup, True, args.conns)
        block(proc.url, args.warmup, False, args.conns)
        start = rss().rss
        print(f"{'sent':>8} {'ok':>8} {'other':>6} {'rss MiB':>8}")
        print(f"{0:>8} {'':>8} {'':>6} {start / 2**20:>8.1f}", flush=True)
        sent = ok_total = other_total = 0
        while sent < args.requests:
            n = min(args.block, args.requests - sent)
            ok, other = block(proc.url, n, stream=(sent // args.block) % 2 == 0, conns=args.conns)
            sent += n
            ok_total += ok
            other_total += other
            print(f"{sent:>8} {ok_total:>8} {other_total:>6} {rss().rss / 2**20:>8.1f}", flush=True)
        end = rss().rss
    per = (end - start) / sent
    print(f"RSS start {start / 2**20:.1f} MiB, end {end / 2**20:.1f} MiB: end/start {end / start:.3f}, "
          f"{per:+.1f} bytes per request")  # fmt: skip
    return 0


if __name__ == "__main__":
    run_main(main)
