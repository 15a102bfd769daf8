"""Fixture index and matching (`mockclaude.fixtures.recorded`), in process, on fixture files written here."""

import json
import random
from pathlib import Path
from typing import Any

import pytest

from mockclaude.fixtures import recorded
from mockclaude.fixtures.format import FixtureError, FixtureWriter, expand_shape, is_placeholder, make_header, match_key
from mockclaude.fixtures.recorded_answer import Rendering, answer
from mockclaude.privacy.anonymize import Anonymizer
from mockclaude.privacy.pseudonyms import Pseudonymizer, key_fingerprint
from mockclaude.server.settings import Settings
from mockclaude.synth.content import ContentSettings, OutputLength, TokenSource, token_pieces
from mockclaude.synth.pacing import Range, Timing
from mockclaude.tokens import count_text
from mockclaude.wire import messages as wm
from mockclaude.wire.messages import message_from_events

MODEL = "claude-sonnet-4-5"


def body(text: str, **extra: Any) -> dict[str, Any]:
    """A Messages request body."""
    return {"model": MODEL, "max_tokens": 300, "messages": [{"role": "user", "content": text}], **extra}


def stream_exchange(
    req: dict[str, Any], text: str, *, ttft_ms: float = 300.0, gap_ms: float = 20.0, seq: int = 0
) -> dict[str, Any]:
    """A successful streamed exchange: one token per delta, `gap_ms` apart after `ttft_ms`."""
    pieces = token_pieces(text)
    n_in = 12
    events: list[dict[str, Any]] = [
        {"t_ms": ttft_ms / 2, "event": "message_start", "data": wm.message_start("msg_rec", MODEL, n_in)},
        {"t_ms": ttft_ms, "event": "content_block_start", "data": wm.block_start(0, {"type": "text", "text": ""})},
    ]
    t = ttft_ms
    for k, piece in enumerate(pieces):
        t = ttft_ms + k * gap_ms
        events.append({"t_ms": t, "event": "content_block_delta",
                       "data": wm.block_delta(0, {"type": "text_delta", "text": piece})})  # fmt: skip
    events += [
        {"t_ms": t, "event": "content_block_stop", "data": wm.block_stop(0)},
        {"t_ms": t, "event": "message_delta", "data": wm.message_delta("end_turn", None, n_in, len(pieces))},
        {"t_ms": t, "event": "message_stop", "data": wm.MESSAGE_STOP},
    ]
    return exchange(req, 200, events=events, timing={"ttfb_ms": 5.0, "ttft_ms": ttft_ms, "total_ms": t},
                    usage={"input_tokens": n_in, "output_tokens": len(pieces)}, seq=seq)  # fmt: skip


def json_exchange(req: dict[str, Any], text: str, *, total_ms: float = 400.0, seq: int = 0) -> dict[str, Any]:
    """A successful non-streamed exchange."""
    n = len(token_pieces(text))
    msg = wm.message(msg_id="msg_rec", model=MODEL, content=[{"type": "text", "text": text}], stop_reason="end_turn",
                     stop_sequence=None, input_tokens=12, output_tokens=n)  # fmt: skip
    return exchange(req, 200, body=msg, timing={"ttfb_ms": total_ms, "ttft_ms": None, "total_ms": total_ms},
                    usage=msg["usage"], seq=seq)  # fmt: skip


def error_exchange(req: dict[str, Any], status: int, message: str, *, seq: int = 0) -> dict[str, Any]:
    """A recorded API error."""
    err = {"type": "error", "error": {"type": "overloaded_error", "message": message}, "request_id": "req_x"}
    return exchange(req, status, body=err, timing={"ttfb_ms": 30.0, "ttft_ms": None, "total_ms": 30.0}, seq=seq)


def exchange(req: dict[str, Any], status: int | None, *, seq: int = 0, **fields: Any) -> dict[str, Any]:
    """An exchange record around a request body."""
    return {
        "type": "exchange",
        "seq": seq,
        "started_s": seq * 0.5,
        "request": {"method": "POST", "path": "/v1/messages", "headers": {}, "body": req, "match_key": match_key(req)},
        "response": {
            "status": status,
            "headers": {},
            "body": fields.get("body"),
            "events": fields.get("events"),
            "error": fields.get("error"),
        },
        "timing": fields.get("timing"),
        "usage": fields.get("usage"),
        "estimates": {"input_tokens": 12, "output_tokens": None},
    }


def write(path: Path, exchanges: list[dict[str, Any]], anonymization: str | dict[str, Any] = "off") -> Path:
    """A fixture file with these exchanges."""
    with FixtureWriter(path, make_header("recorded", anonymization=anonymization)) as w:
        for ex in exchanges:
            w.write(ex)
    return path


def rendering(req: dict[str, Any], scale: float = 1.0) -> Rendering:
    """What the server passes to `answer`, with a seeded text source."""
    rng = random.Random(1)
    source = TokenSource(1)
    return Rendering(request_body=req, request_id="req_now", rng=rng, tokens_of=lambda n: source.tokens(n, rng),
                     scale=scale, fallback_timing=Timing(0.2, 50.0, Range(1, 3)))  # fmt: skip


def test_volatile_fields_do_not_break_a_match(tmp_path: Path) -> None:
    rec = recorded.load([str(write(tmp_path / "f.jsonl", [stream_exchange(body("hi"), "Hello there")]))])
    entry = rec.find(body("hi", metadata={"user_id": "u-77"}, temperature=0.3, stream=True, top_k=5))
    assert entry is not None and entry.exchange["usage"]["output_tokens"] == len(token_pieces("Hello there"))
    assert rec.find(body("hi there")) is None


def test_recordings_of_one_request_are_served_in_turn(tmp_path: Path) -> None:
    req = body("again")
    exs = [error_exchange(req, 529, "Overloaded", seq=0), stream_exchange(req, "second", seq=1),
           stream_exchange(req, "third", seq=2)]  # fmt: skip
    rec = recorded.load([str(write(tmp_path / "f.jsonl", exs))])
    got = [rec.find(req) for _ in range(4)]
    assert [e.exchange["seq"] for e in got if e] == [0, 1, 2, 0]


def test_pii_fixture_matches_real_text_with_the_session_key(tmp_path: Path) -> None:
    key = bytes(range(32))
    key_file = tmp_path / "session.key"
    key_file.write_text(key.hex() + "\n")
    real = body("Dear Jonathan Miller, please call +1 415-555-0142 or mail jon.miller@megacorp-internal.com")
    anonymized = Anonymizer("pii", Pseudonymizer(key)).body(real)
    assert anonymized != real
    header = {"mode": "pii", "key_fingerprint": key_fingerprint(key)}
    fx = str(write(tmp_path / "f.jsonl", [stream_exchange(anonymized, "ok")], anonymization=header))
    with_key = recorded.load([fx], session_key=str(key_file))
    assert with_key.find(real) is not None  # the app's real text
    assert with_key.find(anonymized) is not None  # the replayer's anonymized text
    without = recorded.load([fx])
    assert without.find(real) is None and without.find(anonymized) is not None
    assert any("without its session key" in n for n in without.notes)
    other = tmp_path / "other.key"
    other.write_text(bytes(32).hex())
    with pytest.raises(ValueError, match="matches none of the pii fixtures"):
        recorded.load([fx], session_key=str(other))


def test_secrets_are_redacted_before_matching(tmp_path: Path) -> None:
    real = body("deploy with api_key=sk-ant-api03-abcdefghijklmnop0123456789")
    redacted = Anonymizer("off").body(real)
    assert "[REDACTED]" in redacted["messages"][0]["content"]
    rec = recorded.load([str(write(tmp_path / "f.jsonl", [stream_exchange(redacted, "done")]))])
    assert rec.find(real) is not None


def test_shape_fixture_matches_regenerated_text_and_regenerates_the_answer(tmp_path: Path) -> None:
    req = body("Summarize the attached memo about the quarterly planning cycle in three bullet points.")
    shaped = Anonymizer("shape").body(req)
    ex = stream_exchange(req, "First point here. Second point follows. Third point closes it.")
    ex["request"]["body"] = shaped
    ex["response"]["events"] = Anonymizer("shape").events(ex["response"]["events"])
    rec = recorded.load([str(write(tmp_path / "f.jsonl", [ex], anonymization="shape"))])
    source, rng = TokenSource(7), random.Random(7)
    regenerated = expand_shape(shaped, lambda n: source.text(n, rng))
    entry = rec.find(regenerated)
    assert entry is not None and entry.shape
    sent = answer(entry.exchange, entry.shape, rendering({**regenerated, "stream": True}))
    assert sent.frames is not None
    deltas = [f for f in sent.frames if f.delta]
    assert len(deltas) == len(token_pieces("First point here. Second point follows. Third point closes it.")) == 13
    sse = b"".join(f.data or b"" for f in sent.frames).decode()
    assert "$tokens" not in sse
    text = message_from_events_text(sse)
    assert abs(count_text(text) - 13) <= 2  # regenerated at the recorded token lengths


def test_stream_recording_answers_a_json_request_and_back(tmp_path: Path) -> None:
    req = body("convert")
    streamed = stream_exchange(req, "Streamed words become one message.", ttft_ms=100, gap_ms=10)
    sent = answer(streamed, False, rendering(req))
    assert sent.body is not None and sent.frames is None
    msg = json.loads(sent.body)
    assert msg["content"] == [{"type": "text", "text": "Streamed words become one message."}]
    assert msg["id"].startswith("msg_") and msg["id"] != "msg_rec" and msg["stop_reason"] == "end_turn"
    assert sent.at_s == pytest.approx(streamed["timing"]["total_ms"] / 1000)
    whole = json_exchange(req, "One message becomes a stream.", total_ms=500)
    paced = answer(whole, False, rendering({**req, "stream": True}))
    assert paced.frames is not None
    text = "".join(f.data.decode() for f in paced.frames if f.data)
    assert message_from_events_text(text) == "One message becomes a stream."
    assert paced.frames[-1].t == pytest.approx(0.5, abs=0.01)  # the recorded total time


def message_from_events_text(sse: str) -> str:
    """The text a stream of SSE frames spells out."""
    events = []
    for frame in sse.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.split("\n"))
        events.append({"event": lines["event"], "data": json.loads(lines["data"])})
    return message_from_events(events)["content"][0]["text"]


def test_time_scale_scales_every_recorded_time(tmp_path: Path) -> None:
    req = {**body("scale"), "stream": True}
    ex = stream_exchange(req, "a b c d", ttft_ms=400, gap_ms=100)
    normal = answer(ex, False, rendering(req))
    fast = answer(ex, False, rendering(req, scale=0.5))
    assert normal.frames and fast.frames
    assert [f.t * 0.5 for f in normal.frames] == pytest.approx([f.t for f in fast.frames])
    assert normal.ttft_s == pytest.approx(0.4) and fast.ttft_s == pytest.approx(0.2)


def test_bad_fixture_line_is_named(tmp_path: Path) -> None:
    path = write(tmp_path / "f.jsonl", [stream_exchange(body("x"), "y")])
    with path.open("a") as f:
        f.write('{"type": "exchange", "started_s": -1}\n')
    with pytest.raises(FixtureError, match=r"f\.jsonl:3:"):
        recorded.load([str(path)])
    with pytest.raises(ValueError, match=r"--fixtures .*nope\.jsonl: no such file"):
        recorded.load([str(tmp_path / "nope.jsonl")])
    with pytest.raises(ValueError, match="--time-scale"):
        recorded.load([str(path)], scale=0)


def test_a_broken_recorded_stream_fails_a_json_request_too() -> None:
    req = body("broken")
    cut = stream_exchange(req, "half of an answer")
    cut["response"]["error"] = {"kind": "disconnect", "message": "peer closed"}
    overloaded = stream_exchange(req, "half of an answer")
    err = wm.stream_error("overloaded_error", "Overloaded", "req_old")
    overloaded["response"]["events"].insert(4, {"t_ms": 330.0, "event": "error", "data": err})
    assert answer(cut, False, rendering(req)).fault == "disconnect"
    assert answer(overloaded, False, rendering(req)).fault == "midstream"
    assert answer(stream_exchange(req, "whole"), False, rendering(req)).fault is None
    streamed = answer(overloaded, False, rendering({**req, "stream": True}))
    assert streamed.frames is not None
    sse = b"".join(f.data or b"" for f in streamed.frames)
    assert b'"request_id":"req_now"' in sse  # the recorded error event, with this request's id
    assert streamed.frames[-1].data is not None
    dropped = answer(cut, False, rendering({**req, "stream": True})).frames
    assert dropped is not None and dropped[-1].data is None  # the recorded stream broke off: so does this one


def test_shape_tool_call_gets_a_valid_input_from_the_schema() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    tool = {"name": "get_weather", "description": "Weather for a city", "input_schema": schema}
    req = {**body("Weather in Paris?"), "tools": [tool], "stream": True}
    block = {"type": "tool_use", "id": "toolu_01recorded", "name": "get_weather", "input": {}}
    pieces = ["", '{"city"', ': "Par', 'is"}']
    events = [
        {"t_ms": 100.0, "event": "message_start", "data": wm.message_start("msg_rec", MODEL, 30)},
        {"t_ms": 100.0, "event": "content_block_start", "data": wm.block_start(0, block)},
        *({"t_ms": 120.0 + i, "event": "content_block_delta",
           "data": wm.block_delta(0, {"type": "input_json_delta", "partial_json": p})} for i, p in enumerate(pieces)),
        {"t_ms": 130.0, "event": "content_block_stop", "data": wm.block_stop(0)},
        {"t_ms": 130.0, "event": "message_delta", "data": wm.message_delta("tool_use", None, 30, 9)},
        {"t_ms": 130.0, "event": "message_stop", "data": wm.MESSAGE_STOP},
    ]  # fmt: skip
    shaped_events = Anonymizer("shape").events(events)
    assert all(is_placeholder(e["data"]["delta"]["partial_json"]) for e in shaped_events[2:6])  # no JSON kept
    ex = exchange(Anonymizer("shape").body(req), 200, events=shaped_events,
                  timing={"ttfb_ms": 5.0, "ttft_ms": 120.0, "total_ms": 130.0}, usage={"output_tokens": 9})  # fmt: skip
    sent = answer(ex, True, rendering(req))
    assert sent.frames is not None
    sse = b"".join(f.data or b"" for f in sent.frames).decode()
    parsed = []
    for frame in sse.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.split("\n"))
        parsed.append({"event": lines["event"], "data": json.loads(lines["data"])})
    call = message_from_events(parsed)["content"][0]
    assert call["type"] == "tool_use" and call["name"] == "get_weather" and call["id"] != "toolu_01recorded"
    assert isinstance(call["input"].get("city"), str)  # valid JSON, valid against the schema
    assert sum(e["event"] == "content_block_delta" for e in parsed) == len(pieces)


def test_unmatched_timing_and_length_come_from_the_profile_unless_flags_say_otherwise(tmp_path: Path) -> None:
    exs = [stream_exchange(body(f"r{i}"), "one two three four", ttft_ms=500, gap_ms=50, seq=i) for i in range(5)]
    fx = str(write(tmp_path / "f.jsonl", exs))
    default = Timing(ttft_s=3.0, tps=10.0, chunk_tokens=Range(1, 3))
    rng = random.Random(0)
    content, timing = recorded.load([fx]).synthetic(MODEL, 12, Settings(), default, rng)
    assert timing.ttft_s == pytest.approx(0.5) and timing.tps == pytest.approx(20.0)
    assert content.output_length == OutputLength("fixed", 4, 4) and timing.chunk_tokens == Range(1, 1)
    _, fast = recorded.load([fx], scale=0.5).synthetic(MODEL, 12, Settings(), default, rng)
    assert fast.ttft_s == pytest.approx(0.25) and fast.tps == pytest.approx(40.0)
    flags = Settings(ttft=Range(2, 2), tps=Range(7, 7), content=ContentSettings(output_length=OutputLength.parse("9")))
    content, timing = recorded.load([fx]).synthetic(MODEL, 12, flags, default, rng)
    assert (timing.ttft_s, timing.tps, content.output_length.low) == (3.0, 10.0, 9)  # the flags' (default) timing


def test_second_turn_matches_when_the_client_sends_back_the_served_answer(tmp_path: Path) -> None:
    key = bytes(range(1, 33))
    (tmp_path / "f.jsonl.key").write_text(key.hex())
    recorder = Anonymizer("pii", Pseudonymizer(key))  # one session, as the recorder keeps it
    user1 = {"role": "user", "content": "Please email bob.stone@megacorp-internal.com about the invoice."}
    real_answer = "Done: I wrote to bob.stone@megacorp-internal.com and to billing@megacorp-internal.com."
    user2 = {"role": "user", "content": "Also call +1 415-555-0199 tomorrow."}
    turn1 = {**body("x"), "messages": [user1]}
    turn2 = {**body("x"), "messages": [user1, {"role": "assistant", "content": real_answer}, user2]}
    rec1 = stream_exchange(recorder.body(turn1), real_answer, seq=0)
    rec1["response"]["events"] = recorder.events(rec1["response"]["events"])
    rec2 = stream_exchange(recorder.body(turn2), "Will do.", seq=1)
    header = {"mode": "pii", "key_fingerprint": key_fingerprint(key)}
    rec = recorded.load([str(write(tmp_path / "f.jsonl", [rec1, rec2], anonymization=header))])
    first = rec.find(turn1)
    assert first is not None and first.exchange["seq"] == 0
    served = message_from_events(first.exchange["response"]["events"])["content"][0]["text"]
    assert "bob.stone" not in served and "@example." in served  # the client gets pseudonyms back
    client_turn2 = {**turn2, "messages": [user1, {"role": "assistant", "content": served}, user2]}
    second = rec.find(client_turn2)
    assert second is not None and second.exchange["seq"] == 1


def test_the_index_of_a_large_recording_stays_small(tmp_path: Path) -> None:
    answer_text = " ".join(f"word{i % 97}" for i in range(400))
    template = stream_exchange(body("template"), answer_text, gap_ms=5)
    path = tmp_path / "big.jsonl"
    with FixtureWriter(path, make_header("recorded", anonymization="off")) as w:
        for i in range(200):
            req = body(f"request {i} " + "context " * 200)
            request = {**template["request"], "body": req, "match_key": match_key(req)}
            w.write({**template, "seq": i, "request": request})
    size_mb = path.stat().st_size / 1e6
    assert size_mb > 20
    rec = recorded.load([str(path)])
    assert sum(len(v) for v in rec.index.values()) == 200
    held_mb = sum(len(stored.blob) for entries in rec.index.values() for stored in entries) / 1e6
    # Parsed into dicts, the answers alone would take several times the file's size.
    assert held_mb < size_mb / 10, f"{held_mb:.1f} MB held for a {size_mb:.1f} MB recording"
    entry = rec.find(body("request 7 " + "context " * 200))
    assert entry is not None and entry.exchange["seq"] == 7
