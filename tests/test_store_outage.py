"""`serve --redis` while Redis goes away and comes back: the --limits-on-store-failure policy holds,
one log line each way, no 500s, and the limits count again once Redis is back (issue 19)."""

import contextlib
import json
import re
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from mockclaude.processes import mock_server, run_process
from tests.conftest import free_port
from tests.test_supervision import _wait_for
from tests.test_workers import post

HEADERS = {"x-api-key": "sk-ant-a", "anthropic-version": "2023-06-01", "content-type": "application/json"}
GONE = "is unreachable"
BACK = "is back after"


@contextlib.contextmanager
def redis_on(port: int) -> Iterator[None]:
    """A redis-server of our own on 127.0.0.1:port, no persistence (a restart starts it empty)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server); ./dev test installs it")
    pytest.importorskip("redis", reason="the redis client is part of the dev extra")
    argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    with run_process(argv, ready=re.compile(r"(Ready to accept connections)")):
        yield


def _answer(url: str, path: str = "/v1/messages", key: str = "sk-ant-a") -> tuple[int, dict[str, Any]]:
    body = {"model": "claude-sonnet-4-6", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), headers={**HEADERS, "x-api-key": key})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _store(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/_mockclaude/stats", timeout=10) as resp:
        return json.loads(resp.read())["limits_store"]


class Background:
    """A thread that keeps sending requests (each with a key of its own) and counts the statuses."""

    def __init__(self, url: str) -> None:
        self.statuses: Counter[int] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url,), daemon=True)

    def _run(self, url: str) -> None:
        for n in range(3000):  # bounded
            if self._stop.wait(0.01):
                return
            self.statuses[post(url, key=f"sk-ant-bg-{n}")] += 1

    def __enter__(self) -> "Background":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


def _run(policy: str | None) -> dict[str, Any]:
    """Redis up, then stopped, then restarted, with a background load throughout; what was seen."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    flags = ["--redis", url, "--rate-limit", "5rpm", "--ttft", "0", "--tps", "5000"]
    if policy:
        flags += ["--limits-on-store-failure", policy]
    seen: dict[str, Any] = {"url": url}
    # The second Redis outlives the mock, so nothing after the outage sees a store going away again.
    with contextlib.ExitStack() as first_redis, contextlib.ExitStack() as second_redis:
        first_redis.enter_context(redis_on(port))
        with mock_server(*flags) as p:
            with Background(p.url) as bg:
                seen["before"] = [_answer(p.url)[0] for _ in range(6)]
                first_redis.close()  # Redis stops; the mock and the load go on
                seen["away"] = [_answer(p.url) for _ in range(8)]
                seen["count_tokens_away"] = _answer(p.url, "/v1/messages/count_tokens")[0]
                seen["store_away"] = _store(p.url)
                with urllib.request.urlopen(f"{p.url}/metrics", timeout=10) as resp:
                    seen["metrics_away"] = resp.read().decode()
                second_redis.enter_context(redis_on(port))
                _wait_for("the store to be back", lambda: _store(p.url)["reachable"])
                seen["after"] = [_answer(p.url)[0] for _ in range(6)]
                seen["store_after"] = _store(p.url)
            seen["background"] = bg.statuses
        seen["output"] = p.output()
    return seen


def _common_checks(seen: dict[str, Any]) -> None:
    assert seen["before"] == [200] * 5 + [429]
    # Redis came back empty: key A's buckets are full again, and the limit counts from there.
    assert seen["after"] == [200] * 5 + [429]
    out = seen["output"]
    assert out.count(GONE) == 1 and out.count(BACK) == 1, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    assert not any(status >= 500 and status != 529 for status in seen["background"]), seen["background"]
    assert sum(seen["background"].values()) > 0
    assert seen["store_away"]["reachable"] is False and seen["store_after"]["reachable"] is True
    assert seen["store_away"]["outages"] == 1
    assert "mockclaude_limits_store_up 0.0" in seen["metrics_away"]


def test_open_policy_admits_unchecked_while_redis_is_away() -> None:
    seen = _run(None)  # open is the default
    _common_checks(seen)
    assert [status for status, _ in seen["away"]] == [200] * 8  # past the 5 rpm: nothing can be checked
    assert seen["store_away"]["on_failure"] == "open" and seen["store_away"]["admitted_unchecked"] >= 8
    assert seen["background"][529] == 0


def test_closed_policy_answers_529_naming_the_store_while_redis_is_away() -> None:
    seen = _run("closed")
    _common_checks(seen)
    for status, body in seen["away"]:
        assert status == 529 and body["error"]["type"] == "overloaded_error", body
        message = body["error"]["message"]
        assert seen["url"] in message and "--limits-on-store-failure closed" in message
    assert seen["count_tokens_away"] == 200  # not rate-limited, so not refused
    assert seen["store_away"]["refused"] >= 8


def test_the_policy_flag_needs_redis() -> None:
    argv = [sys.executable, "-m", "mockclaude", "serve", "--port", "0", "--limits-on-store-failure", "closed"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "--limits-on-store-failure applies to the --redis store" in out.stderr
