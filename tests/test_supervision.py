"""`serve --workers N` survives a dead worker: it is restarted, the port keeps serving, shared limits
hold, and what was lost is counted (issue 19)."""

import http.client
import json
import multiprocessing
import os
import re
import signal
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

from mockclaude import shared_lock
from mockclaude.limits.ratelimit import Bucket
from mockclaude.limits.ratelimit_shared import SharedMemoryBucketStore
from mockclaude.processes import Proc, mock_server
from mockclaude.server.supervision import Board
from tests.test_content_flags import body, client, json_exchange, write
from tests.test_workers import post

BUCKET = (Bucket("requests", "requests", 5, True),)
DEATH = re.compile(r"worker (\d) \(pid (\d+)\) killed by SIGKILL(?: with (\d+) responses? in flight \(lost\))?; "
                   r"restarting in ([\d.]+) s")  # fmt: skip


def _die_holding(lock: shared_lock.SharedLock) -> None:
    lock.acquire()
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_lock_held_by_a_killed_process_is_freed_by_recover_all() -> None:
    store = SharedMemoryBucketStore(slots=4)
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_die_holding, args=(store._lock,))
    child.start()
    child.join(10)
    assert child.exitcode == -signal.SIGKILL
    assert store._lock.holder() == child.pid
    assert shared_lock.recover_all(child.pid) == 1
    # The store works again, with its contents intact.
    assert store.take("k", BUCKET, [5], 1.0) == (True, [0.0])
    assert shared_lock.recover_all(child.pid) == 0  # nothing else to free


def _stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/_mockclaude/stats", timeout=10) as resp:
        return json.loads(resp.read())


def _stream(port: int, key: str) -> str:
    """One streamed request on its own connection: 'complete', 'cut' or 'http <status>'."""
    body = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 200,
        "stream": True,
        "messages": [{"role": "user", "content": "x"}],
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request(
            "POST",
            "/v1/messages",
            json.dumps(body),
            {"x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json"},
        )
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            return f"http {resp.status}"
        return "complete" if b"message_stop" in data else "cut"
    except (OSError, http.client.HTTPException):
        return "cut"
    finally:
        conn.close()


class Load:
    """Threads that keep streams open against the mock, each stream with a key of its own (never limited)."""

    def __init__(self, port: int, threads: int) -> None:
        self.outcomes: Counter[str] = Counter()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(port, i), daemon=True) for i in range(threads)]

    def _run(self, port: int, i: int) -> None:
        n = 0
        while not self._stop.is_set() and n < 50:  # bounded: a few streams of ~3 s each per thread
            self.outcomes[_stream(port, f"sk-ant-load-{i}-{n}")] += 1
            n += 1

    def __enter__(self) -> "Load":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)


def _port(p: Proc) -> int:
    return int(p.url.rsplit(":", 1)[1])


def _workers(p: Proc) -> list[psutil.Process]:
    return psutil.Process(p.popen.pid).children()


def _connections(worker: psutil.Process, port: int) -> int:
    return sum(1 for c in worker.net_connections("tcp") if c.laddr.port == port and c.status == "ESTABLISHED")


def _wait_for(what: str, check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_killed_worker_is_restarted_the_port_keeps_serving_and_limits_stay_exact() -> None:
    # 3 rpm refills one request per 20 s: over this test's seconds the bucket of key A cannot refill.
    flags = ("--workers", "2", "--rate-limit", "3rpm", "--ttft", "0", "--tps", "20", "--output-tokens", "60")
    with mock_server(*flags, "--seed", "4") as p, Load(_port(p), threads=4) as load:
        port = _port(p)
        assert [post(p.url, key="sk-ant-a") for _ in range(4)] == [200, 200, 200, 429]
        # Kill the worker that carries the most streams right now.
        victim = _wait_for("streams in flight", lambda: max(_workers(p), key=lambda w: _connections(w, port))
                           if any(_connections(w, port) for w in _workers(p)) else None)  # fmt: skip
        survivor = next(w for w in _workers(p) if w.pid != victim.pid)
        victim.kill()
        killed_at = time.monotonic()
        assert post(p.url, key="sk-ant-fresh") == 200  # a new connection is served at once...
        assert time.monotonic() - killed_at < 1.0
        assert post(p.url, key="sk-ant-a") == 429  # ...and the shared bucket did not refill
        replacement = _wait_for(
            "the restarted worker",
            lambda: next((w for w in _workers(p) if w.pid not in (victim.pid, survivor.pid)), None),
        )
        # Once the replacement accepts too, every answer for key A is still a 429: one bucket across
        # the restart, whichever worker answers.
        _wait_for("the replacement to serve", lambda: _connections(replacement, port) > 0)
        statuses = [post(p.url, key="sk-ant-a") for _ in range(20)]
        assert statuses == [429] * 20, statuses
        stats = _stats(p.url)
        with urllib.request.urlopen(f"{p.url}/metrics", timeout=10) as resp:
            metrics = resp.read().decode()
    deaths = [m for line in p.lines if (m := DEATH.search(line))]
    assert len(deaths) == 1, p.output()
    _, pid, lost, delay = deaths[0].groups()
    assert int(pid) == victim.pid and float(delay) == 0.5
    lost_n = int(lost or 0)
    # Each response in flight in the dead worker was cut at its client; a connection it had accepted
    # but not yet answered is cut too, uncounted.
    assert 1 <= lost_n <= load.outcomes["cut"], (lost_n, load.outcomes)
    assert stats["worker_restarts"] == 1 and stats["lost_streams"] == lost_n
    assert "mockclaude_worker_restarts_total 1.0" in metrics
    assert f"mockclaude_lost_streams_total {lost_n}.0" in metrics
    assert not any(o.startswith("http 5") for o in load.outcomes), load.outcomes
    assert load.outcomes["complete"] > 0


def test_a_worker_that_keeps_dying_backs_off_and_sigterm_still_stops_everything() -> None:
    with mock_server("--workers", "2", "--ttft", "0", "--tps", "20", "--output-tokens", "200") as p:
        first = {w.pid for w in _workers(p)}
        victim = _workers(p)[0]
        victim.kill()
        again = _wait_for("a restarted worker", lambda: next((w for w in _workers(p) if w.pid not in first), None))
        again.kill()  # dies young: the next restart waits twice as long
        third = _wait_for(
            "a second restart", lambda: next((w for w in _workers(p) if w.pid not in first | {again.pid}), None)
        )
        assert third.is_running()
        # A stream open at SIGTERM ends within the grace period and the whole tree exits 0.
        streaming = threading.Thread(target=_stream, args=(_port(p), "sk-ant-s"), daemon=True)
        streaming.start()
        time.sleep(0.5)
        everyone = _workers(p)
        stopped_at = time.monotonic()
        os.kill(p.popen.pid, signal.SIGTERM)
        assert p.popen.wait(20) == 0
        _, alive = psutil.wait_procs(everyone, timeout=10)
        assert not alive
        assert time.monotonic() - stopped_at < 5.0 + 3.0  # the grace, and room for a loaded machine
    delays = [float(m.group(4)) for line in p.lines if (m := DEATH.search(line))]
    assert delays == [0.5, 1.0], p.output()


def test_recorded_turns_count_on_after_every_worker_was_restarted(tmp_path: Path) -> None:
    req = body("Which turn is this, after the crashes?")
    fx = write(tmp_path / "f.jsonl", [json_exchange(req, f"recording {k}", seq=k) for k in range(4)])
    with mock_server("--workers", "2", "--fixtures", str(fx), "--strict-fixtures", timeout=60) as p:

        def ask() -> str:
            with client(p.url) as c:
                return c.messages.create(**req).content[0].text

        assert [ask(), ask()] == ["recording 0", "recording 1"]
        for original in _workers(p):  # replace both workers, one after the other
            original.kill()
            _wait_for(
                "its replacement",
                lambda o=original: len(_workers(p)) == 2 and o.pid not in {w.pid for w in _workers(p)},
            )
        assert [ask(), ask(), ask()] == ["recording 2", "recording 3", "recording 0"]


def test_a_worker_is_orphaned_from_its_death_until_its_replacement_accepts() -> None:
    # The others accept on an orphaned worker's socket (server.adoption): never on one still starting,
    # which would take the first connections of both.
    board = Board(2)
    assert not board.orphaned(0) and not board.orphaned(1)
    board.set_accepting(0)
    board.set_accepting(1)
    board.set_in_flight(1, 3)
    assert board.worker_died(1) == 3
    assert board.orphaned(1) and not board.orphaned(0)
    board.set_accepting(1)  # the replacement listens
    assert not board.orphaned(1)
