"""bench.json_load: the requests it sends (one resent, or a distinct prompt each) and a short real run."""

import json
import subprocess
import sys
from typing import Any

import pytest

from bench.agent_body import agent_body
from bench.json_load import requests
from mockclaude.processes import mock_server

BODY = {"model": "claude-sonnet-4-6", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}


def _body(request: bytes) -> tuple[int, dict]:
    head, _, raw = request.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    return length - len(raw), json.loads(raw)


def test_one_request_is_resent_unless_distinct() -> None:
    spec = {"host": "127.0.0.1", "port": 1, "body": BODY}
    send = requests(spec)
    assert send() is send()
    assert _body(send()) == (0, BODY)


def test_distinct_requests_differ_in_their_last_message_only() -> None:
    send = requests({"host": "127.0.0.1", "port": 1, "body": BODY, "distinct": True})
    sent = [_body(send()) for _ in range(1000)]
    assert all(missing == 0 for missing, _ in sent)  # Content-Length follows each body
    prompts = [body["messages"][-1]["content"] for _, body in sent]
    assert len(set(prompts)) == 1000 and all(p.startswith("x ") for p in prompts)
    assert all({**body, "messages": BODY["messages"]} == BODY for _, body in sent)
    assert BODY["messages"][-1]["content"] == "x"  # the spec's body is left as it was
    # Another run (a server kept running through several) gets none of these prompts again.
    again = requests({"host": "127.0.0.1", "port": 1, "body": BODY, "distinct": True})
    assert not {_body(again())[1]["messages"][-1]["content"] for _ in range(1000)} & set(prompts)


@pytest.mark.parametrize("body", [BODY, agent_body(5, "x")], ids=["one-line", "agent"])
def test_a_distinct_run_against_the_mock_gets_only_successes(body: dict[str, Any]) -> None:
    with mock_server("--prefill-tps", "1e12", "--ttft", "0", "--tps", "1e9", "--output-tokens", "5") as p:
        host, port = p.url.removeprefix("http://").split(":")
        spec = {
            "host": host,
            "port": int(port),
            "body": body,
            "conns": 4,
            "seconds": 0.5,
            "warmup_s": 0.1,
            "distinct": True,
        }
        done = subprocess.run(
            [sys.executable, "-m", "bench.json_load", json.dumps(spec)], capture_output=True, text=True, timeout=60
        )
    result = json.loads(done.stdout)
    assert result["ok"] > 50 and result["bad"] == 0, result
