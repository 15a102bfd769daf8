"""Locust users for bench.replay_throughput: a plain FastHttpUser and the replayer's ClaudeUser.

Both send the same Messages request (BENCH_TOKENS output tokens, streaming if BENCH_STREAM=1) back
to back; pick one by class name on Locust's command line.
"""

import json
import os

from locust import FastHttpUser, constant, task

from bench.harness import message_body
from replay.users import ClaudeUser

BODY = message_body(int(os.environ.get("BENCH_TOKENS", "20")), os.environ.get("BENCH_STREAM") == "1")
PAYLOAD = json.dumps(BODY).encode()
HEADERS = {"x-api-key": "sk-ant-bench", "anthropic-version": "2023-06-01", "content-type": "application/json"}


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
