"""The mock's own work per non-streaming request: its Messages handler alone, in process, no socket.

A worker process builds the mock's application as `mockclaude serve --ttft 0 --tps 1e9` would and
calls the POST /v1/messages handler (the route's, wrapped as the server wraps it) on requests made
with aiohttp's test utilities: the body is already read, nothing is parsed from a socket and nothing
is written. What is timed is what the mock adds to aiohttp's own cost per request (bench.json_peer's
floor, `bare`, measures that): validation, counting, limits, the prompt cache, planning the answer,
stats and the client verdict. Hot caches and no other work in the process make it steadier than a
load test (a few percent between runs, not ten), so it shows small changes; under load the same
work costs more. Each round times `--requests` requests `--repeats` times and prints the fastest
and the median of the repeats, in µs per request; with `--baseline DIR` the handler of another
checkout is timed in alternation and the ratios are printed. `--distinct` gives every request a
prompt of its own (the checks of a body seen lately, server.passed, then never apply). `--body
agent` times bench.agent_body's production-shaped request (13.5 KB: system prompt, tools, a
20-message history) instead of the one-line prompt.

    .venv/bin/python -m bench.handler_cost --rounds 3 --baseline /tmp/main_tree
"""

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

FLAGS = ["--prefill-tps", "1e12", "--ttft", "0", "--tps", "1e9", "--output-tokens", "20"]
HEADERS = {"x-api-key": "sk-ant-bench", "anthropic-version": "2023-06-01", "content-type": "application/json"}
ROOT = Path(__file__).resolve().parents[1]


def _bodies(base: dict[str, Any], n: int, distinct: bool, first: int) -> list[bytes]:
    """`n` bodies: `base` every time, or (distinct) with its last message numbered from `first` on."""
    if not distinct:
        return [json.dumps(base).encode()] * n
    head, last = base["messages"][:-1], base["messages"][-1]
    return [
        json.dumps({**base, "messages": [*head, {**last, "content": f"{last['content']} {first + i}"}]}).encode()
        for i in range(n)
    ]


def _body(kind: str) -> dict[str, Any]:
    """The request the handler is timed on: a one-line prompt, or bench.agent_body's agent turn (built
    here, not in the worker, which imports only the checkout it times)."""
    from bench.agent_body import agent_body
    from bench.harness import MODEL

    if kind == "agent":
        return agent_body(20, "x")
    return {"model": MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": "x"}]}


async def _time_handler(base: dict[str, Any], requests: int, repeats: int, distinct: bool) -> list[float]:
    """µs per request of each repeat (runs in the worker, on the checkout PYTHONPATH names)."""
    from aiohttp import streams
    from aiohttp.test_utils import make_mocked_request

    from mockclaude.server import command
    from mockclaude.server.app import make_app

    p = argparse.ArgumentParser()
    command.add_arguments(p)
    app = make_app(command.build(p.parse_args(FLAGS)))
    loop = asyncio.get_running_loop()

    class Reading:  # what a request's payload tells its connection (nothing to do here)
        _reading_paused = False

        def resume_reading(self, resume_parser: bool = True) -> None:
            pass

        def pause_reading(self) -> None:
            pass

    def request(raw: bytes) -> Any:
        payload = streams.StreamReader(Reading(), 2**16, loop=loop)  # type: ignore[arg-type]
        payload.feed_data(raw)
        payload.feed_eof()
        headers = {**HEADERS, "content-length": str(len(raw))}
        return make_mocked_request("POST", "/v1/messages", headers=headers, payload=payload, app=app, loop=loop)

    match = await app.router.resolve(request(b"{}"))
    match.add_app(app)
    match.freeze()
    handler = match.handler
    times = []
    for rep in range(repeats):
        made = [request(raw) for raw in _bodies(base, requests, distinct, rep * requests)]  # none seen before
        for r in made:
            r._match_info = match
        # As the server does after start-up: what lives on is frozen, young collections are rarer.
        gc.collect()
        gc.freeze()
        gc.set_threshold(*command.GC_THRESHOLDS)
        start = time.perf_counter()
        for r in made:
            resp = await handler(r)
            if resp.status != 200:
                raise RuntimeError(f"the handler answered {resp.status}: {resp.body!r}")
            r._state.clear()  # what the handler left on the request goes now, as with a finished request
        times.append((time.perf_counter() - start) / requests * 1e6)
        del made
        gc.unfreeze()
    return times


def worker(tree: str, base: dict[str, Any], requests: int, repeats: int, distinct: bool) -> list[float]:
    """Time the handler of the checkout at `tree` on `base` (sent on stdin) in a process of its own."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", str(requests), str(repeats), str(distinct)]
    # PYTHONSAFEPATH: neither this file's folder nor the current one comes before `tree` on sys.path.
    env = {**os.environ, "PYTHONPATH": tree, "PYTHONSAFEPATH": "1"}
    done = subprocess.run(argv, env=env, input=json.dumps(base), capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"the handler of {tree} could not be timed:\n{done.stderr}")
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    """Time this checkout's handler (and a baseline's, alternating); print each round and the ratios."""
    # Not in the worker, which imports only the checkout it times.
    from bench.harness import machine
    from bench.json_peer import add_request_arguments

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=4000, help="requests per repeat")
    p.add_argument("--repeats", type=int, default=7, help="repeats per round (the fastest and the median are shown)")
    p.add_argument("--rounds", type=int, default=3, help="rounds, alternating the checkouts")
    p.add_argument("--baseline", metavar="DIR", help="also time the handler of another checkout")
    add_request_arguments(p)
    args = p.parse_args(argv)
    trees = [("mockclaude", str(ROOT))] + ([("baseline", args.baseline)] if args.baseline else [])
    base = _body(args.body)
    print(f"# bench.handler_cost on {machine()}; {args.rounds} rounds x {args.repeats} x {args.requests} requests")
    print(f"# mock flags: {' '.join(FLAGS)}; body: {args.body}, {len(json.dumps(base))} bytes")
    print(f"# prompts: {'a new one every request' if args.distinct else 'one, resent'}")
    print("round checkout     fastest us  median us")
    got: dict[str, list[float]] = {}
    for rnd in range(1, args.rounds + 1):
        for name, tree in trees if rnd % 2 else trees[::-1]:
            times = worker(tree, base, args.requests, args.repeats, args.distinct)
            got.setdefault(name, []).append(min(times))
            print(f"{rnd:5d} {name:12s} {min(times):10.2f} {statistics.median(times):10.2f}")
    if args.baseline:
        ratios = [b / m for m, b in zip(got["mockclaude"], got["baseline"], strict=True)]
        print("ratio baseline / mockclaude, fastest per round: " + " / ".join(f"{r:.2f}" for r in ratios))
        print(f"ratio baseline / mockclaude, best of all rounds: {min(got['baseline']) / min(got['mockclaude']):.2f}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        n, reps, distinct = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "True"
        print(json.dumps(asyncio.run(_time_handler(json.load(sys.stdin), n, reps, distinct))))
    else:
        from bench.harness import run_main

        run_main(main)
