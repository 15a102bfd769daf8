"""Cache usage and cost through real replays: an agent-shaped session against a real `mockclaude serve`.

The session is what a coding agent sends: a large system prompt in two cached blocks, cached tool
definitions, and a history that grows by a tool call and its result every turn, with the breakpoint
on the last user block. The expected hit ratio and cost are computed here by hand from the API's
rules (what each turn writes and reads), at the list prices written out below, not with
mockclaude.pricing.
"""

import json
import random
from pathlib import Path
from typing import Any

import pytest

from mockclaude.fixtures.format import FixtureWriter, make_header, match_key
from mockclaude.processes import mock_server
from mockclaude.synth.content import TokenSource
from mockclaude.tokens import count_text
from tests.test_replay_locust import replay

pytestmark = pytest.mark.timeout(180)
MODEL = "claude-sonnet-4-6"
# Sonnet 4.6 list prices, USD per million tokens (platform.claude.com pricing page, 2026-08-21).
INPUT, WRITE_5M, READ, OUTPUT = 3.00, 3.75, 0.30, 15.00
TURNS = 8
OUT_TOKENS = 40
EPHEMERAL = {"type": "ephemeral"}


PROSE = TokenSource(12)


def _text(n: int, rng: random.Random) -> str:
    return "".join(PROSE.tokens(n, rng))


def agent_session(turns: int = TURNS, seed: int = 7) -> list[dict[str, Any]]:
    """The request bodies of one agent session, turn by turn (each a prefix of the next plus two messages)."""
    rng = random.Random(seed)
    tools = [
        {"name": name, "description": _text(60, rng),
         "input_schema": {"type": "object", "properties": {"arg": {"type": "string"}}, "required": ["arg"]}}
        for name in ("read_file", "run_tests", "edit_file")
    ]  # fmt: skip
    tools[-1]["cache_control"] = EPHEMERAL
    system = [
        {"type": "text", "text": _text(3_000, rng), "cache_control": EPHEMERAL},
        {"type": "text", "text": _text(150, rng), "cache_control": EPHEMERAL},
    ]
    history: list[dict[str, Any]] = [{"role": "user", "content": [{"type": "text", "text": _text(80, rng)}]}]
    bodies = []
    for k in range(turns):
        messages = json.loads(json.dumps(history))
        messages[-1]["content"][-1]["cache_control"] = EPHEMERAL  # the breakpoint moves to the newest block
        bodies.append({"model": MODEL, "max_tokens": 200, "stream": k % 2 == 0, "tools": tools, "system": system,
                       "messages": messages})  # fmt: skip
        call = {
            "type": "tool_use",
            "id": f"toolu_{k:04d}",
            "name": tools[k % 3]["name"],
            "input": {"arg": _text(20, rng)},
        }
        result = {"type": "tool_result", "tool_use_id": call["id"], "content": _text(400, rng)}
        history += [{"role": "assistant", "content": [call]}, {"role": "user", "content": [result]}]
    return bodies


def _block_tokens(block: dict[str, Any]) -> int:
    if block.get("type") == "tool_use":
        return count_text(block["name"]) + count_text(json.dumps(block["input"]))
    if block.get("type") == "tool_result":
        return count_text(block["content"])
    if "input_schema" in block:  # a tool definition
        return sum(count_text(x) for x in (block["name"], block["description"], json.dumps(block["input_schema"])))
    return count_text(block["text"])


def by_hand(bodies: list[dict[str, Any]]) -> list[dict[str, int]]:
    """Each turn's usage by the API's rules: the whole prompt sits before its last breakpoint; turn 1 writes
    it, every later turn reads the previous turn's prompt (same prefix, found by the lookback) and writes the rest."""
    usages, previous = [], 0
    for body in bodies:
        prompt = sum(_block_tokens(b) for b in [*body["tools"], *body["system"]])
        prompt += sum(_block_tokens(b) for m in body["messages"] for b in m["content"])
        usages.append({"input_tokens": 0, "cache_creation_input_tokens": prompt - previous,
                       "cache_read_input_tokens": previous, "output_tokens": OUT_TOKENS})  # fmt: skip
        previous = prompt
    return usages


def hand_totals(usages: list[dict[str, int]]) -> tuple[float, float]:
    """(hit ratio, cost in USD) of the session, from the usages and Sonnet 4.6's list prices."""
    read = sum(u["cache_read_input_tokens"] for u in usages)
    written = sum(u["cache_creation_input_tokens"] for u in usages)
    uncached = sum(u["input_tokens"] for u in usages)
    out = sum(u["output_tokens"] for u in usages)
    dollars = (uncached * INPUT + written * WRITE_5M + read * READ + out * OUTPUT) / 1e6
    return read / (uncached + written + read), dollars


def _recorded_response(body: dict[str, Any], usage: dict[str, int]) -> dict[str, Any]:
    start_usage = {**usage, "output_tokens": 1,
                   "cache_creation": {"ephemeral_5m_input_tokens": usage["cache_creation_input_tokens"],
                                      "ephemeral_1h_input_tokens": 0}}  # fmt: skip
    message = {"id": "msg_rec", "type": "message", "role": "assistant", "model": MODEL, "stop_reason": None,
               "stop_sequence": None, "usage": start_usage}  # fmt: skip
    if not body["stream"]:
        content = [{"type": "text", "text": "Running the tests now."}]
        final = {**message, "content": content, "stop_reason": "tool_use", "usage": {**start_usage, **usage}}
        return {"status": 200, "headers": {"content-type": "application/json"}, "body": final, "events": None}
    data = [
        {"type": "message_start", "message": {**message, "content": []}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Running the tests."}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": usage},
        {"type": "message_stop"},
    ]
    events = [{"t_ms": 20.0 + i, "event": d["type"], "data": d} for i, d in enumerate(data)]
    return {"status": 200, "headers": {"content-type": "text/event-stream"}, "body": None, "events": events}


def write_session(path: Path, bodies: list[dict[str, Any]], usages: list[dict[str, int]] | None = None) -> Path:
    """The session as a fixture; with `usages`, each exchange carries that recorded usage (as the API sent it)."""
    header = make_header("synthetic", anonymization="off", note="agent-shaped session", scenario="agent")
    recorded = usages or by_hand(bodies)
    with FixtureWriter(path, header) as w:
        for k, (body, usage) in enumerate(zip(bodies, recorded, strict=True)):
            w.write({
                "type": "exchange", "seq": k, "started_s": 0.5 * k, "conversation": {"id": "agent", "turn": k},
                "request": {"method": "POST", "path": "/v1/messages", "headers": {}, "body": body,
                            "match_key": match_key(body)},
                "response": _recorded_response(body, usage),
                "timing": {"ttfb_ms": 10.0, "ttft_ms": 22.0, "total_ms": 30.0},
                "usage": usage if usages else None,
            })  # fmt: skip
    return path


def test_replay_reports_the_recorded_cache_usage_and_its_cost(tmp_path: Path) -> None:
    """`serve --fixtures` answers with the recorded usage: the report must add it up and price it exactly."""
    bodies = agent_session()
    usages = by_hand(bodies)
    usages[3] = {**usages[3], "input_tokens": 25}  # uncached input too, so it is priced as well
    fx = write_session(tmp_path / "agent.jsonl", bodies, usages)
    ratio, dollars = hand_totals(usages)
    with mock_server("--fixtures", str(fx), "--strict-fixtures") as mock:
        out, s = replay(mock.url, fx, tmp_path / "r", "-u", "1", "-r", "1", "-t", "60s",
                        "--max-requests", str(TURNS), "--think-time", "0")  # fmt: skip
    assert s["requests"] == TURNS and s["failures"] == 0, (s["errors"], out)
    assert s["cache_read_tokens"] == sum(u["cache_read_input_tokens"] for u in usages)
    assert s["cache_write_tokens"] == sum(u["cache_creation_input_tokens"] for u in usages)
    assert s["cache_hit_ratio"] == pytest.approx(ratio, abs=1e-6)
    assert s["cost_usd"] == pytest.approx(dollars, abs=2e-6)
    assert s["cost_by_model"][MODEL]["requests"] == TURNS
    assert s["scenarios"]["agent"]["cost_usd"] == pytest.approx(dollars, abs=2e-6)
    assert f"cost per 1,000 requests: USD {dollars / TURNS * 1000:.4f}" in out
    assert "HIT RATIO = cache_read / (input + cache_creation + cache_read)" in out
    assert f"{ratio:.1%}" in out


def test_agent_session_against_the_simulated_cache_matches_the_hand_computation(tmp_path: Path) -> None:
    """The mock's own prompt cache: the replay's hit ratio and cost are within 10% of the API's rules by hand."""
    bodies = agent_session()
    fx = write_session(tmp_path / "agent.jsonl", bodies)
    ratio, dollars = hand_totals(by_hand(bodies))
    flags = ("--ttft", "0.05", "--tps", "2000", "--output-tokens", str(OUT_TOKENS), "--tool-rate", "0", "--seed", "1")
    with mock_server(*flags) as mock:
        out, s = replay(mock.url, fx, tmp_path / "r", "-u", "1", "-r", "1", "-t", "60s",
                        "--max-requests", str(TURNS), "--think-time", "0")  # fmt: skip
    assert s["requests"] == TURNS and s["failures"] == 0, (s["errors"], out)
    records = [json.loads(line) for line in (tmp_path / "r" / "records.jsonl").read_text().splitlines()]
    first, *later = sorted(records, key=lambda r: r["send_wall"])
    assert first["usage"]["cache_read_input_tokens"] == 0 < first["usage"]["cache_creation_input_tokens"]
    assert all(r["usage"]["cache_read_input_tokens"] > 0 for r in later)
    assert s["output_tokens"] == TURNS * OUT_TOKENS  # text answers of the fixed length (--tool-rate 0)
    # Seen: hit ratio 0.8377 vs 0.8375 by hand, USD 0.0401 vs 0.0392 (the mock also counts message framing).
    assert s["cache_hit_ratio"] == pytest.approx(ratio, rel=0.10), (s["cache_hit_ratio"], ratio)
    assert s["cost_usd"] == pytest.approx(dollars, rel=0.10), (s["cost_usd"], dollars)
