"""What the recorder costs: TTFT and total time through `mockclaude record` vs direct, side by side.

Starts `mockclaude serve` and `mockclaude record` in front of it on 127.0.0.1, then alternates
direct and proxied streaming requests (so drift hits both equally) and prints the medians.

    .venv/bin/python bench/recorder_overhead.py [--requests 40] [--anonymize pii]
"""

import argparse
import http.client
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

READY = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
MITM_READY = re.compile(r"listening at 127\.0\.0\.1:(\d+)")
ROOT = Path(__file__).resolve().parent.parent


def start(argv: list[str], timeout: float = 60.0, ready: re.Pattern[str] = READY) -> tuple[subprocess.Popen[str], str]:
    """Start a process and wait for its ready line; returns the process and its base URL."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    for line in proc.stdout:
        m = ready.search(line)
        if m:
            url = m.group(1)
            return proc, url if url.startswith("http") else f"http://127.0.0.1:{url}"
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise RuntimeError(f"{argv[:4]} did not start")


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
    ap.add_argument("--record-arg", action="append", default=[], help="extra argument for mockclaude record")
    args = ap.parse_args()
    mc = [sys.executable, "-m", "mockclaude"]
    mock, mock_url = start([*mc, "serve", "--port", "0", "--ttft", "0.05", "--tps", "400", "--chunk-tokens", "1",
                            "--prefill-tps", "100000000", "--output-tokens", "60", "--seed", "1"])  # fmt: skip
    # mitmdump alone (no addon, streaming on): what mitmproxy itself costs.
    plain, plain_url = start(
        [sys.executable, "-c", "from mitmproxy.tools.main import mitmdump; mitmdump()", "--mode",
         f"reverse:{mock_url}@127.0.0.1:0", "--set", "stream_large_bodies=1", "--set", "flow_detail=0"],
        ready=MITM_READY,
    )  # fmt: skip
    procs = [mock, plain]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.jsonl"
        rec, rec_url = start([*mc, "record", "--upstream", mock_url, "--port", "0", "--out", str(out),
                              "--anonymize", args.anonymize, *args.record_arg])  # fmt: skip
        procs.append(rec)
        sides = {"direct": mock_url, "mitmdump alone": plain_url, "mockclaude record": rec_url}
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
        try:
            prompt = "Summarise: " + "the quick brown fox jumps over the lazy dog. " * 40 + "Mail bob@corp.example.org"
            body = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 200, "stream": True,
                               "messages": [{"role": "user", "content": prompt}]}).encode()  # fmt: skip
            conns = {name: connect(url) for name, url in sides.items()}
            for conn in conns.values():  # warm-up: imports, tokenizer, first connections
                one_request(conn, body)
            order = list(sides)
            rng = random.Random(1)
            for _ in range(args.requests):
                rng.shuffle(order)  # no side always follows another
                for name in order:
                    times[name].append(one_request(conns[name], body))
            time.sleep(0.5)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(20)
        recorded = sum(1 for _ in out.open()) - 1 if out.exists() else 0
    print(f"{args.requests} streamed requests per side, interleaved in random order, keep-alive; "
          f"60 output tokens at 400 tok/s, TTFT 50 ms; anonymize={args.anonymize}; {recorded} exchanges recorded")
    cols = ("TTFT p50", "TTFT p90", "+TTFT p50", "total p50", "total p90", "+total p50")
    print(f"{'':20}" + "".join(f"{c:>11}" for c in cols))
    for name, rows in times.items():
        ttft = sorted(r[0] for r in rows)
        total = sorted(r[1] for r in rows)
        p90 = int(0.9 * (len(rows) - 1))
        # Added time: median of the paired differences with the direct request made just before.
        add_ttft = statistics.median(r[0] - d[0] for r, d in zip(rows, times["direct"], strict=True))
        add_total = statistics.median(r[1] - d[1] for r, d in zip(rows, times["direct"], strict=True))
        cells = (statistics.median(ttft), ttft[p90], add_ttft, statistics.median(total), total[p90], add_total)
        print(f"{name:20}" + "".join(f"{c:11.2f}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
