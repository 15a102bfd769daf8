"""`mockclaude replay` against targets that misbehave: one that dies mid-run, one that answers garbage,
one that hangs. Every failure is classified, the report is complete, and the run ends on time."""

import itertools
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mockclaude.processes import mock_server
from tests.reliability_helpers import RawServer, get_json, hang, read_request, wait_for
from tests.test_replay_locust import FAST, replay
from tests.test_replay_units import write_fixture

pytestmark = pytest.mark.timeout(120)
RUN_S = 4
# Locust stops users at -t and gives in-flight requests --request-timeout at most; allow start-up too.
ON_TIME_S = RUN_S + 12


def timed_replay(url: str, tmp_path: Path, *args: str) -> tuple[str, dict[str, Any], float]:
    """A headless replay of a small mixed fixture for RUN_S seconds; (output, summary, wall time)."""
    fx = write_fixture(tmp_path / "f.jsonl", count=4)  # half streamed, half not
    t0 = time.monotonic()
    out, summary = replay(
        url, fx, tmp_path / "r", "-u", "3", "-r", "3", "-t", f"{RUN_S}s", "--think-time", "0.05", *args, timeout=60
    )
    return out, summary, time.monotonic() - t0


def assert_complete_report(tmp_path: Path, summary: dict[str, Any], out: str) -> None:
    """summary.json adds up, one record per request, report.html written, no traceback."""
    assert summary["requests"] == summary["successes"] + summary["failures"] > 0, summary
    assert sum(summary["errors"].values()) == summary["failures"], summary
    records = (tmp_path / "r" / "records.jsonl").read_text().splitlines()
    assert len(records) == summary["requests"]
    page = (tmp_path / "r" / "report.html").read_text()
    assert "Failures per second, by class" in page and "<h2>Failures</h2>" in page
    assert "Traceback" not in out, out[-3000:]


def test_target_dying_mid_run(tmp_path: Path) -> None:
    with mock_server(*FAST, "--tps", "200", "--output-tokens", "100") as mock:

        def answered() -> int:
            return get_json(mock.url, "/_mockclaude/stats")["by_endpoint"].get("/v1/messages", 0)

        def kill_once_serving() -> None:
            wait_for(lambda: answered() >= 3, 20, "replay under way")
            os.killpg(mock.popen.pid, signal.SIGKILL)

        killer = threading.Thread(target=kill_once_serving)
        killer.start()
        out, s, wall = timed_replay(mock.url, tmp_path, "--request-timeout", "2")
        killer.join()
    assert_complete_report(tmp_path, s, out)
    assert s["successes"] > 0, s["errors"]  # before the kill
    assert s["errors"].get("connection_error", 0) > 0, s["errors"]  # after it
    assert set(s["errors"]) <= {"connection_error", "interrupted"}, s["errors"]
    assert wall < ON_TIME_S, wall


_GARBAGE = [
    b"\x00\xffnot http at all\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"a\": 1}\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nevent: nonsense\ndata: {not json\n\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nevent: message_start\n"
    b'data: {"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":1}}}\n\n',
    b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
    b"HTTP/1.1 999 Whatever\r\nContent-Length: 2\r\n\r\n{}",
]


def test_target_returning_garbage(tmp_path: Path) -> None:
    replies = itertools.cycle(_GARBAGE)
    lock = threading.Lock()

    def garbage(conn: socket.socket) -> None:
        read_request(conn)
        with lock:
            reply = next(replies)
        try:
            conn.sendall(reply)
        finally:
            conn.close()

    with RawServer(garbage) as target:
        out, s, wall = timed_replay(target.url, tmp_path, "--request-timeout", "2")
    assert_complete_report(tmp_path, s, out)
    assert s["successes"] == 0, s
    allowed = {"invalid_response", "interrupted", "connection_error", "server_error"}  # 999 counts as 5xx
    assert set(s["errors"]) <= allowed and len(s["errors"]) >= 2, s["errors"]
    assert wall < ON_TIME_S, wall


def test_target_that_hangs(tmp_path: Path) -> None:
    with RawServer(hang) as target:
        out, s, wall = timed_replay(target.url, tmp_path, "--request-timeout", "1.5")
    assert_complete_report(tmp_path, s, out)
    assert s["successes"] == 0 and set(s["errors"]) == {"timeout"}, s
    assert s["requests"] >= 3  # each user timed out at least once and carried on
    # The check before the run waited --request-timeout at most, said so, and let the run go on.
    assert "WARNING: the check request got no valid answer (TimeoutError" in out, out[-3000:]
    assert wall < ON_TIME_S, wall


def test_target_that_trickles_forever(tmp_path: Path) -> None:
    """A 200 that never ends (a ping every 0.2 s, so the read timeout never fires) is cut at
    --request-timeout and classified, instead of holding its user to the end of the run."""

    def trickle(conn: socket.socket) -> None:
        read_request(conn)
        ping = b'event: ping\ndata: {"type": "ping"}\n\n'
        try:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            while True:
                conn.sendall(b"%x\r\n%s\r\n" % (len(ping), ping))
                time.sleep(0.2)
        except OSError:
            return

    with RawServer(trickle) as target:
        out, s, wall = timed_replay(target.url, tmp_path, "--request-timeout", "1")
    assert_complete_report(tmp_path, s, out)
    assert s["successes"] == 0 and set(s["errors"]) == {"timeout"} and s["requests"] >= 4, s
    assert wall < ON_TIME_S, wall
