"""Replay building blocks on real bytes and real fixture files: stream checks, metrics, options, safety."""

import itertools
import json
import random
from pathlib import Path
from typing import Any

import pytest

from mockclaude.fixtures.format import FixtureError, FixtureWriter, make_header
from mockclaude.tokens import count_text
from mockclaude.wire.sse import PING, encode_event
from replay import arrivals, profiles
from replay.budget import Budget, share
from replay.classify import status_class
from replay.options import OptionError, ReplayConfig, from_namespace, to_locust_argv, validate
from replay.records import RequestRecord
from replay.retry import backoff_s, retry_after_s
from replay.safety import MOCK_KEY, UnsafeTarget, check_target, plan
from replay.stream import check_message, read_stream
from replay.summary import build_summary, distribution, format_table
from replay.workload import load, request_body


def _events(n_deltas: int = 3, *, usage: bool = True) -> list[bytes]:
    out = [
        encode_event({"type": "message_start", "message": {"usage": {"input_tokens": 12, "output_tokens": 1}}}),
        encode_event({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ]
    for _ in range(n_deltas):
        delta_ev = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "a"}}
        out.append(encode_event(delta_ev))
    out.append(encode_event({"type": "content_block_stop", "index": 0}))
    delta: dict = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}
    if usage:
        delta["usage"] = {"output_tokens": 7}
    out += [encode_event(delta), encode_event({"type": "message_stop"})]
    return out


def _read(chunks: list[bytes]) -> RequestRecord:
    """Feed chunks with a fake clock that advances 0.1 s per chunk."""
    rec = RequestRecord(scenario="t")
    ticks = itertools.count(1)
    read_stream(rec, iter(chunks), lambda: next(ticks) / 10)
    return rec


def test_valid_stream_times_first_delta_and_takes_usage_from_message_delta() -> None:
    chunks = _events(3)
    chunks.insert(2, PING)
    rec = _read(chunks)
    assert rec.ok, rec.error
    # chunk 1 message_start, 2 block start, 3 ping, 4-6 deltas: TTFT is the first delta, not the first byte.
    assert rec.ttft_s == pytest.approx(0.4)
    assert rec.delta_s == pytest.approx([0.4, 0.5, 0.6])
    assert rec.itl_s() == pytest.approx([0.1, 0.1])
    assert (rec.input_tokens, rec.output_tokens, rec.stop_reason) == (12, 7, "end_turn")
    assert rec.tpot_s() == pytest.approx((rec.e2e_s - 0.4) / 6)


def test_byte_by_byte_chunking_gives_the_same_events() -> None:
    data = b"".join(_events(4))
    rec = _read([data[i : i + 1] for i in range(len(data))])
    assert rec.ok and len(rec.delta_s) == 4 and rec.output_tokens == 7


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda ev: ev[:-2], "interrupted"),  # no message_delta / message_stop
        (lambda ev: [ev[0], ev[2], *ev[3:]], "invalid_response"),  # delta before content_block_start
        (lambda ev: ev[1:], "invalid_response"),  # no message_start
        (lambda ev: [*ev[:3], b'data: {"type":"ping"}\n\n', *ev[3:]], "invalid_response"),  # no event: line
        (lambda ev: [*ev[:3], b"event: content_block_delta\ndata: {oops\n\n", *ev[3:]], "invalid_response"),
        (lambda ev: [*ev[:3], encode_event({"type": "error", "error": {"type": "x"}})], "midstream_error"),
    ],
)
def test_broken_streams_are_failures(mutate, expected: str) -> None:
    rec = _read(mutate(_events(3)))
    assert rec.error_class == expected
    assert not rec.ok


def test_message_delta_without_usage_is_invalid() -> None:
    assert _read(_events(2, usage=False)).error_class == "invalid_response"


def test_transport_error_mid_stream_is_interrupted() -> None:
    def chunks():
        yield _events(2)[0]
        raise ConnectionResetError("peer reset")

    rec = RequestRecord(scenario="t")
    read_stream(rec, chunks(), lambda: 0.1)
    assert rec.error_class == "interrupted" and "ConnectionResetError" in rec.error


def test_non_streaming_body_is_checked() -> None:
    good = {"type": "message", "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 3, "output_tokens": 2}}  # fmt: skip
    assert check_message(json.dumps(good).encode()) is None
    assert check_message(json.dumps({**good, "usage": {}}).encode())
    assert check_message(json.dumps({**good, "content": "hi"}).encode())
    assert check_message(b"<html>")


def test_status_classes_keep_429_apart() -> None:
    got = {s: status_class(s) for s in (200, 204, 400, 401, 403, 404, 413, 429, 500, 503, 529, 418)}
    assert got == {200: "ok", 204: "unexpected_status", 400: "bad_request", 401: "unauthorized", 403: "forbidden",
                   404: "not_found",
                   413: "too_large", 429: "rate_limited", 500: "server_error", 503: "server_error",
                   529: "overloaded", 418: "client_error"}  # fmt: skip


def test_percentiles_match_numpy_linear_definition() -> None:
    d = distribution([float(x) for x in range(1, 101)])
    assert d["p50"] == pytest.approx(50.5) and d["p90"] == pytest.approx(90.1) and d["p99"] == pytest.approx(99.01)
    assert d["mean"] == pytest.approx(50.5) and d["n"] == 100
    assert distribution([])["p50"] is None


def test_summary_counts_and_table() -> None:
    ok = RequestRecord("a", send_wall=100.0, ttft_s=0.5, e2e_s=1.5, delta_s=[0.5, 0.6, 0.7], output_tokens=41)
    limited = RequestRecord("b", send_wall=101.0, status=429, error_class="rate_limited", retry_after_s=2.0, e2e_s=0.01)
    retried = RequestRecord("b", send_wall=103.0, status=500, error_class="server_error", attempt=1, e2e_s=0.01)
    s = build_summary([ok, limited, retried])
    assert (s["requests"], s["failures"], s["rate_limited"], s["rate_limited_with_retry_after"], s["retries"]) == (
        3, 2, 1, 1, 1)  # fmt: skip
    assert s["tpot_s"]["p50"] == pytest.approx(0.025)
    assert set(s["scenarios"]) == {"a", "b"} and s["scenarios"]["b"]["ttft_s"]["p50"] is None
    for key in ("ttft_s", "itl_s", "tpot_s", "e2e_s"):
        assert set(s[key]) >= {"p50", "p90", "p95", "p99", "mean"}
    table = format_table(s)
    assert "TTFT" in table and "rate_limited 1" in table and "(E2E - TTFT) / (output_tokens - 1)" in table


def test_count_tokens_stay_out_of_the_all_row() -> None:
    gen = RequestRecord("a", send_wall=100.0, ttft_s=0.5, e2e_s=2.0, delta_s=[0.5, 0.6], output_tokens=41)
    counted = [RequestRecord("a:count_tokens", send_wall=101.0 + i, e2e_s=0.006, count_tokens=True) for i in range(5)]
    s = build_summary([gen, *counted])
    assert s["requests"] == 6  # counted as requests ...
    assert s["e2e_s"]["n"] == 1 and s["e2e_s"]["p50"] == 2.0  # ... but not timed with the generations
    assert s["scenarios"]["a:count_tokens"]["e2e_s"]["n"] == 5
    all_e2e = next(line for line in format_table(s).splitlines() if line.startswith("ALL") and " E2E " in line)
    assert all_e2e.split()[2:4] == ["1", "2000.0"]


def test_budget_shares_add_up_and_stop_sending() -> None:
    assert [share(10, i, 3) for i in range(3)] == [4, 3, 3]
    assert share(0, 0, 2) == 0
    b = Budget(max_requests=2)
    assert b.take() and b.take() and not b.take()
    assert not b.finished
    b.settle(RequestRecord("x", output_tokens=5))
    b.settle(RequestRecord("x", output_tokens=5))
    assert b.finished and b.output_tokens == 10
    t = Budget(max_output_tokens=8)
    assert t.take()
    t.settle(RequestRecord("x", output_tokens=9))
    assert not t.take()


def test_options_name_the_bad_flag_and_round_trip() -> None:
    with pytest.raises(OptionError, match="--rate"):
        validate(ReplayConfig(rate=-1))
    with pytest.raises(OptionError, match="--speed"):
        validate(ReplayConfig(rate=1, speed=2))
    with pytest.raises(OptionError, match="--think-time"):
        validate(ReplayConfig(think_time="soon"))
    cfg = ReplayConfig(fixtures=("a.jsonl", "b.jsonl"), rate=2.5, retry="backoff", real=True, max_requests=9)
    argv = to_locust_argv(cfg)
    assert argv == ["--fixtures", "a.jsonl,b.jsonl", "--rate", "2.5", "--retry", "backoff", "--real",
                    "--max-requests", "9"]  # fmt: skip
    import argparse

    from replay.options import add_arguments

    p = argparse.ArgumentParser()
    add_arguments(p)
    assert from_namespace(p.parse_args(argv)) == cfg


def test_safety_loopback_only_unless_real() -> None:
    assert check_target("http://127.0.0.1:8080", False, {}) == MOCK_KEY
    assert check_target("http://127.5.6.7:1", False, {"ANTHROPIC_API_KEY": "k"}) == "k"
    with pytest.raises(UnsafeTarget, match="--real"):
        check_target("https://api.anthropic.com", False, {"ANTHROPIC_API_KEY": "k"})
    with pytest.raises(UnsafeTarget, match="ANTHROPIC_API_KEY"):
        check_target("https://api.anthropic.com", True, {})
    assert check_target("https://api.anthropic.com", True, {"ANTHROPIC_API_KEY": "sk-real"}) == "sk-real"


def test_retry_after_is_honoured_and_backoff_is_bounded() -> None:
    assert retry_after_s({"retry-after": "3"}) == 3.0
    assert retry_after_s({"retry-after-ms": "250", "retry-after": "3"}) == 0.25
    assert retry_after_s({}) is None
    rng = random.Random(0)
    assert 3.0 <= backoff_s(0, 3.0, rng) <= 3.3
    waits = [backoff_s(n, None, rng) for n in range(8)]
    assert all(0 < w <= 8.0 for w in waits) and waits[0] <= 0.5 and waits[-1] >= 6.0


def write_fixture(
    path: Path, *, shape: bool = False, count: int = 6, stream: bool | None = None, max_tokens: int = 100
) -> Path:
    """A small fixture: `count` exchanges 2 s apart, the last ones a 3-turn conversation."""
    header = make_header("synthetic", anonymization="shape" if shape else "off", note="test", scenario="unit")
    with FixtureWriter(path, header) as w:
        for i in range(count):
            text = {"$tokens": 50 + i} if shape else f"question {i}"
            msgs = [{"role": "user", "content": text}]
            turn = i - (count - 3)
            if turn > 0:
                msgs = [{"role": "user", "content": text}, {"role": "assistant", "content": "a"}, *msgs]
            w.write({
                "type": "exchange", "seq": i, "started_s": 2.0 * i,
                "conversation": {"id": "c1", "turn": turn} if turn >= 0 else None,
                "request": {"method": "POST", "path": "/v1/messages", "headers": {"anthropic-beta": "x"},
                            "body": {"model": "claude-sonnet-4-5", "max_tokens": max_tokens,
                                     "stream": i % 2 == 0 if stream is None else stream,
                                     "messages": msgs, "metadata": {"user_id": "u"}}},
                "response": {"status": 200, "headers": {}, "body": None, "events": []},
                "timing": {"total_ms": 1500.0}, "usage": {"input_tokens": 20, "output_tokens": 30 + i},
            })  # fmt: skip
    return path


def test_workload_keeps_conversations_think_times_and_mix(tmp_path: Path) -> None:
    w = load([write_fixture(tmp_path / "f.jsonl")])
    assert len(w.samples) == 6 and sum(s.stream for s in w.samples) == 3
    assert sorted(len(c) for c in w.conversations) == [1, 1, 1, 3]
    conv = next(c for c in w.conversations if len(c) == 3)
    assert [w.samples[i].turn for i in conv] == [0, 1, 2]
    assert w.think_times_s == pytest.approx([0.5] * 2)  # between the conversation's turns
    assert load([write_fixture(tmp_path / "g.jsonl", count=2)]).think_times_s == pytest.approx([0.5])
    body = request_body(w.samples[0], lambda n: "x")
    assert "metadata" not in body and body["messages"][0]["content"] == "question 0"
    assert dict(w.samples[0].headers) == {"anthropic-beta": "x"}
    with pytest.raises(ValueError, match="none of the 6"):
        profiles.get("long-short").select(w)
    assert len(profiles.get("multi-turn").select(w).samples) == 2  # turns 1 and 2 carry history


def test_shape_fixtures_get_text_of_the_recorded_token_length(tmp_path: Path) -> None:
    from mockclaude.synth.content import TokenSource

    w = load([write_fixture(tmp_path / "s.jsonl", shape=True)])
    src, rng = TokenSource(1), random.Random(1)
    body = request_body(w.samples[2], lambda n: src.text(n, rng))
    assert count_text(body["messages"][0]["content"]) == 52


def test_bad_fixture_line_names_file_and_line(tmp_path: Path) -> None:
    path = write_fixture(tmp_path / "bad.jsonl")
    with path.open("a") as f:
        f.write('{"type": "exchange"}\n')
    with pytest.raises(FixtureError) as err:
        load([path])
    assert err.value.line == 8 and str(path) in str(err.value)
    assert len(load([path], skip_bad_lines=True).samples) == 6


def test_open_loop_schedules(tmp_path: Path) -> None:
    w = load([write_fixture(tmp_path / "f.jsonl")])
    times = [t for t, _ in itertools.islice(arrivals.poisson(w, 20.0, random.Random(3)), 4000)]
    assert 4000 / times[-1] == pytest.approx(20.0, rel=0.06)
    whole = [t for t, _ in itertools.islice(arrivals.recorded(w, 2.0), 12)]
    assert whole[:6] == pytest.approx([0, 1, 2, 3, 4, 5]) and whole[6] == pytest.approx(6.0)
    parts = sorted(t for i in range(3) for t, _ in itertools.islice(arrivals.recorded(w, 2.0, i, 3), 4))
    assert parts == pytest.approx(whole)


def test_sampling_keeps_the_recorded_mix_of_the_bundled_sessions() -> None:
    w = load([profiles.get("multi-turn").path, profiles.get("short-short").path])
    rng = random.Random(5)
    sent = [s for _ in range(3000) for s in w.pick_conversation(rng)]

    def shares(samples: list) -> dict:
        n = len(samples)
        return {
            "stream": sum(s.stream for s in samples) / n,
            "tools": sum(s.tools for s in samples) / n,
            "deep": sum(s.depth >= 3 for s in samples) / n,
            "sonnet": sum("sonnet" in s.model for s in samples) / n,
        }

    want, got = shares(w.samples), shares(sent)
    assert 0 < want["stream"] < 1 and 0 < want["tools"] < 1 and 0 < want["deep"] < 1
    for key in want:
        assert got[key] == pytest.approx(want[key], abs=0.03), key


def test_burst_profile_keeps_only_clustered_arrivals(tmp_path: Path) -> None:
    spaced = load([write_fixture(tmp_path / "f.jsonl")])  # 2 s apart: no burst
    with pytest.raises(ValueError):
        profiles.get("burst").select(spaced)
    bursts = load([profiles.get("burst").path])
    assert len(profiles.get("burst").select(bursts).samples) == len(bursts.samples)
    assert len(profiles.get("burst").select(load([profiles.get("short-short").path])).samples) < 24


def test_count_tokens_calls_get_their_own_scenario_and_check(tmp_path: Path) -> None:
    from replay.stream import read_count

    path = write_fixture(tmp_path / "f.jsonl", count=3)
    lines = path.read_text().splitlines()
    counting = json.loads(lines[1])
    counting["request"]["path"] = "/v1/messages/count_tokens?beta=true"
    counting["request"]["body"].pop("max_tokens")
    path.write_text("\n".join([*lines, json.dumps(counting)]) + "\n")
    w = load([path])
    assert sorted(s.scenario for s in w.samples) == ["unit", "unit", "unit", "unit:count_tokens"]
    assert all(not s.counting for s in profiles.get("short-short").select(w).samples)
    ok, bad = RequestRecord("x"), RequestRecord("x")
    read_count(ok, b'{"input_tokens": 12}', 0.01)
    read_count(bad, b'{"type": "message"}', 0.01)
    assert (ok.ok, ok.input_tokens, bad.error_class) == (True, 12, "invalid_response")


def test_speed_plan_ignores_idle_time_before_the_first_recorded_request(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=4)  # started at 0, 2, 4, 6 s
    late = tmp_path / "late.jsonl"
    lines = fx.read_text().splitlines()  # the same exchanges, recorded 100 s after the session began
    late.write_text("\n".join(json.dumps(_shift(json.loads(x), 100.0)) if i else x for i, x in enumerate(lines)) + "\n")
    for path in (fx, late):
        load_plan = plan(load([path]), users=1, speed=2.0)
        # 4 arrivals per 6 s + one average gap (8 s) at 2x: 1 request/s, whatever came before the first.
        assert load_plan.per_s == pytest.approx(1.0)
        assert "(4 in 4.0 s, repeated)" in load_plan.how


def _shift(record: dict[str, Any], seconds: float) -> dict[str, Any]:
    record["started_s"] += seconds
    return record

