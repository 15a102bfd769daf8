"""Locust users for bench.replay_throughput: a plain FastHttpUser and the replayer's ClaudeUser.

Both send the same Messages request (BENCH_TOKENS output tokens, streaming if BENCH_STREAM=1) back
to back; pick one by class name on Locust's command line. With BENCH_LAG_FILE set, each Locust
process also measures its gevent loop's lag (how late a 5 ms sleep wakes up) and writes the samples
to BENCH_LAG_FILE.<pid> as it quits.
"""

import json
import os
import time
from typing import Any

import gevent
from locust import FastHttpUser, constant, events, task

from bench.harness import message_body
from replay.users import ClaudeUser

BODY = message_body(int(os.environ.get("BENCH_TOKENS", "20")), os.environ.get("BENCH_STREAM") == "1")
PAYLOAD = json.dumps(BODY).encode()
HEADERS = {"x-api-key": "sk-ant-bench", "anthropic-version": "2023-06-01", "content-type": "application/json"}
LAG_FILE = os.environ.get("BENCH_LAG_FILE")
LAG_PERIOD_S = 0.005
_lags: list[float] = []


class PlainFastHttpUser(FastHttpUser):
    """Locust's fastest HTTP client, no LLM timing: the baseline."""

    wait_time = constant(0)

    @task
    def post(self) -> None:
        """One request, body read in full."""
        self.client.post("/v1/messages", data=PAYLOAD, headers=HEADERS)


class ReplayBenchUser(ClaudeUser):
    """The replayer's user: times TTFT, ITL, TPOT and E2E and keeps one record per request."""

    @task
    def post(self) -> None:
        """One request through ClaudeUser.send_body."""
        self.send_body(BODY, scenario="bench")


def _measure_lag() -> None:
    while True:
        t = time.perf_counter()
        gevent.sleep(LAG_PERIOD_S)
        _lags.append(time.perf_counter() - t - LAG_PERIOD_S)


if LAG_FILE:

    @events.test_start.add_listener
    def _start_lag_probe(**_: Any) -> None:
        gevent.spawn(_measure_lag)

    @events.quitting.add_listener
    def _write_lags(**_: Any) -> None:
        with open(f"{LAG_FILE}.{os.getpid()}", "w", encoding="utf-8") as f:
            json.dump(_lags, f)
