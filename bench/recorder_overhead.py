"""The recorder's cost: TTFT it adds at the median, and the proxy's requests-per-second ceiling.

Phase 1: `--streams` streams spread over `--ramp` seconds (light load, so the figure is the
proxy's own delay, not queueing), first straight to the mock and then through `mockclaude record`
(real mitmdump, anonymizing and writing a fixture); added TTFT = p50(through) - p50(direct).
Phase 2: `--conns` slots send non-streaming requests back to back for `--seconds`, straight and
through the proxy: the proxy's ceiling in requests/s, and its ratio to the mock alone.

    .venv/bin/python -m bench.recorder_overhead
"""

import argparse
import contextlib
import re
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

from bench.harness import Proc, closed_loop, machine, message_body, mock, pct, run_clients
from tests.servers import run_process

READY = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


@contextlib.contextmanager
def recorder(upstream: str) -> Iterator[Proc]:
    """`mockclaude record` in front of `upstream`, writing to a temporary fixture."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-m", "mockclaude", "record", "--upstream", upstream, "--port", "0"]
        with run_process([*argv, "--out", f"{tmp}/bench.jsonl"], ready=READY, timeout=60) as p:
            yield p


def ttfts(url: str, streams: int, ramp: float, tokens: int) -> list[float]:
    """TTFT of each completed stream, client side."""
    records, _ = run_clients(url, message_body(tokens, stream=True), streams, ramp_s=ramp, timeout_s=60)
    return [r["first_delta"] - r["start"] for r in records if r["complete"] and r["first_delta"]]


def main(argv: list[str] | None = None) -> int:
    """Both phases, printing the added TTFT and the ceiling with their baselines."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--streams", type=int, default=200)
    p.add_argument("--ramp", type=float, default=10.0)
    p.add_argument("--tokens", type=int, default=20)
    p.add_argument("--conns", type=int, default=50)
    p.add_argument("--seconds", type=float, default=10.0)
    args = p.parse_args(argv)
    print(f"# bench.recorder_overhead on {machine()}")
    with mock("--ttft", "0.3", "--tps", "40", "--output-tokens", str(args.tokens), "--chunk-tokens", "1") as m:
        direct = ttfts(m.url, args.streams, args.ramp, args.tokens)
        with recorder(m.url) as proxy:
            through = ttfts(proxy.url, args.streams, args.ramp, args.tokens)
    row: dict[str, Any] = {}
    for name, v in (("direct", direct), ("through recorder", through)):
        row[name] = pct(v, 50)
        print(f"TTFT {name:<17} n={len(v):>5} p50 {pct(v, 50) * 1000:8.1f} ms  p99 {pct(v, 99) * 1000:8.1f} ms")
    print(f"added TTFT at the median: {(row['through recorder'] - row['direct']) * 1000:+.1f} ms (target < 5 ms)")
    body = message_body(args.tokens, stream=False)
    with mock("--ttft", "0", "--tps", "1e9", "--output-tokens", str(args.tokens)) as m:
        alone = closed_loop(m, body, args.conns, args.seconds)
        with recorder(m.url) as proxy:
            proxied = closed_loop(proxy, body, args.conns, args.seconds)
    for name, r in (("mock alone", alone), ("through recorder", proxied)):
        print(
            f"{name:<17} requests {r['requests']:>6} bad {r['bad']:>4} req/s {r['requests_per_s']:>7.0f} "
            f"cpu {r['server_cpu']:.2f}"
        )
    ratio = proxied["requests_per_s"] / alone["requests_per_s"]
    print(f"recorder ceiling {proxied['requests_per_s']:.0f} requests/s; ratio to the mock alone {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
