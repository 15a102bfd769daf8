"""uvloop or asyncio's own loop: the same mock, the same load, measured one after the other.

Two workloads, each against `mockclaude serve` without and with `--uvloop`: unpaced streams
(deltas per second and per server CPU-second) and non-streaming requests (requests per second).

    .venv/bin/python -m bench.uvloop_gain
"""

import argparse

from bench.harness import closed_loop, machine, message_body, mock, run_main


def main(argv: list[str] | None = None) -> int:
    """Print each workload's figures with both loops and the uvloop / asyncio ratios."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--conns", type=int, default=100)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--tokens", type=int, default=200)
    args = p.parse_args(argv)
    try:
        import uvloop  # noqa: F401
    except ImportError:
        print("uvloop is not installed (pip install 'mockclaude[speed]'): nothing to compare")
        return 1
    print(f"# bench.uvloop_gain on {machine()}; {args.conns} slots x {args.seconds:g} s per run")
    flags = ["--ttft", "0", "--tps", "1e9", "--output-tokens", str(args.tokens), "--chunk-tokens", "1"]
    print(f"{'workload':<12} {'loop':<8} {'per s':>9} {'per cpu-s':>10} {'server cpu':>10}")
    for workload, stream, unit in (("streams", True, "deltas"), ("json", False, "requests")):
        got = {}
        for loop, extra in (("asyncio", []), ("uvloop", ["--uvloop"])):
            with mock(*flags, *extra) as proc:
                r = closed_loop(proc, message_body(args.tokens, stream), args.conns, args.seconds)
            got[loop] = r
            print(
                f"{workload:<12} {loop:<8} {r[unit + '_per_s']:>9.0f} {r[unit + '_per_cpu_s']:>10.0f} "
                f"{r['server_cpu']:>10.2f}",
                flush=True,
            )
        a, u = got["asyncio"], got["uvloop"]
        print(
            f"ratio uvloop / asyncio, {workload}: {unit}/s {u[unit + '_per_s'] / a[unit + '_per_s']:.2f}, "
            f"per server CPU-second {u[unit + '_per_cpu_s'] / a[unit + '_per_cpu_s']:.2f}"
        )
    return 0


if __name__ == "__main__":
    run_main(main)
