"""Prices, cost, cache usage in replay records and summaries, and in fixtures (recorder to `fixtures stats`).

Expected dollars are worked out by hand from the list prices in the test (USD per million tokens),
not read back from mockclaude.pricing.
"""

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from mockclaude.fixtures import command as fixtures_command
from mockclaude.fixtures.capture import Capture, build_exchange
from mockclaude.fixtures.format import FixtureWriter, make_header, validate_exchange
from mockclaude.models import CATALOGUE
from mockclaude.pricing import PRICES, TokenUsage, cost, hit_ratio, price_of, usage_from_api
from mockclaude.privacy.anonymize import Anonymizer
from mockclaude.privacy.pseudonyms import Pseudonymizer
from mockclaude.wire.sse import encode_event
from replay.records import RequestRecord
from replay.report import write_report
from replay.stream import read_message, read_stream
from replay.summary import build_summary, format_table

USAGE = TokenUsage(
    input_tokens=1_000, cache_write_5m_tokens=2_000, cache_write_1h_tokens=500, cache_read_tokens=10_000,
    output_tokens=300,
)  # fmt: skip


def test_every_catalogued_model_and_alias_has_a_dated_sourced_price() -> None:
    for info in CATALOGUE:
        for name in (info.id, *info.aliases):
            price = price_of(name)
            assert price is not None, name
            assert price.source and re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", price.as_of), (name, price)
            r = price.rates
            assert 0 < r.cache_read < r.input < r.cache_write_5m < r.cache_write_1h and r.input < r.output, name
    assert set(PRICES) == {info.id for info in CATALOGUE}
    estimates = {m for m, p in PRICES.items() if p.estimate}
    assert estimates == {"claude-fable-5-2", "claude-mythos-5-2", "claude-mythos-preview"}
    assert price_of("claude-not-a-model") is None


def _dollars(model: str, usage: TokenUsage = USAGE, **kw: Any) -> float:
    price = price_of(model)
    assert price is not None
    return cost(price, usage, **kw).total


def test_cost_follows_the_api_multipliers() -> None:
    # Sonnet 4.6, $3 in / $15 out: 1000x3 + 2000x3.75 (5m write) + 500x6 (1h write) + 10000x0.30 + 300x15.
    assert _dollars("claude-sonnet-4-6") == pytest.approx((3_000 + 7_500 + 3_000 + 3_000 + 4_500) / 1e6)
    assert _dollars("claude-sonnet-4-6", batch=True) == pytest.approx(21_000 / 2e6)  # 50% on every category
    # Opus 5.5, $4 / $20, reads at 0.05x: 4000 + 2000x5 + 500x8 + 10000x0.20 + 300x20.
    assert _dollars("claude-opus-5-5") == pytest.approx((4_000 + 10_000 + 4_000 + 2_000 + 6_000) / 1e6)
    # Fable 5.1, $10 / $50, reads at 0.025x ($0.25).
    assert _dollars("claude-fable-5-1", TokenUsage(cache_read_tokens=1_000_000)) == pytest.approx(0.25)
    # Haiku 3: the page's rounded cache columns ($0.30 5m write, $0.03 read).
    assert _dollars("claude-3-haiku-20240307", TokenUsage(cache_write_5m_tokens=10**6, cache_read_tokens=10**6)) == (
        pytest.approx(0.33)
    )
    # An alias is priced as its model.
    assert _dollars("claude-haiku-4-5") == _dollars("claude-haiku-4-5-20251001")


def test_long_context_tiers_price_every_token_of_the_request() -> None:
    # Haiku 5.5: $0.10 / $0.50, over 100k input tokens (cache included) $0.50 / $2.50 for all of it.
    small = TokenUsage(input_tokens=40_000, cache_read_tokens=60_000, output_tokens=1_000)
    assert _dollars("claude-haiku-5-5", small) == pytest.approx((40_000 * 0.10 + 60_000 * 0.01 + 1_000 * 0.50) / 1e6)
    big = TokenUsage(input_tokens=40_000, cache_read_tokens=60_001, output_tokens=1_000)
    assert _dollars("claude-haiku-5-5", big) == pytest.approx((40_000 * 0.50 + 60_001 * 0.05 + 1_000 * 2.50) / 1e6)
    # Sonnet 4.5 over 200k (only possible with the 1M beta): $6 / $22.50, writes 7.50, reads 0.60.
    usage = TokenUsage(input_tokens=150_000, cache_write_5m_tokens=60_000, output_tokens=100)
    assert _dollars("claude-sonnet-4-5", usage) == pytest.approx((150_000 * 6 + 60_000 * 7.5 + 100 * 22.5) / 1e6)


def test_api_usage_objects_become_token_usage() -> None:
    full = {"input_tokens": 2048, "cache_read_input_tokens": 1800, "cache_creation_input_tokens": 248,
            "output_tokens": 503,
            "cache_creation": {"ephemeral_5m_input_tokens": 148, "ephemeral_1h_input_tokens": 100}}  # fmt: skip
    u = usage_from_api(full)  # the docs' own example
    assert u == TokenUsage(2048, 148, 100, 1800, 503)
    assert u.output_tokens == 503 and u.total_input_tokens == 2048 + 1800 + 248
    assert hit_ratio(u) == pytest.approx(1800 / (2048 + 248 + 1800))
    # message_delta-style usage: no TTL breakdown, so every write is a 5m write (the default TTL).
    assert usage_from_api({"input_tokens": 5, "cache_creation_input_tokens": 7}) == TokenUsage(5, 7, 0, 0, 0)
    assert usage_from_api({"input_tokens": 5, "cache_read_input_tokens": None}) == TokenUsage(5, 0, 0, 0, 0)
    assert hit_ratio(TokenUsage()) is None


# -- replay: records from streams and bodies ----------------------------------------------------
START_USAGE = {"input_tokens": 50, "cache_creation_input_tokens": 3_000, "cache_read_input_tokens": 9_000,
               "cache_creation": {"ephemeral_5m_input_tokens": 2_000, "ephemeral_1h_input_tokens": 1_000},
               "output_tokens": 1, "service_tier": "standard"}  # fmt: skip


def _stream(delta_usage: dict[str, Any]) -> list[bytes]:
    return [encode_event(e) for e in (
        {"type": "message_start", "message": {"model": "m", "usage": START_USAGE}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": delta_usage},
        {"type": "message_stop"},
    )]  # fmt: skip


def _streamed(delta_usage: dict[str, Any], model: str = "claude-sonnet-4-6") -> RequestRecord:
    rec = RequestRecord(scenario="s", model=model, stream=True)
    ticks = itertools.count(1)
    read_stream(rec, iter(_stream(delta_usage)), lambda: next(ticks) / 10)
    assert rec.ok, rec.error
    return rec


def test_stream_usage_keeps_message_start_cache_fields_and_takes_cumulative_delta_totals() -> None:
    # The API repeats the cumulative input and cache totals in message_delta (no breakdown object there).
    rec = _streamed({"input_tokens": 50, "cache_creation_input_tokens": 3_000, "cache_read_input_tokens": 9_000,
                     "output_tokens": 40})  # fmt: skip
    assert rec.usage["cache_creation"] == START_USAGE["cache_creation"] and rec.output_tokens == 40
    assert rec.token_usage() == TokenUsage(50, 2_000, 1_000, 9_000, 40)
    # A delta that leaves the cache fields out (or null) keeps message_start's values.
    rec = _streamed({"output_tokens": 40, "cache_read_input_tokens": None})
    assert rec.token_usage() == TokenUsage(50, 2_000, 1_000, 9_000, 40)
    # ...and one that reports other totals overrides them.
    assert _streamed({"output_tokens": 40, "cache_read_input_tokens": 8_000}).token_usage().cache_read_tokens == 8_000
    assert json.loads(json.dumps(rec.to_dict()))["usage"]["cache_read_input_tokens"] == 9_000  # kept in records.jsonl
    assert RequestRecord.from_dict(rec.to_dict()).token_usage() == rec.token_usage()


def test_json_body_usage_is_kept() -> None:
    rec = RequestRecord(scenario="s", model="claude-sonnet-4-6")
    body = {"type": "message", "content": [], "stop_reason": "end_turn", "usage": {**START_USAGE, "output_tokens": 9}}
    read_message(rec, json.dumps(body).encode(), 0.5)
    assert rec.ok and rec.token_usage() == TokenUsage(50, 2_000, 1_000, 9_000, 9)
    failed = RequestRecord(scenario="s", model="claude-sonnet-4-6", error_class="rate_limited", usage=body["usage"])
    assert failed.token_usage() is None


def test_summary_reports_cache_tokens_hit_ratio_and_cost_per_scenario_and_model(tmp_path: Path) -> None:
    delta = {"output_tokens": 100}
    records = [
        _streamed(delta),  # sonnet 4.6: 50 in, 2000 5m + 1000 1h writes, 9000 reads, 100 out
        _streamed(delta),
        _streamed(delta, model="claude-opus-4-6"),
        _streamed(delta, model="not-priced"),
        RequestRecord(scenario="s:count_tokens", model="claude-sonnet-4-6", input_tokens=900),  # free, no usage
        RequestRecord(scenario="s", model="claude-sonnet-4-6", error_class="rate_limited", status=429),
    ]
    records[2].scenario = "other"
    s = build_summary(records, real=False)
    # Sonnet 4.6 ($3/$15): 50x3 + 2000x3.75 + 1000x6 + 9000x0.30 + 100x15 = 17850 micro-dollars each.
    # Opus 4.6 ($5/$25): 50x5 + 2000x6.25 + 1000x10 + 9000x0.50 + 100x25 = 29750.
    assert s["cost_usd"] == pytest.approx((2 * 17_850 + 29_750) / 1e6)
    assert s["priced_requests"] == 3 and s["cost_per_1000_requests"] == pytest.approx((2 * 17_850 + 29_750) / 3e3)
    assert s["cost_by_model"]["claude-sonnet-4-6"]["cost_usd"] == pytest.approx(2 * 17_850 / 1e6)
    assert s["cost_by_model"]["claude-sonnet-4-6"]["cost_by_category"]["cache_write_1h"] == pytest.approx(0.012)
    assert s["unpriced_models"] == {"not-priced": 1}
    # Cache figures cover every successful message call, priced or not.
    assert (s["cache_read_tokens"], s["cache_write_tokens"]) == (4 * 9_000, 4 * 3_000)
    assert s["cache_hit_ratio"] == pytest.approx(9_000 / 12_050)
    assert s["scenarios"]["other"]["cost_usd"] == pytest.approx(29_750 / 1e6)
    assert s["scenarios"]["s:count_tokens"]["cost_usd"] is None
    assert "cache_read / (input + cache_creation + cache_read)" in s["definitions"]["cache_hit_ratio"]
    table = format_table(s)
    assert "what the same traffic would cost on the real API" in table
    assert f"cost per 1,000 requests: USD {(2 * 17_850 + 29_750) / 3e3:.4f}" in table
    assert "HIT RATIO = cache_read / (input + cache_creation + cache_read)" in table
    assert re.search(r"other\s+1\s+9000\s+3000\s+74\.7%\s+0\.0297", table), table
    assert "not-priced: 1 requests with no list price" in table
    assert "what this run cost" in format_table(build_summary(records, real=True))
    folder = write_report(tmp_path / "r", records, s)
    page = (folder / "report.html").read_text()
    assert "Input tokens by scenario: uncached, cache write, cache read" in page and "hit 74.7%" in page
    assert "Prompt cache and cost" in page and "claude-opus-4-6" in page
    assert json.loads((folder / "summary.json").read_text())["cost_by_model"]["claude-opus-4-6"]["requests"] == 1


# -- fixtures: recorded cache usage survives anonymization, and `fixtures stats` reports it -----------
REQUEST = {
    "model": "claude-sonnet-4-6", "max_tokens": 50,
    "system": [{"type": "text", "text": "You help Alice Smith (alice@corp.com) with her orders.",
                "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Where is order 42?",
                                               "cache_control": {"type": "ephemeral"}}]}],
}  # fmt: skip


def _capture(streamed: bool) -> Capture:
    message = {"type": "message", "id": "msg_1", "role": "assistant", "model": "claude-sonnet-4-6",
               "content": [{"type": "text", "text": "Alice, it ships today."}], "stop_reason": "end_turn",
               "usage": {**START_USAGE, "output_tokens": 6}}  # fmt: skip
    if streamed:
        events = _stream({"input_tokens": 50, "cache_creation_input_tokens": 3_000, "cache_read_input_tokens": 9_000,
                          "output_tokens": 6})  # fmt: skip
        headers, chunks = [("content-type", "text/event-stream")], [(10.1 + i / 10, e) for i, e in enumerate(events)]
    else:
        headers, chunks = [("content-type", "application/json")], [(10.3, json.dumps(message).encode())]
    return Capture(method="POST", path="/v1/messages", request_headers=[("content-type", "application/json")],
                   t0=10.0, started_wall=1000.0, request_body=json.dumps(REQUEST).encode(), status=200,
                   response_headers=headers, t_headers=10.05, chunks=chunks, t_end=10.9)  # fmt: skip


def _response_usages(ex: dict[str, Any]) -> list[dict[str, Any]]:
    resp = ex["response"]
    if resp["body"] is not None:
        return [resp["body"]["usage"]]
    usage_events = [e["data"] for e in resp["events"] if e["event"] in ("message_start", "message_delta")]
    return [data.get("message", data)["usage"] for data in usage_events]


@pytest.mark.parametrize("mode", ["pii", "shape"])
def test_recorded_cache_usage_survives_anonymization_into_fixtures_stats(mode: str, tmp_path: Path) -> None:
    anon = Anonymizer(mode, Pseudonymizer(bytes(32)) if mode == "pii" else None)
    path = tmp_path / f"{mode}.jsonl"
    with FixtureWriter(path, make_header("recorded", anonymization=mode)) as w:
        for seq, streamed in enumerate((True, False)):
            ex = build_exchange(_capture(streamed), anon, seq=seq, session_start=1000.0)
            assert validate_exchange(ex) == []
            assert "alice" not in json.dumps(ex).lower()
            assert usage_from_api(ex["usage"]) == TokenUsage(50, 2_000, 1_000, 9_000, 6)
            start = _response_usages(ex)[0]
            # The usage the mock replays (`serve --fixtures`) keeps its numbers and its TTL breakdown.
            for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation"):
                assert start[key] == START_USAGE[key], (mode, key)
            assert start["service_tier"] == "standard"
            # The request keeps its breakpoints, TTLs included, so a replay caches like the recording.
            body = ex["request"]["body"]
            assert body["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}, mode
            assert body["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
            w.write(ex)
    stats = fixtures_command.compute_stats([str(path)], [])
    row = stats["cache_read_share"][str(path)]["claude-sonnet-4-6"]
    assert row == {"input_tokens": 100, "cache_write_tokens": 6_000, "cache_read_tokens": 18_000,
                   "share": round(18_000 / 24_100, 6)}  # fmt: skip
    assert re.search(r"claude-sonnet-4-6\s+100\s+6000\s+18000\s+74\.7%", fixtures_command.format_table(stats))
