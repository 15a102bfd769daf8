"""`serve --workers N` and shared rate limits: one port, one limit, across processes and hosts."""

import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from mockclaude.limits.ratelimit import Bucket, MemoryBucketStore
from mockclaude.limits.ratelimit_shared import SharedMemoryBucketStore
from mockclaude.processes import Proc, mock_server
from mockclaude.server.workers import BACKLOG
from tests.conftest import free_port

BODY = json.dumps(
    {"model": "claude-sonnet-4-6", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
).encode()
BUCKETS = (
    Bucket("requests", "requests", 20, True),
    Bucket("input-tokens", "input tokens", 1000, True),
    Bucket("output-tokens", "output tokens", 500, False),
)


def post(url: str, key: str = "sk-ant-a") -> int:
    """POST /v1/messages on a new connection; the HTTP status."""
    req = urllib.request.Request(
        f"{url}/v1/messages",
        data=BODY,
        headers={"x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_shared_memory_store_matches_memory_store() -> None:
    rng = random.Random(5)
    mem, shared = MemoryBucketStore(), SharedMemoryBucketStore(slots=8)
    now = 100.0
    for _ in range(500):
        now += rng.choice([0.0, 0.01, 0.5, 3.0])
        key = rng.choice(["a", "b", "c"])
        op = rng.random()
        if op < 0.6:
            amounts = [1, rng.randint(0, 300), rng.randint(0, 200)]
            assert mem.take(key, BUCKETS, amounts, now) == shared.take(key, BUCKETS, amounts, now)
        elif op < 0.8:
            bucket = rng.choice(BUCKETS)
            delta = rng.uniform(-100, 100)
            mem.adjust(key, bucket, delta, now)
            shared.adjust(key, bucket, delta, now)
        else:
            assert mem.levels(key, BUCKETS, now) == shared.levels(key, BUCKETS, now)


def test_shared_memory_store_is_full_after_clear_and_refuses_too_many_keys() -> None:
    store = SharedMemoryBucketStore(slots=2)
    assert store.take("a", BUCKETS, [20, 0, 0], 1.0)[0]
    assert not store.take("a", BUCKETS, [1, 0, 0], 1.0)[0]
    store.clear()
    assert store.take("a", BUCKETS, [20, 0, 0], 1.0)[0]
    store.take("b", BUCKETS, [1, 0, 0], 1.0)
    with pytest.raises(RuntimeError, match="more than 2 API keys"):
        store.take("c", BUCKETS, [1, 0, 0], 1.0)


def _take_many(store: SharedMemoryBucketStore, n: int, results: "multiprocessing.Queue[int]") -> None:
    results.put(sum(store.take("k", BUCKETS, [1, 0, 0], 0.0)[0] for _ in range(n)))


def test_shared_memory_store_is_exact_across_forked_processes() -> None:
    store = SharedMemoryBucketStore()
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    procs = [ctx.Process(target=_take_many, args=(store, 15, results)) for _ in range(4)]
    for p in procs:
        p.start()
    admitted = sum(results.get(timeout=30) for _ in procs)
    for p in procs:
        p.join(10)
    # The clock never moves (now=0), so exactly the capacity of 20 is admitted out of 60 tries.
    assert admitted == 20


def _children(proc: Proc) -> list[psutil.Process]:
    return psutil.Process(proc.popen.pid).children()


def test_workers_share_the_port_and_one_exact_rate_limit() -> None:
    with mock_server("--workers", "3", "--rate-limit", "20rpm", "--ttft", "0", "--tps", "5000", "--seed", "3") as p:
        workers = _children(p)
        assert len(workers) == 3
        port = int(p.url.rsplit(":", 1)[1])
        listening = {w.pid for w in workers if any(s.laddr.port == port for s in w.net_connections("tcp"))}
        assert listening == {w.pid for w in workers}, "every worker listens on the one port"
        statuses = [post(p.url) for _ in range(30)]
        # New connections spread over the workers (SO_REUSEPORT); separate buckets would admit up to 60.
        assert statuses.count(200) == 20 and statuses.count(429) == 10, statuses
        assert post(p.url, key="sk-ant-other") == 200  # limits are per key
        assert len(p.lines) == 1 and "listening on" in p.lines[0], "one ready line, from the parent"


def _request_on(sock: socket.socket) -> None:
    """One POST /v1/messages on a keep-alive connection, answered (the connection is then accepted)."""
    head = "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: k\r\nanthropic-version: 2023-06-01\r\n"
    sock.sendall(f"{head}content-type: application/json\r\ncontent-length: {len(BODY)}\r\n\r\n".encode() + BODY)
    assert sock.recv(65536).startswith(b"HTTP/1.1 200"), "answered"


@pytest.mark.skipif(sys.platform != "linux", reason="the kernel spreads connections over the workers on Linux only")
def test_a_pool_of_keep_alive_connections_opened_at_once_spreads_over_the_workers() -> None:
    # With one listening socket shared by the workers, the first worker to wake accepted every queued
    # connection: 50 opened at once all went to one of two workers in 3 of 8 tries, 40+ in 2 more.
    with mock_server("--workers", "2", "--ttft", "0", "--tps", "1e9", "--output-tokens", "5") as p:
        workers = _children(p)
        port = int(p.url.rsplit(":", 1)[1])
        for _ in range(5):
            pool = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(50)]
            try:
                for sock in pool:
                    _request_on(sock)
                held = [
                    sum(c.laddr.port == port and c.status == psutil.CONN_ESTABLISHED for c in w.net_connections("tcp"))
                    for w in workers
                ]
                assert sum(held) == 50 and min(held) >= 10, held  # an even split is 25 / 25
            finally:
                for sock in pool:
                    sock.close()


def test_a_dead_workers_share_of_new_connections_goes_to_the_others() -> None:
    # The kernel still sends the dead worker's share to its socket (the parent holds it open): the
    # other worker takes those over within milliseconds, long before the restart (0.5 s at the earliest).
    with mock_server("--workers", "2", "--ttft", "0", "--tps", "1e9", "--output-tokens", "5") as p:
        victim = _children(p)[0]
        victim.kill()
        victim.wait(10)
        took = []
        for _ in range(20):
            started = time.monotonic()
            assert post(p.url) == 200
            took.append(time.monotonic() - started)
        assert max(took) < 0.4, took


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2) to read a listening socket's backlog")
@pytest.mark.parametrize("flags", [[], ["--workers", "2"]], ids=["one process", "workers"])
def test_the_listening_socket_keeps_its_full_backlog(flags: list[str]) -> None:
    # asyncio listens again with the site's backlog: aiohttp's default 128 overflowed under a burst of
    # connects to --workers (dropped SYNs, 1 s retransmits). ss shows a listener's backlog as Send-Q.
    expected = min(BACKLOG, int(Path("/proc/sys/net/core/somaxconn").read_text()))
    with mock_server(*flags) as p:
        port = p.url.rsplit(":", 1)[1]
        out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
        backlogs = {int(line.split()[2]) for line in out.splitlines()}
        assert backlogs == {expected}, out


def test_sigterm_to_the_parent_stops_every_worker() -> None:
    with mock_server("--workers", "2", "--ttft", "0", "--tps", "5000") as p:
        workers = _children(p)
        assert len(workers) == 2
        os.kill(p.popen.pid, signal.SIGTERM)
        assert p.popen.wait(20) == 0
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive


@pytest.mark.skipif(sys.platform != "linux", reason="a parent-death signal is Linux's (prctl)")
def test_the_workers_stop_when_the_parent_is_killed() -> None:
    # SIGKILL gives the parent no chance to stop its workers: before, they went on serving the port.
    with mock_server("--workers", "2") as p:
        workers = _children(p)
        port = int(p.url.rsplit(":", 1)[1])
        p.popen.kill()
        p.popen.wait(10)
        _, alive = psutil.wait_procs(workers, timeout=15)
        assert not alive, alive
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_a_bad_flag_in_workers_mode_is_reported_once() -> None:
    out = subprocess.run([*_serve(), "--workers", "0"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "--workers 0: needs at least 1" in out.stderr


def _serve() -> list[str]:
    return [sys.executable, "-m", "mockclaude", "serve", "--port", "0"]


def test_two_mock_hosts_enforce_one_limit_through_redis(redis_url: str) -> None:
    flags = ("--redis", redis_url, "--rate-limit", "15rpm", "--ttft", "0", "--tps", "5000")
    with mock_server(*flags) as a, mock_server(*flags) as b:
        statuses = [post(server.url, key="sk-ant-redis") for _ in range(12) for server in (a, b)]
        assert statuses.count(200) == 15 and statuses.count(429) == 9, statuses
        # An admin reset on one host refills the shared buckets for both.
        urllib.request.urlopen(urllib.request.Request(f"{b.url}/_mockclaude/reset", method="POST"), timeout=10)
        assert post(a.url, key="sk-ant-redis") == 200


def test_redis_refill_follows_the_redis_clock(redis_url: str) -> None:
    with mock_server("--redis", redis_url, "--rate-limit", "60rpm", "--ttft", "0", "--tps", "5000") as p:
        key = f"sk-ant-refill-{time.monotonic_ns()}"
        statuses = [post(p.url, key=key) for _ in range(61)]
        assert statuses.count(200) == 60 and statuses[-1] == 429
        time.sleep(1.1)  # 60 rpm refills one request per second
        assert post(p.url, key=key) == 200


def test_unreachable_redis_is_a_clear_error() -> None:
    out = subprocess.run(
        [*_serve(), "--redis", f"redis://127.0.0.1:{free_port()}/0"], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 2 and "cannot reach Redis" in out.stderr
