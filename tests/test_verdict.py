"""The client verdict with real clients: the official SDKs' defaults are clean, naive clients are flagged."""

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import anthropic

from mockclaude.processes import mock_server

MODEL = "claude-sonnet-4-6"
FAST = ("--ttft", "0", "--tps", "2000", "--output-tokens", "5")


def ask(i: int) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": f"question {i}"}]}


def verdict(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/_mockclaude/verdict") as r:
        return json.load(r)


def client(v: dict[str, Any], key: str) -> dict[str, Any]:
    (c,) = [c for c in v["clients"] if c["key"] == "…" + key[-4:]]
    return c


def clean(c: dict[str, Any]) -> dict[str, int]:
    return {b["behaviour"]: b["count"] for b in c["clean"]}


def kinds(c: dict[str, Any]) -> dict[str, int]:
    return {f["kind"]: f["count"] for f in c["findings"]}


def raw(url: str, key: str, body: Any, fault: str | None = None, stream_read: bool = True) -> int:
    """A naive client's request (urllib, no retry logic of its own): the status, 0 for a cut line."""
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json"}
    if fault:
        headers["x-mockclaude-fault"] = fault
    req = urllib.request.Request(url + "/v1/messages", data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(req) as r:
            if stream_read:
                r.read()
            return r.status
    except urllib.error.HTTPError as err:
        return err.code
    except (urllib.error.URLError, ConnectionError, OSError):
        return 0


def verdict_cli(url: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "mockclaude", "verdict", url]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def test_sdk_defaults_are_clean_against_injected_429s() -> None:
    with mock_server(*FAST, "--fault", "429:0.3", "--fault", "529:0.05", "--seed", "11") as mock:
        sync = anthropic.Anthropic(base_url=mock.url, api_key="sk-ant-sync-0001")
        for i in range(12):
            # Three 429s in a row: the SDK gives up after its 2 retries, as it should.
            with contextlib.suppress(anthropic.RateLimitError):
                sync.messages.create(**ask(i))
        async_client = anthropic.AsyncAnthropic(base_url=mock.url, api_key="sk-ant-async-0002")

        async def one(i: int) -> None:
            try:
                async with async_client.messages.stream(**ask(100 + i)) as s:
                    await s.get_final_message()
            except anthropic.APIStatusError:
                pass

        async def many() -> None:
            await asyncio.gather(*(one(i) for i in range(12)))

        asyncio.run(many())
        v = verdict(mock.url)
        for key in ("sk-ant-sync-0001", "sk-ant-async-0002"):
            c = client(v, key)
            assert c["verdict"] == "clean" and kinds(c) == {}, c
            assert clean(c)["honoured_retry_after"] >= 1 and c["retries"] >= 1
        cli = verdict_cli(mock.url)
        assert cli.returncode == 0, cli.stdout + cli.stderr
        assert "honoured retry-after" in cli.stdout and "verdict: clean" in cli.stdout


def test_sdk_defaults_are_clean_against_a_tight_rate_limit() -> None:
    with mock_server(*FAST, "--rate-limit", "60rpm") as mock:
        sdk = anthropic.Anthropic(base_url=mock.url, api_key="sk-ant-tight-0003")
        for i in range(64):
            sdk.messages.create(**ask(i))  # the last ones wait out retry-after and then pass
        c = client(verdict(mock.url), "sk-ant-tight-0003")
        assert c["verdict"] == "clean" and clean(c)["honoured_retry_after"] >= 3, c
        # The SDK does not read the limit headers: that is a warning, never a failure.
        assert {f["severity"] for f in c["findings"]} <= {"warning"}


def test_naive_clients_are_flagged_for_each_kind() -> None:
    with mock_server(*FAST) as mock:
        url = mock.url
        for _ in range(7):  # a retry loop with no wait, on a 429 that asked for 1 s
            raw(url, "sk-naive-loop", ask(1), fault="429")
        for _ in range(3):  # retries of a 529 at once
            raw(url, "sk-naive-fast", ask(2), fault="529")
        bad = {"model": MODEL, "messages": [{"role": "user", "content": "no max_tokens"}]}
        assert raw(url, "sk-naive-4xx1", bad) == 400
        raw(url, "sk-naive-4xx1", bad)
        assert raw(url, "sk-naive-long", {**ask(3), "max_tokens": 30_000}) == 200
        v = verdict(url)
        assert kinds(client(v, "sk-naive-loop")) == {"retry_after_ignored": 6, "retry_storm": 1}
        assert kinds(client(v, "sk-naive-fast")) == {"no_backoff": 2}
        assert kinds(client(v, "sk-naive-4xx1")) == {"retried_non_retryable": 1}
        assert kinds(client(v, "sk-naive-long")) == {"long_request_without_streaming": 1}
        finding = client(v, "sk-naive-loop")["findings"][0]
        assert finding["fix"] and finding["explanation"] and len(finding["examples"]) == 3
        assert all(e.startswith("req_") for e in finding["examples"])
        cli = verdict_cli(url)
        assert cli.returncode == 1
        for kind in ("retry_after_ignored", "retry_storm", "no_backoff", "retried_non_retryable"):
            assert kind in cli.stdout


def test_concurrency_beyond_the_limit_and_sending_at_zero_remaining() -> None:
    with mock_server("--ttft", "0", "--tps", "20", "--output-tokens", "20", "--rate-limit", "3rpm") as mock:
        statuses: list[int] = []

        def stream(i: int) -> None:
            statuses.append(raw(mock.url, "sk-naive-wide", {**ask(i), "stream": True}))

        threads = [threading.Thread(target=stream, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(statuses) == [200, 200, 200, 429, 429]
        c = client(verdict(mock.url), "sk-naive-wide")
        assert kinds(c).get("concurrency_spike", 0) >= 1
        assert "ignored_remaining" in kinds(c)  # the 429s came after a response said 0 remaining


def test_a_stalled_stream_with_and_without_a_read_timeout() -> None:
    with mock_server(*FAST, "--stall-seconds", "1.5") as mock:
        patient = anthropic.Anthropic(base_url=mock.url, api_key="sk-ant-patient-01", max_retries=0)
        careful = anthropic.Anthropic(base_url=mock.url, api_key="sk-ant-careful-02", max_retries=0, timeout=0.4)
        for sdk in (patient, careful):
            start = time.monotonic()
            try:
                with sdk.messages.stream(**ask(1), extra_headers={"x-mockclaude-fault": "stall"}) as s:
                    s.get_final_message()
            except Exception as exc:  # httpx2's ReadTimeout / RemoteProtocolError: the SDK does not wrap them
                assert "timed out" in str(exc) or "incomplete" in str(exc)
            waited = time.monotonic() - start
            assert waited >= (1.4 if sdk is patient else 0.35)
        time.sleep(0.2)  # the server notices the careful client's hang-up on its next poll
        v = verdict(mock.url)
        assert kinds(client(v, "sk-ant-patient-01")) == {"stalled_stream_waited": 1}
        c = client(v, "sk-ant-careful-02")
        assert kinds(c) == {} and clean(c)["gave_up_on_stall"] == 1
