"""Server behaviour beyond the SDK happy path: limits of the wire, content rules, admin API, metrics."""

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest

from mockclaude.processes import Proc, mock_server

MODEL = "claude-sonnet-4-6"
HEADERS = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01", "content-type": "application/json"}
USER = [{"role": "user", "content": "Hello there"}]


@pytest.fixture(scope="module")
def fast() -> Iterator[Proc]:
    """A quick mock with a seed."""
    with mock_server("--ttft", "0.01", "--tps", "5000", "--seed", "3", "--output-tokens", "20-60") as p:
        yield p


def post(p: Proc, path: str, body: Any, headers: dict[str, str] | None = None, **kw: Any) -> httpx2.Response:
    """A raw POST, bypassing the SDK."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx2.post(p.url + path, content=data, headers={**HEADERS, **(headers or {})}, timeout=30, **kw)


def sdk(p: Proc) -> anthropic.Anthropic:
    """The real SDK, no retries."""
    return anthropic.Anthropic(api_key="sk-ant-test", base_url=p.url, max_retries=0)


def test_query_string_is_ignored(fast: Proc) -> None:
    r = post(fast, "/v1/messages?beta=true", {"model": MODEL, "max_tokens": 10, "messages": USER})
    assert r.status_code == 200 and r.json()["type"] == "message"
    r = post(fast, "/v1/messages/count_tokens?beta=true", {"model": MODEL, "messages": USER})
    assert r.status_code == 200 and r.json()["input_tokens"] > 0


def test_body_over_32_mb_is_413(fast: Proc) -> None:
    big = b'{"model":"x","max_tokens":1,"messages":[{"role":"user","content":"' + b"a" * (32 * 1024 * 1024) + b'"}]}'
    r = post(fast, "/v1/messages", big)
    assert r.status_code == 413
    assert r.json()["error"]["type"] == "request_too_large"


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"{not json", "The request body is not valid JSON"),
        (b"\xff\xfe", "The request body is not valid JSON"),
        (b"[]", ""),
        (b"null", ""),
    ],
)
def test_odd_bodies_get_400_in_the_api_shape(fast: Proc, raw: bytes, fragment: str) -> None:
    r = post(fast, "/v1/messages", raw)
    assert r.status_code == 400
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert body["request_id"] == r.headers["request-id"]
    assert r.headers["x-should-retry"] == "false"
    assert fragment in body["error"]["message"]


def test_unknown_paths_and_methods_answer_in_the_api_shape(fast: Proc) -> None:
    for method, path in (("GET", "/v1/nothing"), ("GET", "/v1/messages"), ("DELETE", "/v1/models")):
        r = httpx2.request(method, fast.url + path, headers=HEADERS)
        assert r.status_code in (404, 405)
        assert r.json()["type"] == "error" and r.json()["error"]["type"] in ("not_found_error", "invalid_request_error")


def test_missing_auth_and_version(fast: Proc) -> None:
    r = httpx2.post(fast.url + "/v1/messages", json={"model": MODEL, "max_tokens": 5, "messages": USER})
    assert r.status_code == 401 and r.json()["error"] == {
        "type": "authentication_error",
        "message": "x-api-key header is required",
    }
    r = httpx2.post(
        fast.url + "/v1/messages",
        json={"model": MODEL, "max_tokens": 5, "messages": USER},
        headers={"authorization": "Bearer sk-ant-x"},
    )
    assert r.status_code == 400 and r.json()["error"]["message"] == "anthropic-version: header is required"


def test_max_tokens_caps_the_answer(fast: Proc) -> None:
    msg = sdk(fast).messages.create(model=MODEL, max_tokens=7, messages=USER)
    assert msg.stop_reason == "max_tokens" and msg.usage.output_tokens == 7


def test_stop_sequences_are_honoured() -> None:
    with mock_server("--ttft", "0", "--tps", "5000", "--seed", "5", "--output-tokens", "40") as p:
        c = sdk(p)
        results = [
            c.messages.create(model=MODEL, max_tokens=100, messages=USER, stop_sequences=["###"]) for _ in range(30)
        ]
    stopped = [m for m in results if m.stop_reason == "stop_sequence"]
    assert stopped, "no answer ended on the stop sequence in 30 tries"
    for m in stopped:
        assert m.stop_sequence == "###" and "###" not in m.content[0].text
    assert all(m.stop_reason in ("end_turn", "stop_sequence") for m in results)


def test_thinking_block_streams_within_budget(fast: Proc) -> None:
    with sdk(fast).messages.stream(
        model=MODEL,
        max_tokens=3000,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=USER,
    ) as s:
        kinds = [e.delta.type for e in s if e.type == "content_block_delta"]
        final = s.get_final_message()
    assert final.content[0].type == "thinking" and final.content[0].signature
    assert "thinking_delta" in kinds and "signature_delta" in kinds
    assert final.content[-1].type == "text"


def test_auto_tool_choice_calls_tools_at_the_configured_rate() -> None:
    tool = {
        "name": "lookup",
        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
    }
    with mock_server("--ttft", "0", "--tps", "5000", "--seed", "9", "--tool-rate", "1.0", "--output-tokens", "10") as p:
        msg = sdk(p).messages.create(model=MODEL, max_tokens=200, tools=[tool], messages=USER)
    assert msg.stop_reason == "tool_use" and msg.content[-1].type == "tool_use"


def test_seed_makes_answers_reproducible() -> None:
    texts = []
    for _ in range(2):
        with mock_server("--ttft", "0", "--tps", "5000", "--seed", "42") as p:
            c = sdk(p)
            texts.append(
                [c.messages.create(model=MODEL, max_tokens=50, messages=USER).content[0].text for _ in range(3)]
            )
    assert texts[0] == texts[1]


def test_any_model_flag() -> None:
    with mock_server("--ttft", "0", "--tps", "5000", "--any-model") as p:
        msg = sdk(p).messages.create(model="my-fine-tune", max_tokens=5, messages=USER)
    assert msg.model == "my-fine-tune"


def test_input_token_rate_limit_message_and_headers() -> None:
    with mock_server("--ttft", "0", "--tps", "5000", "--rate-limit", "1000rpm,600itpm,100000otpm") as p:
        c = sdk(p)
        long_prompt = [{"role": "user", "content": "word " * 400}]
        first = c.messages.with_raw_response.create(model=MODEL, max_tokens=5, messages=long_prompt)
        assert int(first.headers["anthropic-ratelimit-input-tokens-remaining"]) < 600
        with pytest.raises(anthropic.RateLimitError) as e:
            c.messages.create(model=MODEL, max_tokens=5, messages=long_prompt)
    msg = e.value.body["error"]["message"]
    assert "input tokens per minute" in msg and MODEL in msg
    retry_after = int(e.value.response.headers["retry-after"])
    assert 1 <= retry_after <= 60


def test_admin_api_changes_settings_atomically(fast: Proc) -> None:
    before = httpx2.get(fast.url + "/_mockclaude/config").json()
    bad = httpx2.patch(fast.url + "/_mockclaude/config", json={"tps": "50", "faults": {"nope": 0.5}})
    assert bad.status_code == 400 and bad.json()["type"] == "error"
    assert httpx2.get(fast.url + "/_mockclaude/config").json() == before  # nothing half-applied
    good = httpx2.patch(fast.url + "/_mockclaude/config", json={"output_tokens": "3", "faults": {"529": 1.0}})
    assert good.status_code == 200 and good.json()["output_tokens"] == "3"
    with pytest.raises(anthropic.OverloadedError):
        sdk(fast).messages.create(model=MODEL, max_tokens=50, messages=USER)
    httpx2.patch(fast.url + "/_mockclaude/config", json={"faults": {}, "output_tokens": "20-60"})
    assert sdk(fast).messages.create(model=MODEL, max_tokens=50, messages=USER).content
    stats = httpx2.get(fast.url + "/_mockclaude/stats").json()
    assert stats["faults_injected"]["529"] >= 1 and stats["active_streams"] == 0


def test_admin_token_and_no_admin() -> None:
    with mock_server("--admin-token", "s3cret") as p:
        assert httpx2.get(p.url + "/_mockclaude/stats").status_code == 401
        ok = httpx2.get(p.url + "/_mockclaude/stats", headers={"x-mockclaude-admin-token": "s3cret"})
        assert ok.status_code == 200
    with mock_server("--no-admin") as p:
        assert httpx2.get(p.url + "/_mockclaude/stats").status_code == 404


def test_prometheus_metrics(fast: Proc) -> None:
    sdk(fast).messages.create(model=MODEL, max_tokens=5, messages=USER)
    text = httpx2.get(fast.url + "/metrics").text
    for name in (
        "mockclaude_requests_total",
        "mockclaude_active_streams",
        "mockclaude_output_tokens_total",
        "mockclaude_ttft_seconds_bucket",
        "mockclaude_frame_lateness_seconds_bucket",
        "mockclaude_accept_queue_seconds_bucket",
    ):
        assert name in text
    assert 'endpoint="/v1/messages",status="200"' in text


def test_bad_flags_name_the_flag() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "mockclaude", "serve", "--rate-limit", "50rpx"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2 and "--rate-limit" in out.stderr
    out = subprocess.run(
        [sys.executable, "-m", "mockclaude", "serve", "--fault", "503:0.1"], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 2 and "--fault" in out.stderr and "503" in out.stderr
