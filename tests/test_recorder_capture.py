"""From raw observations to a fixture record: encodings, timing, usage, query strings, errors."""

import gzip
import json
import zlib
from typing import Any

from mockclaude.fixtures.capture import Capture, build_exchange, is_recorded
from mockclaude.fixtures.format import match_key, validate_exchange
from mockclaude.privacy.anonymize import Anonymizer
from mockclaude.privacy.pseudonyms import Pseudonymizer
from mockclaude.wire.sse import encode_event

ANON = Anonymizer("pii", Pseudonymizer(bytes(32)))
REQUEST = {"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "Mail jo@corp.com please"}]}
EVENTS: list[dict[str, Any]] = [
    {
        "type": "message_start",
        "message": {"id": "msg_1", "content": [], "usage": {"input_tokens": 12, "output_tokens": 1}},
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Sure, jo@corp"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": ".com it is."}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 7}},
    {"type": "message_stop"},
]


def capture(path: str = "/v1/messages", **kw: Any) -> Capture:
    """A capture whose request started at t=10.0 s (monotonic) and 1000.0 s (wall clock)."""
    return Capture(
        method="POST",
        path=path,
        request_headers=[("Content-Type", "application/json"), ("X-Api-Key", "sk-ant-api03-zzzzzzzzzzzzzzzz")],
        t0=10.0,
        started_wall=1000.0,
        request_body=json.dumps(REQUEST).encode(),
        **kw,
    )


def test_recorded_paths() -> None:
    assert is_recorded("/v1/messages") and is_recorded("/v1/messages?beta=true")
    assert is_recorded("/v1/messages/count_tokens")
    assert not is_recorded("/v1/models") and not is_recorded("/v1/messages/batches")


def test_gzip_stream_keeps_per_chunk_timing() -> None:
    raw = [encode_event(e) for e in EVENTS]
    comp = zlib.compressobj(wbits=31)
    # Each event in its own chunk, flushed so it can be decoded as it arrives.
    chunks = [(10.1 + i * 0.1, comp.compress(r) + comp.flush(zlib.Z_SYNC_FLUSH)) for i, r in enumerate(raw)]
    chunks[-1] = (chunks[-1][0], chunks[-1][1] + comp.flush())
    cap = capture(
        status=200,
        response_headers=[("content-type", "text/event-stream"), ("content-encoding", "gzip"), ("request-id", "r1")],
        t_headers=10.05,
        chunks=chunks,
        t_end=10.8,
    )
    ex = build_exchange(cap, ANON, seq=4, session_start=990.0)
    assert validate_exchange(ex) == []
    assert ex["seq"] == 4 and ex["started_s"] == 10.0
    assert [e["t_ms"] for e in ex["response"]["events"]] == [100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0]
    assert ex["timing"] == {"ttfb_ms": 50.0, "ttft_ms": 300.0, "total_ms": 700.0}
    assert ex["usage"] == {"input_tokens": 12, "output_tokens": 7}
    assert ex["estimates"]["output_tokens"] > 0 and ex["estimates"]["input_tokens"] > 0
    text = "".join(e["data"]["delta"]["text"] for e in ex["response"]["events"] if e["event"] == "content_block_delta")
    assert "corp.com" not in text and text.startswith("Sure, ") and text.endswith(" it is.")
    assert ex["request"]["headers"] == {"content-type": "application/json"}
    assert ex["response"]["headers"] == {"content-type": "text/event-stream", "request-id": "r1"}
    assert ex["request"]["match_key"] == match_key(ex["request"]["body"])
    assert "corp.com" not in json.dumps(ex["request"]["body"])


def test_gzip_json_body_and_query_string() -> None:
    body = {
        "type": "message",
        "content": [{"type": "text", "text": "ok"}],
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }
    cap = capture(
        path="/v1/messages?beta=true&contact=ann@corp.com",
        status=200,
        response_headers=[("content-type", "application/json"), ("content-encoding", "gzip")],
        t_headers=10.2,
        chunks=[(10.25, gzip.compress(json.dumps(body).encode()))],
    )
    ex = build_exchange(cap, ANON, seq=0, session_start=1000.0)
    assert ex["response"]["body"] == body and ex["response"]["events"] is None
    assert ex["timing"]["ttft_ms"] is None and ex["usage"] == body["usage"]
    path = ex["request"]["path"]
    assert path.startswith("/v1/messages?beta=true&contact=") and "corp.com" not in path


def test_count_tokens_usage() -> None:
    cap = capture(
        path="/v1/messages/count_tokens",
        status=200,
        response_headers=[("content-type", "application/json")],
        chunks=[(10.01, b'{"input_tokens": 42}')],
    )
    ex = build_exchange(cap, ANON, seq=0, session_start=1000.0)
    assert ex["usage"] == {"input_tokens": 42} and "conversation" not in ex


def test_error_kinds() -> None:
    refused = build_exchange(capture(error="Connection refused"), ANON, seq=0, session_start=1000.0)
    assert refused["response"]["status"] is None and refused["response"]["error"]["kind"] == "upstream"
    cut = capture(status=200, response_headers=[("content-type", "text/event-stream")], error="peer closed connection")
    cut.chunks = [(10.1, encode_event(EVENTS[0])), (10.2, encode_event(EVENTS[1])[:20])]
    ex = build_exchange(cut, ANON, seq=0, session_start=1000.0)
    assert ex["response"]["error"]["kind"] == "disconnect" and len(ex["response"]["events"]) == 1
    gone = build_exchange(capture(status=200, error="Client disconnected."), ANON, seq=0, session_start=1000.0)
    assert gone["response"]["error"]["kind"] == "client"
