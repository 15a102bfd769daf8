"""Event throughput of the mock's streaming path against a bare aiohttp handler, in one run.

Both servers stream the same pre-encoded frames (`--tokens` tokens, `--chunk` per delta) to
`--conns` client slots that start a new stream as soon as the last one ends, for `--seconds`.
Counted: content deltas received per second (client side) and per CPU-second of the server, which
is the server's capacity on one core and holds even though client and server share 2 cores.

- bare:          bench.bare_sse, one `await resp.write()` per frame, no pacing, no API work;
- mock unpaced:  `mockclaude serve --ttft 0 --tps 1e9`: full request handling and scheduling, but
                 every frame is due at once (so the scheduler writes a stream in few writes);
- mock paced:    `--tps` `--paced-tps` with one token per delta: frames 1/paced-tps apart per
                 stream, more than the coalescing window, so one write per frame while on time.

With `--baseline DIR`, both mock runs are repeated with another checkout's mock (a before/after).

    .venv/bin/python -m bench.event_throughput
"""

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from bench.harness import Proc, closed_loop, machine, message_body, mock, run_main
from mockclaude.processes import run_process


@contextlib.contextmanager
def bare(tokens: int, chunk: int, *flags: str) -> Iterator[Proc]:
    """The bare aiohttp baseline server."""
    argv = [sys.executable, "-m", "bench.bare_sse", "--tokens", str(tokens), "--chunk", str(chunk), *flags]
    with run_process(argv) as p:
        yield p


def main(argv: list[str] | None = None) -> int:
    """Measure the three servers one after the other and print the ratios."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokens", type=int, default=200, help="output tokens per stream")
    p.add_argument("--chunk", type=int, default=1, help="tokens per delta")
    p.add_argument("--conns", type=int, default=100, help="concurrent client slots")
    p.add_argument("--seconds", type=float, default=10.0, help="length of each measurement")
    p.add_argument("--paced-tps", type=float, default=300.0, help="per-stream tokens/s of the paced mock run")
    p.add_argument("--client-procs", type=int, default=1)
    p.add_argument("--uvloop", action="store_true", help="run both servers on uvloop")
    p.add_argument("--baseline", metavar="DIR", help="also run the mock of another checkout (before/after)")
    args = p.parse_args(argv)
    loop = ["--uvloop"] if args.uvloop else []
    common = ["--output-tokens", str(args.tokens), "--chunk-tokens", str(args.chunk), "--ttft", "0", *loop]
    print(f"# bench.event_throughput on {machine()}; {args.conns} slots x {args.seconds:g} s, {args.tokens} tokens")
    print(f"# event loop: {'uvloop' if args.uvloop else 'asyncio'}")
    body = message_body(args.tokens, stream=True)
    run = (body, args.conns, args.seconds, args.client_procs)
    results: dict[str, dict[str, Any]] = {}
    with bare(args.tokens, args.chunk, *loop) as proc:
        results["bare"] = closed_loop(proc, *run)
    mocks = [("mock", None)] + ([("baseline", args.baseline)] if args.baseline else [])
    for name, tree in mocks:
        with mock(*common, "--tps", "1e9", tree=tree) as proc:
            results[f"{name} unpaced"] = closed_loop(proc, *run)
        with mock(*common, "--tps", str(args.paced_tps), tree=tree) as proc:
            results[f"{name} paced"] = closed_loop(proc, *run)
    print(f"{'server':<14} {'streams':>8} {'bad':>4} {'deltas/s':>10} {'deltas/cpu-s':>13} {'srv cpu':>8} {'cli':>6}")
    for name, r in results.items():
        print(
            f"{name:<14} {r['requests']:>8} {r['bad']:>4} {r['deltas_per_s']:>10.0f} {r['deltas_per_cpu_s']:>13.0f} "
            f"{r['server_cpu']:>8.2f} {r['client_cpu']:>6.2f}"
        )
    base = results["bare"]
    for name, _ in mocks:
        for pacing in ("unpaced", "paced"):
            print_ratio(f"{name} {pacing}", results[f"{name} {pacing}"], "bare", base)
    if args.baseline:
        for pacing in ("unpaced", "paced"):
            print_ratio(f"mock {pacing}", results[f"mock {pacing}"], "baseline", results[f"baseline {pacing}"])
    return 0


def print_ratio(name: str, r: dict[str, Any], base_name: str, base: dict[str, Any]) -> None:
    """`name`'s deltas/s over `base_name`'s, per wall-clock and per server CPU-second."""
    print(
        f"ratio {name} / {base_name}: deltas/s {r['deltas_per_s'] / base['deltas_per_s']:.2f}, "
        f"per server CPU-second {r['deltas_per_cpu_s'] / base['deltas_per_cpu_s']:.2f}"
    )


if __name__ == "__main__":
    run_main(main)
