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

    .venv/bin/python -m bench.event_throughput
"""

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from bench.harness import CpuMeter, Proc, machine, mock, run_clients
from tests.servers import run_process

MODEL = "claude-sonnet-4-6"


@contextlib.contextmanager
def bare(tokens: int, chunk: int, *flags: str) -> Iterator[Proc]:
    """The bare aiohttp baseline server."""
    argv = [sys.executable, "-m", "bench.bare_sse", "--tokens", str(tokens), "--chunk", str(chunk), *flags]
    with run_process(argv) as p:
        yield p


def measure(proc: Proc, args: argparse.Namespace) -> dict[str, Any]:
    """Closed-loop streams against one server; deltas per second and per server CPU-second."""
    host, port = proc.url.removeprefix("http://").split(":")
    spec = {
        "host": host,
        "port": int(port),
        "streams": args.conns,
        "ramp_s": 0.2,
        "loop_s": args.seconds,
        "timeout_s": 30,
        "body": {
            "model": MODEL,
            "max_tokens": args.tokens,
            "stream": True,
            "messages": [{"role": "user", "content": "x"}],
        },
    }
    with CpuMeter(proc.popen.pid) as cpu:
        records, client_cpu = run_clients(spec, args.client_procs)
    deltas = sum(r["deltas"] for r in records)
    bad = sum(1 for r in records if not r["complete"] or r["status"] != 200)
    return {
        "streams": len(records),
        "bad": bad,
        "deltas_per_s": deltas / cpu.wall_s,
        "deltas_per_cpu_s": deltas / cpu.seconds if cpu.seconds else 0.0,
        "server_cpu": cpu.mean,
        "client_cpu": client_cpu / cpu.wall_s,
    }


def main(argv: list[str] | None = None) -> int:
    """Measure the three servers one after the other and print the ratios."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokens", type=int, default=200, help="output tokens per stream")
    p.add_argument("--chunk", type=int, default=1, help="tokens per delta")
    p.add_argument("--conns", type=int, default=100, help="concurrent client slots")
    p.add_argument("--seconds", type=float, default=10.0, help="length of each measurement")
    p.add_argument("--paced-tps", type=float, default=300.0, help="per-stream tokens/s of the paced mock run")
    p.add_argument("--client-procs", type=int, default=1)
    p.add_argument("--no-uvloop", action="store_true", help="run both servers on asyncio's own loop")
    args = p.parse_args(argv)
    loop = ["--no-uvloop"] if args.no_uvloop else []
    common = ["--output-tokens", str(args.tokens), "--chunk-tokens", str(args.chunk), "--ttft", "0", *loop]
    print(f"# bench.event_throughput on {machine()}; {args.conns} slots x {args.seconds:g} s, {args.tokens} tokens")
    print(f"# event loop: {'asyncio' if args.no_uvloop else 'uvloop if installed'}")
    results: dict[str, dict[str, Any]] = {}
    with bare(args.tokens, args.chunk, *loop) as proc:
        results["bare"] = measure(proc, args)
    with mock(*common, "--tps", "1e9") as proc:
        results["mock unpaced"] = measure(proc, args)
    with mock(*common, "--tps", str(args.paced_tps)) as proc:
        results["mock paced"] = measure(proc, args)
    print(f"{'server':<14} {'streams':>8} {'bad':>4} {'deltas/s':>10} {'deltas/cpu-s':>13} {'srv cpu':>8} {'cli':>6}")
    for name, r in results.items():
        print(
            f"{name:<14} {r['streams']:>8} {r['bad']:>4} {r['deltas_per_s']:>10.0f} {r['deltas_per_cpu_s']:>13.0f} "
            f"{r['server_cpu']:>8.2f} {r['client_cpu']:>6.2f}"
        )
    base = results["bare"]
    for name in ("mock unpaced", "mock paced"):
        r = results[name]
        print(
            f"ratio {name} / bare: deltas/s {r['deltas_per_s'] / base['deltas_per_s']:.2f}, "
            f"per server CPU-second {r['deltas_per_cpu_s'] / base['deltas_per_cpu_s']:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
