"""What the recorder costs: TTFT and total time through `mockclaude record` vs direct, side by side.

Starts `mockclaude serve`, a plain mitmdump and `mockclaude record` in front of it on 127.0.0.1, then
sends streaming requests to the three in random order per round (so drift hits all alike).

    .venv/bin/python -m bench.recorder_overhead [--requests 40] [--concurrency 1] [--anonymize pii]
"""

import argparse
import contextlib
import http.client
import json
import random
import re
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from bench.harness import pct
from tests.servers import mock_server, run_process

READY = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
MITM_READY = re.compile(r"listening at 127\.0\.0\.1:(\d+)")  # plain mitmdump prints only the port


def connect(url: str) -> http.client.HTTPConnection:
    """A keep-alive connection, as SDK clients keep them."""
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)


def one_request(conn: http.client.HTTPConnection, body: bytes) -> tuple[float, float]:
    """(TTFT, total) in ms for one streamed request: time to the first content_block_delta, to the end."""
    t0 = time.perf_counter()
    conn.request("POST", "/v1/messages", body, {"content-type": "application/json", "x-api-key": "sk-ant-bench",
                                                 "anthropic-version": "2023-06-01"})  # fmt: skip
    resp = conn.getresponse()
    ttft = None
    while line := resp.readline():
        if ttft is None and line.startswith(b"event: content_block_delta"):
            ttft = (time.perf_counter() - t0) * 1000
    total = (time.perf_counter() - t0) * 1000
    if resp.status != 200 or ttft is None:
        raise RuntimeError(f"unexpected response {resp.status}")
    return ttft, total


def main() -> int:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=40, help="requests per side (default 40)")
    ap.add_argument("--anonymize", default="pii", choices=("off", "pii", "shape"))
    ap.add_argument("--concurrency", type=int, default=1, help="parallel streams per side in each round (default 1)")
    ap.add_argument("--record-arg", action="append", default=[], help="extra argument for mockclaude record")
    args = ap.parse_args()
    mock_flags = ("--ttft", "0.05", "--tps", "400", "--chunk-tokens", "1", "--prefill-tps", "100000000",
                  "--output-tokens", "60", "--seed", "1")  # fmt: skip
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        out = tmp / "bench.jsonl"
        mock = stack.enter_context(mock_server(*mock_flags))
        # mitmdump alone (no addon, streaming on): what mitmproxy itself costs.
        plain = stack.enter_context(run_process(
            [sys.executable, "-c", "from mitmproxy.tools.main import mitmdump; mitmdump()", "--mode",
             f"reverse:{mock.url}@127.0.0.1:0", "--set", "stream_large_bodies=1", "--set", "flow_detail=0"],
            ready=MITM_READY, timeout=60,
        ))  # fmt: skip
        rec = stack.enter_context(run_process(
            [sys.executable, "-m", "mockclaude", "record", "--upstream", mock.url, "--port", "0", "--out", str(out),
             "--anonymize", args.anonymize, *args.record_arg],
            ready=READY, timeout=60,
        ))  # fmt: skip
        sides = {"direct": mock.url, "mitmdump alone": f"http://127.0.0.1:{plain.url}", "mockclaude record": rec.url}
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
        prompt = "Summarise: " + "the quick brown fox jumps over the lazy dog. " * 40 + "Mail bob@corp.example.org"
        body = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 200, "stream": True,
                           "messages": [{"role": "user", "content": prompt}]}).encode()  # fmt: skip
        n = args.concurrency
        conns = {name: [connect(url) for _ in range(n)] for name, url in sides.items()}
        pool = stack.enter_context(ThreadPoolExecutor(n))
        for side in conns.values():  # warm-up: imports, tokenizer, first connections
            list(pool.map(one_request, side, [body] * n))
        order = list(sides)
        rng = random.Random(1)
        for _ in range(args.requests):
            rng.shuffle(order)  # no side always follows another
            for name in order:
                times[name] += pool.map(one_request, conns[name], [body] * n)
        time.sleep(0.5)
        rec.popen.terminate()
        rec.popen.wait(20)
        recorded = sum(1 for _ in out.open()) - 1 if out.exists() else 0
    print(
        f"{args.requests} rounds of {args.concurrency} parallel streamed request(s) per side, sides in random "
        "order, keep-alive; "
        f"60 output tokens at 400 tok/s, TTFT 50 ms; anonymize={args.anonymize}; {recorded} exchanges recorded"
    )
    cols = ("TTFT p50", "TTFT p90", "+TTFT p50", "total p50", "total p90", "+total p50")
    print(f"{'':20}" + "".join(f"{c:>11}" for c in cols))
    for name, rows in times.items():
        ttft = [r[0] for r in rows]
        total = [r[1] for r in rows]
        # Added time: median of the paired differences with the direct request of the same round.
        add_ttft = statistics.median(r[0] - d[0] for r, d in zip(rows, times["direct"], strict=True))
        add_total = statistics.median(r[1] - d[1] for r, d in zip(rows, times["direct"], strict=True))
        cells = (pct(ttft, 50), pct(ttft, 90), add_ttft, pct(total, 50), pct(total, 90), add_total)
        print(f"{name:20}" + "".join(f"{c:11.2f}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
