"""The recorder's cost: TTFT it adds at the median, and the proxy's requests-per-second ceiling.

Arms, side by side in one run against one mock: `direct` (straight to the mock), `mitmdump`
(plain mitmdump in reverse-proxy mode, no addon: what mitmproxy itself costs), `recorder`
(`mockclaude record`: mitmdump plus our addon, anonymizing and writing a fixture) and `uvloop`
(`mockclaude record --uvloop`; left out when uvloop is not installed).

Phase 1, TTFT at light load (so the figure is the proxy's own delay, not queueing), in two ways:
- `new`: `--streams` streams spread over `--ramp` seconds, each on a new connection;
- `keepalive`: the same number of streams on `--keepalive-conns` connections, each connection
  sending its streams one after another (as the anthropic SDK's httpx pool reuses connections).
Added TTFT = p50(arm) - p50(its baseline): mitmdump - direct, recorder - mitmdump, recorder - direct,
uvloop - direct.
Phase 2: `--conns` slots send non-streaming requests back to back for `--seconds`, per arm: the
proxy's ceiling in requests/s, and its ratio to the mock alone.

    .venv/bin/python -m bench.recorder_overhead [--arms direct,mitmdump,recorder,uvloop] [--connections new,keepalive]
"""

import argparse
import asyncio
import contextlib
import importlib.util
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.harness import Proc, closed_loop, machine, message_body, mock, pct, run_clients, run_main
from bench.sse_load import DELTA, request_bytes
from mockclaude.processes import run_process, stop_group

READY = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
ARMS = ("direct", "mitmdump", "recorder", "uvloop")
CONNECTIONS = ("new", "keepalive")
LABEL = {
    "direct": "direct",
    "mitmdump": "through mitmdump",
    "recorder": "through recorder",
    "uvloop": "recorder --uvloop",
}
# Each arm against its baseline: what mitmproxy costs, what our addon adds on top, and both.
PAIRS = (
    ("mitmdump", "direct", "mitmdump itself"),
    ("recorder", "mitmdump", "addon on top"),
    ("recorder", "direct", "recorder in all"),
    ("uvloop", "direct", "recorder --uvloop in all"),
)
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


@contextlib.contextmanager
def recorder(upstream: str, *flags: str) -> Iterator[Proc]:
    """`mockclaude record FLAGS` in front of `upstream`, writing to a temporary fixture."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-m", "mockclaude", "record", *flags, "--upstream", upstream, "--port", "0"]
        with run_process([*argv, "--out", f"{tmp}/bench.jsonl"], ready=READY, timeout=60) as p:
            yield p


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def plain_mitmdump(upstream: str, timeout: float = 60.0) -> Iterator[Proc]:
    """mitmdump in reverse-proxy mode in front of `upstream`, no addon, once its port accepts connections."""
    port = free_port()
    mitmdump = str(Path(sys.executable).parent / "mitmdump")
    # Without stream_large_bodies mitmproxy buffers whole responses, so TTFT would be the whole stream;
    # the recorder streams every response and connects upstream lazily, so the baseline does the same.
    argv = [mitmdump, "--mode", f"reverse:{upstream}@{port}", "--listen-host", "127.0.0.1", "-q"]
    argv += ["--set", "stream_large_bodies=1", "--set", "connection_strategy=lazy"]
    with tempfile.TemporaryFile("w+") as log:
        popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                    break
                if popen.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"{argv} did not accept connections in {timeout}s; output:\n{log.read()}")
                time.sleep(0.1)
            yield Proc(popen, url=f"http://127.0.0.1:{port}")
        finally:
            stop_group(popen)


def ttfts(url: str, streams: int, ramp: float, tokens: int) -> list[float]:
    """TTFT of each completed stream, each on a new connection, client side."""
    records = run_clients(url, message_body(tokens, stream=True), streams, ramp_s=ramp, timeout_s=60).records
    return [r["first_delta"] - r["start"] for r in records if r["complete"] and r["first_delta"]]


async def _response(reader: asyncio.StreamReader) -> tuple[int, float]:
    """Read one HTTP/1.1 response off a kept-alive connection: its status and when its first delta came."""
    head = await reader.readuntil(b"\r\n\r\n")
    first, tail = 0.0, b""

    def seen(data: bytes) -> None:
        nonlocal first, tail
        if not first and DELTA in tail + data:
            first = time.monotonic()
        tail = data[-len(DELTA) :]

    if b"transfer-encoding: chunked" in head.lower():
        while size := int((await reader.readline()).split(b";")[0], 16):
            seen((await reader.readexactly(size + 2))[:-2])
        await reader.readuntil(b"\r\n")  # the empty trailer
    elif m := _CONTENT_LENGTH.search(head):
        seen(await reader.readexactly(int(m.group(1))))
    else:
        raise ValueError("response has neither a length nor chunked encoding: the connection cannot be reused")
    return int(head[9:12]), first


async def _keepalive_conn(url: str, request: bytes, n: int, pause: float, rng: random.Random) -> list[float]:
    """`n` streams one after another on one connection, a random pause up to `pause` s before each."""
    host, port = url.removeprefix("http://").split(":")
    await asyncio.sleep(rng.uniform(0, pause))
    out: list[float] = []
    writer = None
    try:
        reader, writer = await asyncio.open_connection(host, int(port))
        for _ in range(n):
            start = time.monotonic()
            writer.write(request)
            status, first = await asyncio.wait_for(_response(reader), 60)
            if status == 200 and first:
                out.append(first - start)
            await asyncio.sleep(rng.uniform(0, pause))
    except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):
        pass  # the streams not sent or not finished show as misses (n below the streams asked for)
    finally:
        if writer is not None:
            writer.close()
    return out


def keepalive_ttfts(url: str, streams: int, conns: int, ramp: float, tokens: int) -> list[float]:
    """TTFT of each completed stream, `streams` spread over `conns` reused connections, client side."""
    host, port = url.removeprefix("http://").split(":")
    # The same request as the new-connection client, minus the header that forbids reuse.
    request = request_bytes(host, int(port), "/v1/messages", message_body(tokens, stream=True))
    request = request.replace(b"Connection: close\r\n", b"")
    conns = max(1, min(conns, streams))
    shares = [streams // conns + (1 if i < streams % conns else 0) for i in range(conns)]
    rng = random.Random(0)

    async def run() -> list[list[float]]:
        # Random pauses (mean ramp/n/2) between a connection's streams keep the load light, as in `new`.
        jobs = (_keepalive_conn(url, request, n, ramp / n, random.Random(rng.random())) for n in shares)
        return await asyncio.gather(*jobs)

    return [t for conn in asyncio.run(run()) for t in conn]


@contextlib.contextmanager
def proxies(upstream: str, arms: list[str]) -> Iterator[dict[str, Proc | None]]:
    """The selected proxies in front of `upstream` (None for the direct arm)."""
    with contextlib.ExitStack() as stack:
        urls: dict[str, Proc | None] = {}
        starts = {
            "mitmdump": lambda: plain_mitmdump(upstream),
            "recorder": lambda: recorder(upstream),
            "uvloop": lambda: recorder(upstream, "--uvloop"),
        }
        for arm in arms:
            urls[arm] = None if arm == "direct" else stack.enter_context(starts[arm]())
        yield urls


def report(what: str, p50: dict[str, float], target: str) -> None:
    """Each arm's median against its baseline's."""
    parts = [f"{name} {(p50[a] - p50[b]) * 1000:+.1f} ms" for a, b, name in PAIRS if a in p50 and b in p50]
    if parts:
        print(f"added TTFT at the median ({what}): {'; '.join(parts)} ({target})")


def csv(choices: tuple[str, ...]) -> Any:
    """An argparse type: a comma-separated subset of `choices`, in their order."""

    def parse(text: str) -> list[str]:
        got = [c.strip() for c in text.split(",") if c.strip()]
        if not got or set(got) - set(choices):
            raise argparse.ArgumentTypeError(f"choose from {','.join(choices)}, not {text!r}")
        return [c for c in choices if c in got]

    return parse


def main(argv: list[str] | None = None) -> int:
    """Both phases, printing the added TTFT and the ceiling with their baselines."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arms", type=csv(ARMS), default=list(ARMS), help=",".join(ARMS) + " or a subset")
    p.add_argument("--connections", type=csv(CONNECTIONS), default=list(CONNECTIONS), help="new,keepalive or one")
    p.add_argument("--streams", type=int, default=200)
    p.add_argument("--ramp", type=float, default=10.0)
    p.add_argument("--keepalive-conns", type=int, default=20)
    p.add_argument("--tokens", type=int, default=20)
    p.add_argument("--conns", type=int, default=50)
    p.add_argument("--seconds", type=float, default=10.0)
    args = p.parse_args(argv)
    if "uvloop" in args.arms and importlib.util.find_spec("uvloop") is None:
        print("# uvloop is not installed: the uvloop arm is left out")
        args.arms.remove("uvloop")
    print(f"# bench.recorder_overhead on {machine()}")
    timed = mock("--ttft", "0.3", "--tps", "40", "--output-tokens", str(args.tokens), "--chunk-tokens", "1")
    with timed as m, proxies(m.url, args.arms) as arms:
        for how in args.connections:
            p50: dict[str, float] = {}
            for arm, proc in arms.items():
                url = proc.url if proc else m.url
                if how == "new":
                    v = ttfts(url, args.streams, args.ramp, args.tokens)
                else:
                    v = keepalive_ttfts(url, args.streams, args.keepalive_conns, args.ramp, args.tokens)
                p50[arm] = pct(v, 50) if v else float("nan")
                print(
                    f"TTFT {how:<9} {LABEL[arm]:<17} n={len(v):>5}/{args.streams} "
                    f"p50 {p50[arm] * 1000:8.1f} ms  p99 {(pct(v, 99) if v else float('nan')) * 1000:8.1f} ms"
                )
            report(f"{how} connection" + ("s" if how == "keepalive" else " per stream"), p50, "target < 5 ms")
    body = message_body(args.tokens, stream=False)
    unpaced = mock("--ttft", "0", "--tps", "1e9", "--output-tokens", str(args.tokens))
    with unpaced as m, proxies(m.url, args.arms) as arms:
        ceiling = {arm: closed_loop(proc or m, body, args.conns, args.seconds) for arm, proc in arms.items()}
    for arm, r in ceiling.items():
        print(
            f"{'mock alone' if arm == 'direct' else LABEL[arm]:<17} requests {r['requests']:>6} bad {r['bad']:>4} "
            f"req/s {r['requests_per_s']:>7.0f} cpu {r['server_cpu']:.2f}"
        )
    base = ceiling.get("direct")
    for arm in ("mitmdump", "recorder", "uvloop"):
        if arm in ceiling:
            rps = ceiling[arm]["requests_per_s"]
            ratio = f"; ratio to the mock alone {rps / base['requests_per_s']:.2f}" if base else ""
            print(f"{LABEL[arm].removeprefix('through ')} ceiling {rps:.0f} requests/s{ratio}")
    return 0


if __name__ == "__main__":
    run_main(main)
