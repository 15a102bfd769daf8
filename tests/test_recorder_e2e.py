"""End to end, offline: the real `anthropic` SDK → `mockclaude record` (real mitmdump) → `mockclaude serve`."""

import json
import os
import re
import signal
import stat
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

from mockclaude.fixtures.format import iter_exchanges, read_header
from mockclaude.fixtures.headers import REQUEST_HEADERS
from mockclaude.processes import Proc, mock_server, run_process
from mockclaude.tokens import count_text

MODEL = "claude-sonnet-4-5"
TTFT_S = 0.4
PLANTED_KEY = "sk-ant-api03-PLANTEDplantedPLANTED0123456789abcdef-XYZ"
EMAIL = "jane.roe@megacorp-internal.com"
OTHER_EMAIL = "ops-team@megacorp-internal.com"
PHONE = "+1 415-555-0142"
CARD = "4539 1488 0343 6467"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
READY = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


@pytest.fixture(scope="module")
def upstream() -> Iterator[Proc]:
    """The mock with distinctive, deterministic timing: first delta exactly TTFT_S after the request."""
    with mock_server(
        "--ttft", str(TTFT_S), "--tps", "40", "--chunk-tokens", "1", "--prefill-tps", "100000000",
        "--output-tokens", "30", "--seed", "5", "--tool-rate", "1",
    ) as p:  # fmt: skip
        # Warm the mock up (tokenizer, first-request imports) so its timing is what it was told.
        anthropic.Anthropic(api_key="sk-ant-warm", base_url=p.url).messages.create(
            model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "warm up"}]
        )
        yield p


def record(upstream_url: str, out: Path, *extra: str) -> Any:
    """`mockclaude record` on a free port in front of `upstream_url`."""
    argv = [sys.executable, "-m", "mockclaude", "record", "--upstream", upstream_url, "--port", "0", "--out", str(out)]
    return run_process([*argv, *extra], ready=READY, timeout=60)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `mockclaude ARGS...` and capture its output."""
    return subprocess.run([sys.executable, "-m", "mockclaude", *args], capture_output=True, text=True)


def stop_and_read(proxy: Proc, out: Path) -> list[dict[str, Any]]:
    """Stop the recorder cleanly (SIGTERM flushes the queue) and read its fixture."""
    proxy.popen.terminate()
    proxy.popen.wait(20)
    return list(iter_exchanges(out))


@pytest.fixture(scope="module")
def session(upstream: Proc, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One recorded session: streamed, non-streamed, tool call, 429, count_tokens."""
    out = tmp_path_factory.mktemp("rec") / "prod.jsonl"
    seen: dict[str, Any] = {}
    with record(upstream.url, out) as proxy:
        client = anthropic.Anthropic(api_key=PLANTED_KEY, base_url=proxy.url, max_retries=0)
        turn1 = [
            {
                "role": "user",
                "content": f"Hi, my name is Jane Roe. Mail me at {EMAIL} or call {PHONE}. "
                f"My card is {CARD}. Our key is {PLANTED_KEY}.",
            }
        ]
        # 1. streamed; note when the first event and the end of the stream reach the client
        t_send = time.monotonic()
        first_event = first_delta = None
        with client.messages.create(model=MODEL, max_tokens=200, messages=turn1, stream=True) as stream:
            for event in stream:
                now = time.monotonic() - t_send
                first_event = now if first_event is None else first_event
                if event.type == "content_block_delta" and first_delta is None:
                    first_delta = now
        seen["client_first_event_s"] = first_event
        seen["client_first_delta_s"] = first_delta
        seen["client_end_s"] = time.monotonic() - t_send
        # 2. non-streamed second turn repeating the email
        answer = client.messages.create(model=MODEL, max_tokens=50, messages=turn1)
        turn2 = [
            *turn1,
            {"role": "assistant", "content": answer.content[0].text},
            {"role": "user", "content": f"Again: {EMAIL}, cc {OTHER_EMAIL}."},
        ]
        client.messages.create(model=MODEL, max_tokens=50, messages=turn2)
        # 3. a tool call and its result carrying PII
        tool_msg = client.messages.create(
            model=MODEL,
            max_tokens=100,
            tools=[WEATHER_TOOL],
            tool_choice={"type": "tool", "name": "get_weather"},
            messages=[{"role": "user", "content": f"Weather for {EMAIL}'s city?"}],
        )
        tool_use = next(b for b in tool_msg.content if b.type == "tool_use")
        seen["tool_use_id"] = tool_use.id
        client.messages.create(
            model=MODEL,
            max_tokens=50,
            tools=[WEATHER_TOOL],
            messages=[
                {"role": "user", "content": f"Weather for {EMAIL}'s city?"},
                {"role": "assistant", "content": [tool_use.model_dump()]},
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": tool_use.id, "content": f"Sunny. Owner {EMAIL}, {PHONE}"}
                    ],
                },
            ],
        )
        # 4. a 429, passed through with its headers
        with pytest.raises(anthropic.RateLimitError) as err:
            client.messages.create(
                model=MODEL, max_tokens=10, messages=turn1, extra_headers={"x-mockclaude-fault": "429"}
            )
        seen["429_headers"] = dict(err.value.response.headers)
        # 5. count_tokens
        seen["count"] = client.messages.count_tokens(model=MODEL, messages=turn1).input_tokens
        # 6. two more streams, so TTFT is judged on a median rather than on one sample
        for question in ("How are you?", "What is new?"):
            with client.messages.stream(
                model=MODEL, max_tokens=50, messages=[{"role": "user", "content": question}]
            ) as s:
                s.get_final_text()
        seen["exchanges"] = stop_and_read(proxy, out)
        seen["proxy_output"] = proxy.output()
    seen["out"] = out
    return seen


def test_every_exchange_is_recorded(session: dict[str, Any]) -> None:
    exchanges = session["exchanges"]
    paths = [e["request"]["path"] for e in exchanges]
    assert paths == ["/v1/messages"] * 6 + ["/v1/messages/count_tokens"] + ["/v1/messages"] * 2
    assert [e["response"]["status"] for e in exchanges] == [200, 200, 200, 200, 200, 429, 200, 200, 200]
    assert [e["seq"] for e in exchanges] == list(range(9))
    streamed = exchanges[0]
    assert streamed["response"]["events"][0]["event"] == "message_start"
    assert streamed["response"]["events"][-1]["event"] == "message_stop"
    assert streamed["usage"]["output_tokens"] == 30
    assert streamed["estimates"]["input_tokens"] > 20
    assert all(e["response"]["body"] is None for e in exchanges[:1])
    assert exchanges[1]["response"]["body"]["type"] == "message"
    assert exchanges[6]["usage"] == {"input_tokens": session["count"]}
    starts = [e["started_s"] for e in exchanges]
    assert starts == sorted(starts) and starts[-1] - starts[0] > TTFT_S
    assert exchanges[0]["request"]["match_key"].startswith("sha256:")


def test_secrets_and_pii_never_reach_disk(session: dict[str, Any]) -> None:
    raw = session["out"].read_text()
    planted_values = (PLANTED_KEY, "PLANTEDplanted", EMAIL, OTHER_EMAIL, "megacorp", PHONE, "555-0142", CARD)
    for planted in (*planted_values, CARD.replace(" ", "")):
        assert planted not in raw, planted
    assert "Jane" not in raw and "Roe" not in raw
    for ex in session["exchanges"]:
        assert set(ex["request"]["headers"]) <= REQUEST_HEADERS
    assert "[REDACTED]" in json.dumps(session["exchanges"][0]["request"]["body"])
    key_file = Path(f"{session['out']}.key")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() not in raw
    scan = cli("fixtures", "scan", str(session["out"]))
    assert scan.returncode == 0, scan.stdout


def _emails(text: str) -> list[str]:
    return re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", text)


def test_same_email_same_pseudonym_across_turns(session: dict[str, Any]) -> None:
    ex = session["exchanges"]
    first = _emails(ex[0]["request"]["body"]["messages"][0]["content"])
    assert len(first) == 1
    fake = first[0]
    assert fake.endswith(("@example.com", "@example.org", "@example.net"))
    assert abs(len(fake) - len(EMAIL)) <= 2
    turn2 = ex[2]["request"]["body"]["messages"]
    assert _emails(turn2[0]["content"]) == [fake]
    again = _emails(turn2[2]["content"])
    assert again[0] == fake and again[1] != fake
    # tool input request and tool_result content
    assert _emails(ex[3]["request"]["body"]["messages"][0]["content"]) == [fake]
    result = ex[4]["request"]["body"]["messages"][2]["content"][0]
    assert result["type"] == "tool_result" and _emails(result["content"]) == [fake]
    assert ex[2]["conversation"]["id"] == ex[0]["conversation"]["id"] and ex[2]["conversation"]["turn"] == 2


def test_tool_call_recorded(session: dict[str, Any]) -> None:
    body = session["exchanges"][3]["response"]["body"]
    block = next(b for b in body["content"] if b["type"] == "tool_use")
    assert block["name"] == "get_weather" and block["id"] == session["tool_use_id"]
    assert isinstance(block["input"].get("city"), str)
    assert body["stop_reason"] == "tool_use"


def test_429_passed_through_with_headers(upstream: Proc, session: dict[str, Any]) -> None:
    headers = session["429_headers"]
    assert "retry-after" in headers and headers.get("x-should-retry") == "true"
    direct = httpx2.post(
        f"{upstream.url}/v1/messages",
        json={"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": "sk-ant-x", "anthropic-version": "2023-06-01", "x-mockclaude-fault": "429"},
    )
    assert direct.status_code == 429
    assert set(headers) == set(direct.headers)  # the proxy adds and drops no header
    rec = session["exchanges"][5]["response"]
    assert rec["headers"]["retry-after"] == headers["retry-after"]
    assert rec["body"]["error"]["type"] == "rate_limit_error"


def test_stream_is_teed_not_buffered_and_ttft_matches(session: dict[str, Any]) -> None:
    streamed = session["exchanges"][0]
    total_s = streamed["timing"]["total_ms"] / 1000
    # 30 tokens at 40/s: the stream lasts ~0.75 s after the first token; the client saw the first
    # event (message_start) and the first delta long before the upstream finished.
    assert session["client_first_event_s"] < total_s - 0.5
    assert session["client_first_delta_s"] < total_s - 0.5
    ttfts = [ex["timing"]["ttft_ms"] for ex in session["exchanges"] if ex["response"]["events"]]
    assert len(ttfts) == 3 and abs(statistics.median(ttfts) - TTFT_S * 1000) <= 20, ttfts
    offsets = [e["t_ms"] for e in streamed["response"]["events"]]
    assert offsets == sorted(offsets) and offsets[-1] - offsets[0] > 600


def test_fixture_tools_accept_the_recording(session: dict[str, Any]) -> None:
    path = str(session["out"])
    validate = cli("fixtures", "validate", path)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    stats = cli("fixtures", "stats", "--json", path)
    assert stats.returncode == 0, stats.stderr
    data = json.loads(stats.stdout)
    assert data["exchanges"] == 9
    assert data["status_codes"] == {"200": 8, "429": 1}
    assert data["models"] == {MODEL: 9}
    assert abs(data["ttft_ms"]["p50"] - TTFT_S * 1000) <= 20
    assert read_header(path)["anonymization"]["mode"] == "pii"


def test_shape_mode_keeps_no_text(upstream: Proc, tmp_path: Path) -> None:
    out = tmp_path / "shape.jsonl"
    with record(upstream.url, out, "--anonymize", "shape") as proxy:
        client = anthropic.Anthropic(api_key=PLANTED_KEY, base_url=proxy.url, max_retries=0)
        prompt = f"Tell {EMAIL} a short story about lighthouses"
        with client.messages.stream(model=MODEL, max_tokens=100, messages=[{"role": "user", "content": prompt}]) as s:
            text = s.get_final_text()
        exchanges = stop_and_read(proxy, out)
    raw = out.read_text()
    assert "lighthouses" not in raw and text[:12] not in raw and EMAIL not in raw
    (ex,) = exchanges
    assert ex["request"]["body"]["messages"][0]["role"] == "user"
    assert ex["request"]["body"]["messages"][0]["content"] == {"$tokens": count_text(prompt)}
    deltas = [e["data"]["delta"] for e in ex["response"]["events"] if e["event"] == "content_block_delta"]
    assert deltas and all(set(d["text"]) == {"$tokens"} for d in deltas)
    assert sum(d["text"]["$tokens"] for d in deltas) == pytest.approx(ex["estimates"]["output_tokens"], abs=3)


def test_off_mode_keeps_text_but_never_keys(upstream: Proc, tmp_path: Path) -> None:
    out = tmp_path / "off.jsonl"
    with record(upstream.url, out, "--anonymize", "off") as proxy:
        client = anthropic.Anthropic(api_key=PLANTED_KEY, base_url=proxy.url, max_retries=0)
        prompt = f"{EMAIL} {PLANTED_KEY}"
        client.messages.create(model=MODEL, max_tokens=20, messages=[{"role": "user", "content": prompt}])
        stop_and_read(proxy, out)
    raw = out.read_text()
    assert EMAIL in raw and PLANTED_KEY not in raw
    scan = cli("fixtures", "scan", str(out))
    assert scan.returncode == 1 and "email" in scan.stdout and EMAIL not in scan.stdout


def _stream_error(base_url: str) -> type[BaseException]:
    """The exception a client gets when the upstream drops a stream after a few deltas."""
    client = anthropic.Anthropic(api_key="sk-ant-x", base_url=base_url, max_retries=0)
    try:
        with client.messages.create(
            model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "hi"}], stream=True,
            extra_headers={"x-mockclaude-fault": "disconnect"},
        ) as stream:  # fmt: skip
            for _ in stream:
                pass
    except Exception as exc:
        return type(exc)
    raise AssertionError("the stream did not fail")


def test_midstream_disconnect_reaches_client_and_fixture(upstream: Proc, tmp_path: Path) -> None:
    out = tmp_path / "faults.jsonl"
    with record(upstream.url, out) as proxy:
        through_proxy = _stream_error(proxy.url)
        exchanges = stop_and_read(proxy, out)
    assert through_proxy is _stream_error(upstream.url)
    (ex,) = exchanges
    assert ex["response"]["status"] == 200
    assert ex["response"]["error"]["kind"] == "disconnect"
    assert ex["response"]["events"][0]["event"] == "message_start"


def test_refused_upstream_gives_502_and_error_record(tmp_path: Path) -> None:
    out = tmp_path / "dead.jsonl"
    dead = "http://127.0.0.1:9"  # discard port: nothing listens there
    with record(dead, out) as proxy:
        client = anthropic.Anthropic(api_key="sk-ant-x", base_url=proxy.url, max_retries=0)
        with pytest.raises(anthropic.APIStatusError) as err:
            client.messages.create(model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "hi"}])
        assert err.value.status_code == 502
        exchanges = stop_and_read(proxy, out)
    # mitmproxy's per-connection chatter is off (it costs the proxy time), its errors are not.
    assert "error establishing server connection" in proxy.output()
    assert "client connect" not in proxy.output()
    (ex,) = exchanges
    assert ex["response"]["status"] is None
    assert ex["response"]["error"]["kind"] == "upstream"
    assert ex["request"]["body"]["messages"][0]["content"] == "hi"


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_concurrent_streams_each_recorded_whole(upstream: Proc, tmp_path: Path, loop: str) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop", reason="uvloop is the optional extra `speed`")
    out = tmp_path / "concurrent.jsonl"
    with record(upstream.url, out, *(["--uvloop"] if loop == "uvloop" else [])) as proxy:
        client = anthropic.Anthropic(api_key="sk-ant-x", base_url=proxy.url, max_retries=0)

        def ask(i: int) -> tuple[str, float]:
            """The answer, and how long before the stream's end its first text reached the client."""
            prompt = [{"role": "user", "content": f"question number {i}"}]
            with client.messages.stream(model=MODEL, max_tokens=50, messages=prompt) as stream:
                next(iter(stream.text_stream))
                first = time.monotonic()
                text = stream.get_final_text()
            return text, time.monotonic() - first

        with ThreadPoolExecutor(6) as pool:
            answers, leads = zip(*pool.map(ask, range(6)), strict=True)
        # streamed, not buffered: 30 tokens at 40/s, so the first text came ~0.7 s before the end
        assert min(leads) > 0.4, leads
        cmdline = Path(f"/proc/{proxy.popen.pid}/cmdline").read_bytes()
        assert (b"uvloop.EventLoopPolicy()" in cmdline) == (loop == "uvloop")
        exchanges = stop_and_read(proxy, out)
    assert len(exchanges) == 6 and all(answers)
    assert sorted(e["request"]["body"]["messages"][0]["content"] for e in exchanges) == [
        f"question number {i}" for i in range(6)
    ]
    for ex in exchanges:
        assert ex["response"]["events"][-1]["event"] == "message_stop" and ex["response"]["error"] is None
        assert ex["usage"]["output_tokens"] == 30


def test_a_killed_recorder_keeps_every_finished_exchange(upstream: Proc, tmp_path: Path) -> None:
    out = tmp_path / "crash.jsonl"
    with record(upstream.url, out) as proxy:
        client = anthropic.Anthropic(api_key="sk-ant-x", base_url=proxy.url, max_retries=0)
        for i in range(3):
            client.messages.create(model=MODEL, max_tokens=5, messages=[{"role": "user", "content": f"q{i}"}])
        time.sleep(0.5)  # the worker thread writes each record right after its response
        os.killpg(proxy.popen.pid, signal.SIGKILL)
        proxy.popen.wait(10)
    assert [e["seq"] for e in iter_exchanges(out)] == [0, 1, 2]


def test_record_rejects_bad_flags(tmp_path: Path) -> None:
    run = cli("record", "--upstream", "ftp://x", "--out", str(tmp_path / "f.jsonl"))
    assert run.returncode == 2 and "--upstream" in run.stderr
    not_a_fixture = tmp_path / "notes.jsonl"
    not_a_fixture.write_text('{"my": "data"}\n')
    run = cli("record", "--upstream", "http://127.0.0.1:9", "--out", str(not_a_fixture))
    assert run.returncode == 2 and f"{not_a_fixture}:1: not a mockclaude fixture" in run.stderr
    assert not_a_fixture.read_text() == '{"my": "data"}\n'  # never touched


def test_https_upstream(upstream: Proc, tmp_path: Path) -> None:
    """The real API is HTTPS: put a TLS-terminating mitmdump (its own CA) in front of the mock."""
    confdir = tmp_path / "mitm"
    front_argv = [sys.executable, "-c", "from mitmproxy.tools.main import mitmdump; mitmdump()", "--mode",
                  f"reverse:{upstream.url}@127.0.0.1:0", "--set", f"confdir={confdir}", "--set", "flow_detail=0",
                  "--set", "stream_large_bodies=1"]  # fmt: skip
    with run_process(front_argv, ready=re.compile(r"listening at 127\.0\.0\.1:(\d+)"), timeout=60) as front:
        out = tmp_path / "tls.jsonl"
        ca = f"ssl_verify_upstream_trusted_ca={confdir / 'mitmproxy-ca-cert.pem'}"
        with record(f"https://127.0.0.1:{front.url}", out, "--set", ca, "--set", f"confdir={confdir}") as proxy:
            client = anthropic.Anthropic(api_key=PLANTED_KEY, base_url=proxy.url, max_retries=0)
            with client.messages.stream(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": EMAIL}]) as s:
                assert s.get_final_text()
            (ex,) = stop_and_read(proxy, out)
    assert ex["response"]["status"] == 200 and ex["response"]["events"][-1]["event"] == "message_stop"
    # includes the TLS handshake with the front on a fresh connection
    assert TTFT_S * 1000 - 5 <= ex["timing"]["ttft_ms"] <= TTFT_S * 1000 + 150
    assert EMAIL not in out.read_text() and PLANTED_KEY not in out.read_text()
