"""Non-streaming requests/s against the leading peer (aimock): same client, same answer, servers alternating.

`mockclaude serve` (no TTFT, no pacing) and aimock (npm `@copilotkit/aimock`, pinned in
bench/peer.py, installed into a cache directory when Node.js and npm are on PATH) both answer
the same one-line prompt with the same text. The floor, `bare` (bench.bare_json), sends the mock's
own answer, headers and body, from a bare aiohttp handler: what aiohttp costs before any API work.
One load-generator process (bench.json_load) keeps `--conns` keep-alive connections busy against
one server, then the next, for `--rounds` rounds (with `--baseline DIR`, the mock of another
checkout too: a before/after in the same run). Printed per run: requests/s, requests per server
CPU-second, the server's and the client's CPU, what the rest of the machine used (`other`, cores),
latency p50/p99; then the ratios per round and over all rounds: mock / bare, bare / aimock and
mock / aimock. From 6 rounds on, each ratio also gets the median of its rounds' ratios with a 95 %
interval that assumes nothing about the host's noise (bench.harness.median_interval): on a shared
host one run's figure moves by 10-20 %, so a target is met only when the interval's low end is.
`--python PY` adds an arm running this checkout's mock on another interpreter (an environment where
mockclaude is installed, e.g. a venv made with that Python): the same code on another Python build.
Every interpreter is printed with how its build was configured (bench.harness.interpreter). The
client resends one body, as a load test replaying its prompts does; with
`--distinct` every request's prompt is one the servers have not seen (the mock then checks every
body in full: server.passed never applies). `--body agent` sends bench.agent_body's
production-shaped request (13.5 KB: system prompt, four tools, a 20-message history, the prompt as
its last turn) instead of the one-line prompt; aimock's fixture matches that last turn. All
benchmark traffic runs on 127.0.0.1 (only the one-time npm install reaches the registry;
`--no-install` forbids it). Without Node.js or npm, or not installed under `--no-install`, the
mock's and the floor's runs are printed and the peer is skipped, saying why.

    .venv/bin/python -m bench.json_peer --conns 50 --seconds 8 --rounds 3
"""

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bench import peer
from bench.agent_body import agent_body
from bench.harness import CpuMeter, Proc, interpreter, machine, median_interval, message_body, mock, run_main
from mockclaude.processes import run_process

PROMPT = "x"


def run_json_load(
    proc: Proc, body: dict[str, Any], args: argparse.Namespace, seconds: float, warmup_s: float, timeout: float
) -> dict[str, Any]:
    """What bench.json_load reports after `warmup_s` and then `seconds` of closed-loop load on `proc`
    (`args.conns` connections, `args.distinct` prompts)."""
    host, port = proc.url.removeprefix("http://").split(":")
    spec = {"host": host, "port": int(port), "body": body, "conns": args.conns}
    spec |= {"seconds": seconds, "warmup_s": warmup_s, "distinct": args.distinct}
    argv = [sys.executable, "-m", "bench.json_load", json.dumps(spec)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench.json_load failed against {proc.url}:\n{done.stderr}")
    return json.loads(done.stdout)


def load(proc: Proc, body: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """One closed-loop run of bench.json_load against `proc`, with the server's CPU over it."""
    with CpuMeter(proc.popen.pid) as cpu:
        r = run_json_load(proc, body, args, args.seconds, args.warmup, timeout=args.warmup + args.seconds + 60)
    # The client counts only the measured window; the server's CPU covers warm-up too, so scale it.
    share = args.seconds / cpu.wall_s if cpu.wall_s else 0.0
    server_cpu_s = cpu.seconds * share
    r["requests_per_s"] = r["ok"] / args.seconds
    r["requests_per_cpu_s"] = r["ok"] / server_cpu_s if server_cpu_s else 0.0
    r["server_cpu"] = cpu.mean
    r["client_cpu"] = r["client_cpu_s"] / cpu.wall_s if cpu.wall_s else 0.0
    r["others_cpu"] = cpu.others(r["client_cpu_s"])
    return r


def answer(proc: Proc, body: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """The headers and body of the mock's answer to `body` (the peer and the floor then send the same)."""
    req = urllib.request.Request(
        f"{proc.url}/v1/messages",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-api-key": "sk-ant-bench", "anthropic-version": "2023-06-01"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return dict(resp.headers.items()), resp.read()


def mock_flags(tokens: int) -> list[str]:
    """The mock's flags for these runs: no TTFT, no pacing, answers of `tokens` output tokens."""
    return ["--ttft", "0", "--tps", "1e9", "--output-tokens", str(tokens)]


def add_request_arguments(p: argparse.ArgumentParser) -> None:
    """--distinct and --body: whether each request's prompt is new, and which request it is."""
    p.add_argument("--distinct", action="store_true", help="a prompt no earlier request had, every request")
    p.add_argument(
        "--body", choices=("one-line", "agent"), default="one-line", help="the request (agent: bench.agent_body)"
    )


def request_body(kind: str, tokens: int) -> dict[str, Any]:
    """The request every server gets: the one-line prompt, or (`kind` "agent") bench.agent_body's."""
    if kind == "agent":
        return agent_body(tokens, PROMPT)
    return {**message_body(tokens, stream=False), "messages": [{"role": "user", "content": PROMPT}]}


@contextlib.contextmanager
def bare(
    headers: dict[str, str],
    answer_body: bytes,
    workdir: Path,
    *flags: str,
    launcher: Sequence[str] = (),
    timeout: float = 30.0,
) -> Iterator[Proc]:
    """The floor: bench.bare_json sending the mock's own answer from a bare aiohttp handler (run by
    `launcher`, e.g. valgrind, when given; ready within `timeout` seconds)."""
    saved = workdir / "answer.json"
    saved.write_text(json.dumps({"headers": headers, "body": answer_body.decode()}), encoding="utf-8")
    argv = [*launcher, sys.executable, "-m", "bench.bare_json", "--answer", str(saved), *flags]
    with run_process(argv, timeout=timeout) as p:
        yield p


ROW = (
    "{round:>5} {server:<14} {requests_per_s:>9.0f} {requests_per_cpu_s:>9.0f} {server_cpu:>6.2f} "
    "{client_cpu:>6.2f} {others_cpu:>6.2f} {p50:>7.2f} {p99:>7.2f} {bad:>5}"
)
HEAD = "round server             req/s  req/cpu-s   scpu   ccpu  other  p50 ms  p99 ms   bad"


def print_row(rnd: int, server: str, r: dict[str, Any]) -> None:
    """One run's line."""
    print(ROW.format(round=rnd, server=server, p50=r["latency_ms"]["p50"], p99=r["latency_ms"]["p99"], **r), flush=True)


def print_ratios(got: dict[str, list[dict[str, Any]]], a: str, b: str) -> None:
    """Per round and over all rounds, a's requests/s (and per server CPU-second) over b's."""
    pairs = list(zip(got[a], got[b], strict=True))
    per_round = [x["requests_per_s"] / y["requests_per_s"] for x, y in pairs]
    for rnd, ((x, y), ratio) in enumerate(zip(pairs, per_round, strict=True), start=1):
        print(
            f"round {rnd} ratio {a} / {b}: requests/s {ratio:.2f}, "
            f"per server CPU-second {x['requests_per_cpu_s'] / y['requests_per_cpu_s']:.2f}"
        )
    total = {name: sum(r["ok"] for r in got[name]) for name in (a, b)}
    print(f"ratio {a} / {b} over {len(got[a])} rounds: requests/s {total[a] / total[b]:.2f}")
    if (interval := median_interval(per_round)) is not None:
        mid, low, high = interval
        print(f"median round ratio {a} / {b}: requests/s {mid:.2f}, 95 % interval {low:.2f}-{high:.2f}")


def main(argv: list[str] | None = None) -> int:
    """Alternate the servers under the same load; print each run and the ratios."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--conns", type=int, default=50, help="keep-alive connections, each one request at a time")
    p.add_argument("--seconds", type=float, default=8.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of load before each run is measured")
    p.add_argument("--rounds", type=int, default=3, help="runs of each server, alternating")
    p.add_argument("--tokens", type=int, default=20, help="output tokens of the mock's answer")
    p.add_argument("--mock-flag", action="append", default=[], help="extra flag for the mock (repeatable)")
    p.add_argument(
        "--no-install", action="store_true", help="use the peer only if it is installed already (no network)"
    )
    p.add_argument("--baseline", metavar="DIR", help="also run the mock of another checkout (before/after)")
    p.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="PY",
        help="also run this checkout's mock on the interpreter PY, whose environment has mockclaude installed "
        "(repeatable; the arm is named mock-VERSION)",
    )
    add_request_arguments(p)
    args = p.parse_args(argv)
    flags = mock_flags(args.tokens) + [f for flag in args.mock_flag for f in flag.split()]
    body = request_body(args.body, args.tokens)
    why_not = peer.unavailable(may_install=not args.no_install)
    print(f"# bench.json_peer on {machine()}; {args.conns} connections, {args.rounds} x {args.seconds:g} s per server")
    print(f"# peer: {f'skipped ({why_not})' if why_not else f'{peer.PACKAGE}@{peer.VERSION} on Node.js'}")
    print(f"# mock flags: {' '.join(flags)}; baseline: {args.baseline or '(none)'}")
    others: dict[str, str] = {}  # arm name: interpreter
    for py in args.python:
        described = interpreter(py)
        name = f"mock-{described.split()[0]}"
        name = name if name not in others else f"{name}-{len(others) + 1}"
        others[name] = py
        print(f"# {name}: {py}, Python {described}")
    prompts = "a new one every request" if args.distinct else "one, resent"
    print(f"# body: {args.body}, {len(json.dumps(body))} bytes; prompts: {prompts}")
    got: dict[str, list[dict[str, Any]]] = {}
    with contextlib.ExitStack() as stack:
        mock_proc = stack.enter_context(mock(*flags))
        servers = [("mockclaude", mock_proc)]
        headers, answer_body = answer(mock_proc, body)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="json_peer-")))
        # On the mock's event loop: a floor on asyncio under a mock on uvloop would compare the loops too.
        loop = [f for f in flags if f == "--uvloop"]
        servers.append(("bare", stack.enter_context(bare(headers, answer_body, workdir, *loop))))
        if args.baseline:
            servers.append(("baseline", stack.enter_context(mock(*flags, tree=args.baseline))))
        servers += [(name, stack.enter_context(mock(*flags, python=py))) for name, py in others.items()]
        if not why_not:
            text = "".join(b["text"] for b in json.loads(answer_body)["content"] if b["type"] == "text")
            servers.append(("aimock", stack.enter_context(peer.server(PROMPT, text))))
        print(HEAD)
        for rnd in range(1, args.rounds + 1):
            # Alternate the order, so that a drift in the machine's load hits every server alike.
            for name, proc in servers if rnd % 2 else servers[::-1]:
                got.setdefault(name, []).append(r := load(proc, body, args))
                print_row(rnd, name, r)
    if args.baseline:
        print_ratios(got, "mockclaude", "baseline")
    for name in others:
        print_ratios(got, name, "mockclaude")
    print_ratios(got, "mockclaude", "bare")
    if why_not:
        print(f"ratio mockclaude / aimock: skipped ({why_not})")
    else:
        print_ratios(got, "bare", "aimock")
        for name in ("mockclaude", *others):
            print_ratios(got, name, "aimock")
    return 0


if __name__ == "__main__":
    run_main(main)
