"""The real `anthropic` SDK against a real `mockclaude serve` process: it must not tell the difference."""

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import jsonschema
import pytest
import referencing
import yaml

from mockclaude.processes import Proc, mock_server

MODEL = "claude-sonnet-4-6"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "minLength": 1},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
            "where": {
                "type": "object",
                "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                "required": ["lat", "lon"],
            },
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
        },
        "required": ["city", "unit", "where", "tags"],
    },
}


@pytest.fixture(scope="module")
def fast() -> Iterator[Proc]:
    """A mock with quick timing, for everything but the pacing checks."""
    with mock_server("--ttft", "0.02", "--tps", "2000", "--output-tokens", "5-40", "--seed", "1") as p:
        yield p


def client(p: Proc, **kw: Any) -> anthropic.Anthropic:
    """The sync SDK pointed at the mock."""
    return anthropic.Anthropic(api_key="sk-ant-test", base_url=p.url, **kw)


def _drop_null_types(node: Any) -> Any:
    """The spec writes `type: null` beside `anyOf` (an OpenAPI-generator quirk); JSON Schema needs it absent."""
    if isinstance(node, dict):
        return {k: _drop_null_types(v) for k, v in node.items() if not (k == "type" and v is None)}
    if isinstance(node, list):
        return [_drop_null_types(v) for v in node]
    return node


@pytest.fixture(scope="module")
def message_schema(reference_dir: Path) -> jsonschema.protocols.Validator:
    """A validator for the Message schema of the 2024 OpenAPI spec."""
    spec = _drop_null_types(yaml.safe_load((reference_dir / "anthropic-openapi-2024-11.yaml").read_text()))
    resource = referencing.Resource.from_contents(spec, default_specification=referencing.jsonschema.DRAFT202012)
    registry = referencing.Registry().with_resource("urn:spec", resource)
    return jsonschema.Draft202012Validator({"$ref": "urn:spec#/components/schemas/Message"}, registry=registry)


def test_create_nonstreaming_matches_schema(fast: Proc, message_schema: jsonschema.protocols.Validator) -> None:
    raw = client(fast).messages.with_raw_response.create(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Hello"}]
    )
    message_schema.validate(json.loads(raw.http_response.text))  # the bytes on the wire, not the SDK's model
    msg = raw.parse()
    assert msg.id.startswith("msg_") and len(msg.id) == 28
    assert msg._request_id and msg._request_id.startswith("req_")
    assert msg.content[0].type == "text" and msg.content[0].text
    assert msg.stop_reason in ("end_turn", "max_tokens")
    assert 5 <= msg.usage.output_tokens <= 40


def test_raw_wire_format(fast: Proc) -> None:
    raw = client(fast).messages.with_raw_response.create(
        model=MODEL, max_tokens=32, messages=[{"role": "user", "content": "Hi"}]
    )
    assert raw.headers["content-type"].startswith("application/json")
    assert raw.headers["request-id"].startswith("req_")
    assert raw.headers["anthropic-organization-id"]
    for h in ("requests", "tokens", "input-tokens", "output-tokens"):
        for part in ("limit", "remaining", "reset"):
            assert f"anthropic-ratelimit-{h}-{part}" in raw.headers


def test_async_client(fast: Proc) -> None:
    async def go() -> list[str]:
        async with anthropic.AsyncAnthropic(api_key="k", base_url=fast.url) as c:
            msgs = await asyncio.gather(
                *[
                    c.messages.create(model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "x"}])
                    for _ in range(5)
                ]
            )
        return [m.id for m in msgs]

    ids = asyncio.run(go())
    assert len(set(ids)) == 5


def test_stream_helpers(fast: Proc) -> None:
    with client(fast).messages.stream(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Tell me a story"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.content[0].text == text
    assert final.usage.output_tokens >= 5 and final.usage.input_tokens > 0
    assert final.stop_reason in ("end_turn", "max_tokens")


def test_raw_stream_events(fast: Proc) -> None:
    events = list(
        client(fast).messages.create(
            model=MODEL, max_tokens=64, stream=True, messages=[{"role": "user", "content": "Hi"}]
        )
    )
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert kinds[1] == "content_block_start" and "content_block_delta" in kinds
    assert kinds[-2] == "message_delta" and events[-2].usage.output_tokens >= 5
    assert events[0].message.usage.input_tokens > 0


def test_sse_bytes_on_the_wire(fast: Proc) -> None:
    with client(fast).messages.with_streaming_response.create(
        model=MODEL, max_tokens=16, stream=True, messages=[{"role": "user", "content": "Hi"}]
    ) as resp:
        assert resp.headers["content-type"] == "text/event-stream; charset=utf-8"
        body = b"".join(resp.iter_bytes()).decode()
    frames = [f for f in body.split("\n\n") if f]
    for f in frames:
        event, data = f.split("\n")
        assert event.startswith("event: ") and data.startswith("data: ")
        assert json.loads(data[6:])["type"] == event[7:]
    assert 'event: ping\ndata: {"type": "ping"}' in body


def _weather_client_call(c: anthropic.Anthropic, stream: bool) -> Any:
    kw = dict(
        model=MODEL,
        max_tokens=400,
        tools=[WEATHER_TOOL],
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    if stream:
        with c.messages.stream(**kw) as s:
            partial = [e for e in s if e.type == "input_json"]
            return s.get_final_message(), partial
    return c.messages.create(**kw), []


@pytest.mark.parametrize("stream", [False, True])
def test_forced_tool_use_is_schema_valid(fast: Proc, stream: bool) -> None:
    msg, partial = _weather_client_call(client(fast), stream)
    uses = [b for b in msg.content if b.type == "tool_use"]
    assert uses and msg.stop_reason == "tool_use"
    assert uses[0].id.startswith("toolu_") and uses[0].name == "get_weather"
    jsonschema.validate(uses[0].input, WEATHER_TOOL["input_schema"])
    if stream:
        assert len(partial) >= 2  # streamed as input_json_delta fragments


def test_count_tokens_matches_usage(fast: Proc) -> None:
    c = client(fast)
    kw: dict[str, Any] = dict(
        model=MODEL,
        system="You are terse.",
        tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "What is the weather like in Lisbon today? " * 20}],
    )
    counted = c.messages.count_tokens(**kw).input_tokens
    used = c.messages.create(max_tokens=16, **kw).usage.input_tokens
    assert counted == used > 200


def test_models_list_and_retrieve(fast: Proc) -> None:
    c = client(fast)
    all_ids = [m.id for m in c.models.list(limit=2)]  # auto-pagination walks every page
    assert len(all_ids) == len(set(all_ids)) >= 3
    one = c.models.retrieve(all_ids[0])
    assert one.id == all_ids[0] and one.display_name
    with pytest.raises(anthropic.NotFoundError):
        c.models.retrieve("claude-does-not-exist")


def test_error_classes(fast: Proc) -> None:
    c = client(fast, max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as e:
        c.messages.create(model=MODEL, max_tokens=10, messages=[])
    assert e.value.body["error"]["message"] == "messages: at least one message is required"
    assert e.value.request_id and e.value.request_id.startswith("req_")
    with pytest.raises(anthropic.NotFoundError):
        c.messages.create(model="claude-nope", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    for kind, cls in (
        ("429", anthropic.RateLimitError),
        ("529", anthropic.OverloadedError),
        ("500", anthropic.InternalServerError),
    ):
        with pytest.raises(cls):
            c.messages.create(
                model=MODEL,
                max_tokens=10,
                messages=[{"role": "user", "content": "x"}],
                extra_headers={"x-mockclaude-fault": kind},
            )


def test_midstream_error_raises_api_status_error(fast: Proc) -> None:
    c = client(fast, max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as e, c.messages.stream(
        model=MODEL,
        max_tokens=64,
        messages=[{"role": "user", "content": "x"}],
        extra_headers={"x-mockclaude-fault": "midstream"},
    ) as s:
        s.get_final_message()
    assert e.value.status_code == 200 and e.value.body["error"]["type"] == "overloaded_error"


def test_disconnect_mid_stream_and_before_a_json_answer(fast: Proc) -> None:
    c = client(fast, max_retries=0)
    kw: dict[str, Any] = dict(
        model=MODEL,
        max_tokens=64,
        messages=[{"role": "user", "content": "x"}],
        extra_headers={"x-mockclaude-fault": "disconnect"},
    )
    got: list[str] = []
    # Mid-stream, SDKs up to 2.12 let httpx2's RemoteProtocolError surface; newer ones (2.17) wrap it in an
    # APIConnectionError. Either way the cause is the connection dropping mid-body.
    with (
        pytest.raises((httpx2.RemoteProtocolError, anthropic.APIConnectionError)) as dropped,
        c.messages.stream(**kw) as s,
    ):
        got.extend(s.text_stream)
    assert isinstance(dropped.value, httpx2.RemoteProtocolError) or isinstance(
        dropped.value.__cause__, httpx2.RemoteProtocolError
    )
    assert got, "the connection dropped before any text arrived"
    with pytest.raises(anthropic.APIConnectionError):
        c.messages.create(**kw)


def test_authentication() -> None:
    with mock_server("--api-key", "sk-ant-good", "--ttft", "0", "--tps", "1000") as p:
        with pytest.raises(anthropic.AuthenticationError) as e:
            anthropic.Anthropic(api_key="sk-ant-bad", base_url=p.url, max_retries=0).messages.create(
                model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "x"}]
            )
        assert e.value.body["error"]["message"] == "invalid x-api-key"
        ok = anthropic.Anthropic(api_key="sk-ant-good", base_url=p.url).messages.create(
            model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
        assert ok.content


def test_sdk_honours_retry_after_from_rate_limiter() -> None:
    # 60 rpm: a full bucket of 60, refilled at one request per second.
    with mock_server("--rate-limit", "60rpm", "--ttft", "0", "--tps", "5000", "--output-tokens", "1") as p:
        c = client(p, max_retries=0)
        for _ in range(60):
            c.messages.create(model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "x"}])
        with pytest.raises(anthropic.RateLimitError) as e:
            c.messages.create(model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "x"}])
        assert e.value.response.headers["retry-after"] == "1"
        assert e.value.response.headers["x-should-retry"] == "true"
        assert "requests per minute" in e.value.body["error"]["message"]
        start = time.monotonic()
        msg = client(p, max_retries=2).messages.create(
            model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
        assert msg.content and time.monotonic() - start >= 0.9


def test_pacing_ttft_and_tps_within_10_percent() -> None:
    with mock_server("--ttft", "0.5", "--tps", "40", "--output-tokens", "60", "--prefill-tps", "1e9") as p:
        c = client(p)
        start = time.monotonic()
        times = []
        with c.messages.stream(model=MODEL, max_tokens=200, messages=[{"role": "user", "content": "x"}]) as s:
            for e in s:
                if e.type == "content_block_delta":
                    times.append(time.monotonic() - start)
            final = s.get_final_message()
    ttft = times[0]
    tps = (final.usage.output_tokens - 1) / (times[-1] - times[0])
    assert final.usage.output_tokens == 60
    assert abs(ttft - 0.5) <= 0.05, ttft
    assert abs(tps - 40) <= 4, tps
