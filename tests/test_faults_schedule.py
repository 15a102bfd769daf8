"""The faults added for client resilience tests, on the wire and through the SDK: truncate, stall,
slow-headers, outage windows and acceleration limits."""

import http.client
import json
import time
import urllib.request
from urllib.parse import urlsplit

import anthropic
import pytest

from mockclaude.limits.acceleration import AccelerationSpec
from mockclaude.limits.faults import Outage
from mockclaude.processes import mock_server

MODEL = "claude-sonnet-4-6"
HEADERS = {"x-api-key": "sk-ant-wire", "anthropic-version": "2023-06-01", "content-type": "application/json"}


def ask(i: int = 0, stream: bool = True) -> dict:
    return {"model": MODEL, "max_tokens": 100, "stream": stream, "messages": [{"role": "user", "content": f"q{i}"}]}


def post(url: str, body: dict, fault: str) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection, float]:
    """Send on a raw connection; the response (headers read) and when the status line came."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    start = time.monotonic()
    conn.request("POST", "/v1/messages", body=json.dumps(body), headers={**HEADERS, "x-mockclaude-fault": fault})
    resp = conn.getresponse()
    return resp, conn, time.monotonic() - start


def events(data: bytes) -> list[str]:
    return [line[len("event: "):] for line in data.decode().splitlines() if line.startswith("event: ")]


def test_truncate_ends_the_stream_cleanly_without_message_stop() -> None:
    with mock_server("--ttft", "0", "--tps", "500", "--output-tokens", "40") as mock:
        resp, conn, _ = post(mock.url, ask(), "truncate")
        body = resp.read()  # a clean end of the chunked body: no IncompleteRead
        conn.close()
        names = events(body)
        assert resp.status == 200 and names[0] == "message_start" and "content_block_delta" in names
        assert "message_stop" not in names and "message_delta" not in names and "error" not in names
        # The SDK does not notice: it hands back a message with no stop_reason. Clients must check.
        sdk = anthropic.Anthropic(base_url=mock.url, api_key="sk-ant-x", max_retries=0)
        with sdk.messages.stream(**{k: v for k, v in ask(1).items() if k != "stream"},
                                 extra_headers={"x-mockclaude-fault": "truncate"}) as s:
            message = s.get_final_message()
        assert message.stop_reason is None
        # Non-streamed: half the JSON body, cleanly ended; the SDK fails to parse it.
        resp, conn, _ = post(mock.url, ask(2, stream=False), "truncate")
        with pytest.raises(json.JSONDecodeError):
            json.loads(resp.read())
        conn.close()


def test_stall_holds_the_line_silent_then_cuts_it() -> None:
    with mock_server("--ttft", "0", "--tps", "500", "--output-tokens", "40", "--stall-seconds", "1") as mock:
        resp, conn, _ = post(mock.url, ask(), "stall")
        start = time.monotonic()
        with pytest.raises(http.client.IncompleteRead) as cut:
            resp.read()
        assert time.monotonic() - start >= 0.9
        conn.close()
        assert "content_block_delta" in events(cut.value.partial) and "message_stop" not in events(cut.value.partial)


def test_slow_headers_delays_the_status_line_then_answers() -> None:
    with mock_server("--ttft", "0", "--tps", "500", "--output-tokens", "5", "--slow-headers-seconds", "0.8") as mock:
        resp, conn, status_after = post(mock.url, ask(stream=False), "slow-headers")
        assert resp.status == 200 and json.loads(resp.read())["type"] == "message"
        conn.close()
        assert status_after >= 0.75
        sdk = anthropic.Anthropic(base_url=mock.url, api_key="sk-ant-x", max_retries=0, timeout=0.3)
        with pytest.raises(anthropic.APITimeoutError):
            sdk.messages.create(**ask(stream=False), extra_headers={"x-mockclaude-fault": "slow-headers"})


def test_a_late_json_answer_counts_in_the_mocks_lateness_report() -> None:
    # slow-headers holds the answer past its schedule (which counts from the arrival): the mock's own
    # report must say so, as it does for late SSE frames; an answer on time counts as a timed write.
    with mock_server("--ttft", "0", "--tps", "500", "--output-tokens", "5", "--slow-headers-seconds", "0.4") as mock:
        for fault in ("none", "slow-headers"):
            resp, conn, _ = post(mock.url, ask(stream=False), fault)
            assert resp.status == 200 and json.loads(resp.read())["type"] == "message"
            conn.close()
        stats = json.loads(urllib.request.urlopen(mock.url + "/_mockclaude/stats").read())
        assert stats["frames"] == 2 and stats["late_frames"] == 1, stats
        assert 0.35 <= stats["max_lateness_s"] < 5, stats
        metrics = urllib.request.urlopen(mock.url + "/metrics").read().decode()
        assert "mockclaude_frame_lateness_seconds_count 2.0" in metrics


def test_outage_window_fails_every_request_inside_it() -> None:
    with mock_server("--ttft", "0", "--tps", "2000", "--output-tokens", "5", "--outage", "529@0-1.5s") as mock:
        urllib.request.urlopen(urllib.request.Request(mock.url + "/_mockclaude/reset", method="POST")).read()
        sdk = anthropic.Anthropic(base_url=mock.url, api_key="sk-ant-x", max_retries=0)
        body = ask(stream=False)
        del body["stream"]
        for _ in range(3):
            with pytest.raises(anthropic.OverloadedError):
                sdk.messages.create(**body)
        time.sleep(1.6)
        assert sdk.messages.create(**body).type == "message"
        # A client with its default retries rides out a short outage.
        urllib.request.urlopen(urllib.request.Request(mock.url + "/_mockclaude/reset", method="POST")).read()
        patient = anthropic.Anthropic(base_url=mock.url, api_key="sk-ant-y", max_retries=4)
        assert patient.messages.create(**body).type == "message"


def test_acceleration_limit_refuses_a_sharp_ramp_with_the_docs_words() -> None:
    with mock_server("--ttft", "0", "--tps", "2000", "--output-tokens", "5", "--acceleration-limit", "2x,3rpm") as mock:
        sdk = anthropic.Anthropic(base_url=mock.url, api_key="sk-ant-ramp", max_retries=0)
        body = {k: v for k, v in ask(stream=False).items() if k != "stream"}
        for _ in range(3):
            sdk.messages.create(**body)
        with pytest.raises(anthropic.RateLimitError) as err:
            sdk.messages.create(**body)
        assert "acceleration limit" in err.value.message
        assert "ramp up your traffic gradually" in err.value.message.lower()
        assert int(err.value.response.headers["retry-after"]) >= 1
        other = anthropic.Anthropic(base_url=mock.url, api_key="sk-ant-other", max_retries=0)
        assert other.messages.create(**body).type == "message"  # per key


def test_flag_parsing_names_the_problem() -> None:
    assert Outage.parse("529@30s-1m") == Outage("529", 30.0, 60.0)
    with pytest.raises(ValueError, match="must end after it starts"):
        Outage.parse("529@60-30")
    with pytest.raises(ValueError, match="unknown kind"):
        Outage.parse("boom@0-1")
    assert AccelerationSpec.parse("3x") == AccelerationSpec(3.0, 60)
    with pytest.raises(ValueError, match="FACTOR > 1"):
        AccelerationSpec.parse("1x")
