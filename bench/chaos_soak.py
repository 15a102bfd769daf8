"""Chaos soak: a mixed load against `serve --workers 2 --redis` while its own parts fail; what survived.

Clients send streams, JSON answers, count_tokens and bad requests (a quarter of them through the
recorder, whose fixture may not grow past --disk-bytes: a disk that fills during the run) while the
soak SIGKILLs a random worker every --kill-every seconds and stops Redis for --redis-down seconds
every --redis-every seconds. Then it checks that the mock answers normally, and reports requests by
kind and outcome, errors by cause, worker restarts and lost streams, store outages, recorder losses,
and RSS and open fds of the mock and the recorder before and after.

Expected errors: responses in flight in a killed worker are cut (`cut`). Anything else that is not
the expected answer (a 5xx, a refused connection, a timeout) is unexpected and makes the exit code 1.

    .venv/bin/python -m bench.chaos_soak --duration 60
"""

import argparse
import contextlib
import http.client
import json
import random
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from bench.harness import MODEL, machine, mock, run_main
from mockclaude.processes import Proc, run_process, with_file_size_limit

KINDS = {"stream": 0.4, "json": 0.3, "count_tokens": 0.15, "bad": 0.15}
EXPECTED = {"stream": 200, "json": 200, "count_tokens": 200, "bad": 400}
REDIS_READY = re.compile(r"(Ready to accept connections)")
RECORDER_READY = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis(binary: str, port: int) -> contextlib.AbstractContextManager[Proc]:
    argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    return run_process(argv, ready=REDIS_READY)


def _recorder(upstream: str, out: Path, disk_bytes: int) -> contextlib.AbstractContextManager[Proc]:
    """`mockclaude record` whose files may not grow past `disk_bytes`."""
    argv = ["record", "--upstream", upstream, "--port", "0", "--out", str(out)]
    return run_process(with_file_size_limit(argv, disk_bytes), ready=RECORDER_READY, timeout=90)


def _request(kind: str, i: int) -> tuple[str, bytes]:
    """(path, body) for one request of this kind."""
    messages = [{"role": "user", "content": f"chaos {i}"}]
    if kind == "count_tokens":
        return "/v1/messages/count_tokens", json.dumps({"model": MODEL, "messages": messages}).encode()
    if kind == "bad":
        return "/v1/messages", json.dumps({"model": MODEL, "messages": messages}).encode()  # no max_tokens
    body = {"model": MODEL, "max_tokens": 60, "stream": kind == "stream", "messages": messages}
    return "/v1/messages", json.dumps(body).encode()


def one(url: str, kind: str, i: int, timeout_s: float) -> str:
    """Send one request; its outcome: ok, cut, refused, timeout, or `http <status>` when unexpected."""
    host, port = url.removeprefix("http://").split(":")
    path, body = _request(kind, i)
    headers = {"x-api-key": f"sk-ant-chaos-{i % 50}", "anthropic-version": "2023-06-01"}
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout_s)
    try:
        conn.request("POST", path, body, {**headers, "content-type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "timeout"
    except (OSError, http.client.HTTPException):
        return "cut"
    finally:
        conn.close()
    if resp.status != EXPECTED[kind]:
        return f"http {resp.status}"
    if kind == "stream" and b"event: message_stop" not in data:
        return "cut"  # the error event of a cut stream, or a truncated body
    return "ok"


class Load:
    """Client threads sending the mixed load until `deadline`; outcomes by (target, kind, outcome)."""

    def __init__(self, targets: dict[str, str], clients: int, deadline: float, timeout_s: float) -> None:
        self.outcomes: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()
        self._args = (targets, deadline, timeout_s)
        self._threads = [threading.Thread(target=self._run, args=(c,), daemon=True) for c in range(clients)]

    def _run(self, client: int) -> None:
        targets, deadline, timeout_s = self._args
        rng = random.Random(client)
        names, weights = list(KINDS), list(KINDS.values())
        i = client * 1_000_000
        while time.monotonic() < deadline:
            target = "recorder" if "recorder" in targets and rng.random() < 0.25 else "mock"
            kind = rng.choices(names, weights)[0]
            outcome = one(targets[target], kind, i, timeout_s)
            if target == "recorder" and outcome == "http 502":
                outcome = "cut"  # the proxy's answer when its upstream (a killed worker) cut the exchange
            with self._lock:
                self.outcomes[(target, kind, outcome)] += 1
            i += 1

    def __enter__(self) -> "Load":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for t in self._threads:
            t.join()


def tree_usage(pid: int) -> tuple[float, int]:
    """RSS (MiB) and open fds of a process and its children."""
    rss, fds = 0, 0
    root = psutil.Process(pid)
    for p in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            rss += p.memory_info().rss
            fds += p.num_fds()
    return rss / 2**20, fds


class Chaos:
    """Kills workers and stops/starts Redis on a schedule, in a thread, until `deadline`."""

    def __init__(self, mock_pid: int, redis: contextlib.ExitStack, restart_redis: Any, args: argparse.Namespace):
        self.events: list[str] = []
        self._mock_pid, self._redis, self._restart_redis, self._args = mock_pid, redis, restart_redis, args
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        args, t0 = self._args, time.monotonic()
        rng = random.Random(7)
        next_kill, next_redis = args.kill_every, args.redis_every
        redis_back_at: float | None = None
        while (now := time.monotonic() - t0) < args.duration - 1.0:
            if now >= next_kill:
                workers = psutil.Process(self._mock_pid).children()
                if workers:
                    victim = rng.choice(workers)
                    with contextlib.suppress(psutil.Error):
                        victim.kill()
                        self.events.append(f"{now:6.1f} s  SIGKILL worker pid {victim.pid}")
                next_kill += args.kill_every
            if redis_back_at is None and now >= next_redis:
                self._redis.close()
                self.events.append(f"{now:6.1f} s  Redis stopped")
                redis_back_at = now + args.redis_down
            if redis_back_at is not None and now >= redis_back_at:
                self._restart_redis()
                self.events.append(f"{time.monotonic() - t0:6.1f} s  Redis started again")
                next_redis = max(next_redis + args.redis_every, now + 1.0)
                redis_back_at = None
            time.sleep(0.05)
        if redis_back_at is not None:  # never end the soak with Redis down
            self._restart_redis()
            self.events.append(f"{time.monotonic() - t0:6.1f} s  Redis started again")

    def __enter__(self) -> "Chaos":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join()


def _stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/_mockclaude/stats", timeout=10) as resp:
        return json.loads(resp.read())


@contextlib.contextmanager
def _redis_stack(binary: str, port: int) -> Iterator[tuple[contextlib.ExitStack, Any]]:
    """Redis on `port` in a stack the chaos may close, and a function that starts it again."""
    with contextlib.ExitStack() as outer:
        current = outer.enter_context(contextlib.ExitStack())
        current.enter_context(_redis(binary, port))

        def restart() -> None:
            current.enter_context(_redis(binary, port))

        yield current, restart


def main(argv: list[str] | None = None) -> int:
    """Run the soak and print its report; exit 1 on any unexpected outcome."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load and chaos")
    p.add_argument("--clients", type=int, default=8, help="client threads (closed loop)")
    p.add_argument("--kill-every", type=float, default=10.0, help="seconds between worker SIGKILLs")
    p.add_argument("--redis-every", type=float, default=20.0, help="seconds between Redis outages")
    p.add_argument("--redis-down", type=float, default=3.0, help="seconds each Redis outage lasts")
    p.add_argument("--disk-bytes", type=int, default=200_000, help="how large the recorder's fixture may grow")
    p.add_argument("--timeout", type=float, default=30.0, help="client timeout per request, seconds")
    args = p.parse_args(argv)
    binary = shutil.which("redis-server")
    if binary is None:
        print("bench.chaos_soak: needs redis-server on PATH (Debian: apt-get install redis-server)", file=sys.stderr)
        return 2
    print(f"# bench.chaos_soak on {machine()}: {args.duration:g} s, {args.clients} clients, a worker killed every "
          f"{args.kill_every:g} s, Redis down {args.redis_down:g} s every {args.redis_every:g} s, "
          f"recorder disk {args.disk_bytes} bytes", flush=True)  # fmt: skip
    redis_port = _free_port()
    flags = ["--workers", "2", "--redis", f"redis://127.0.0.1:{redis_port}/0", "--rate-limit", "100000rpm"]
    flags += ["--ttft", "0.05", "--tps", "300", "--output-tokens", "10-60", "--seed", "1"]
    with (
        tempfile.TemporaryDirectory(prefix="chaos-soak-") as tmp,
        _redis_stack(binary, redis_port) as (redis, restart_redis),
        mock(*flags) as server,
        _recorder(server.url, Path(tmp) / "chaos.jsonl", args.disk_bytes) as recorder,
    ):
        before = {"mock": tree_usage(server.popen.pid), "recorder": tree_usage(recorder.popen.pid)}
        deadline = time.monotonic() + args.duration
        targets = {"mock": server.url, "recorder": recorder.url}
        with Load(targets, args.clients, deadline, args.timeout) as load, Chaos(
            server.popen.pid, redis, restart_redis, args
        ) as chaos:  # fmt: skip
            pass
        time.sleep(1.0)  # let a worker killed last come back
        after_check = Counter(one(server.url, "json", i, args.timeout) for i in range(20))
        after = {"mock": tree_usage(server.popen.pid), "recorder": tree_usage(recorder.popen.pid)}
        stats = _stats(server.url)
        recorder.popen.terminate()
        recorder.popen.wait(30)
        mock_log, recorder_log = server.output(), recorder.output()
    return report(args, load.outcomes, chaos.events, after_check, before, after, stats, mock_log, recorder_log)


def report(
    args: argparse.Namespace,
    outcomes: Counter[tuple[str, str, str]],
    events: list[str],
    after_check: Counter[str],
    before: dict[str, tuple[float, int]],
    after: dict[str, tuple[float, int]],
    stats: dict[str, Any],
    mock_log: str,
    recorder_log: str,
) -> int:
    """Print the figures; 0 if nothing unexpected happened."""
    print("chaos:")
    for e in events:
        print(f"  {e}")
    total = sum(outcomes.values())
    print(f"requests: {total} in {args.duration:g} s ({total / args.duration:.1f}/s)")
    print(f"{'target':<9} {'kind':<13} {'ok':>6} {'cut':>5} {'other':>6}")
    for target in ("mock", "recorder"):
        for kind in KINDS:
            row = {o: n for (t, k, o), n in outcomes.items() if t == target and k == kind}
            other = sum(n for o, n in row.items() if o not in ("ok", "cut"))
            print(f"{target:<9} {kind:<13} {row.get('ok', 0):>6} {row.get('cut', 0):>5} {other:>6}")
    causes = Counter(o for (_, _, o), n in outcomes.items() for _ in range(n) if o != "ok")
    unexpected = {o: n for o, n in causes.items() if o != "cut"}
    print(f"errors by cause: {dict(causes) or 'none'} (cut = in flight in a killed worker, expected)")
    print(f"unexpected: {sum(unexpected.values())} {unexpected or ''}")
    restarts, lost = stats.get("worker_restarts", 0), stats.get("lost_streams", 0)
    print(f"worker restarts: {restarts}, lost streams: {lost}, death lines: {mock_log.count('killed by SIGKILL')}")
    print(f"store: went away {mock_log.count('is unreachable')} times, back {mock_log.count('is back after')} times "
          f"(log lines, all workers); 500s in the log: {mock_log.count('internal error')}")  # fmt: skip
    rec_lost = re.search(r"(\d+) lost to write errors", recorder_log)
    print(f"recorder: 'could not record' lines {recorder_log.count('could not record')}, "
          f"exchanges lost to the full disk {rec_lost.group(1) if rec_lost else '?'}")  # fmt: skip
    print(f"after the chaos, 20 JSON requests: {dict(after_check)}")
    for part in ("mock", "recorder"):
        (rss0, fd0), (rss1, fd1) = before[part], after[part]
        print(f"{part:<9} RSS {rss0:.1f} -> {rss1:.1f} MiB, fds {fd0} -> {fd1}")
    healthy = after_check["ok"] == 20 and not unexpected and "Traceback" not in mock_log
    print("result: " + ("ok" if healthy else "FAILED"))
    return 0 if healthy else 1


if __name__ == "__main__":
    run_main(main)
