"""Synthetic answers: output lengths, the token corpus, and every rule of plan_response."""

import base64
import json
import random
import statistics
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from mockclaude.synth.content import ContentSettings, OutputLength, ResponsePlan, TokenSource, plan_response
from mockclaude.tokens import count_text, encoding
from mockclaude.wire.errors import ApiError


@pytest.fixture(scope="module")
def source() -> TokenSource:
    return TokenSource(7)


WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {
            "location": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["location"],
    },
}
SEARCH = {
    "name": "search_docs",
    "input_schema": {
        "type": "object",
        "properties": {
            "query": {"type": "string", "minLength": 3},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50},
            "filters": {"type": "array", "items": {"type": "string", "format": "date"}, "uniqueItems": True},
        },
        "required": ["query", "limit"],
        "additionalProperties": False,
    },
}
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
TOOLS = {t["name"]: t for t in (WEATHER, SEARCH)}


def body(**extra: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet-4-5", "max_tokens": 4096, "messages": [{"role": "user", "content": "Hi"}], **extra}


def plans(
    b: dict[str, Any], source: TokenSource, n: int = 50, max_tokens: int = 4096, **settings: Any
) -> list[ResponsePlan]:
    s = ContentSettings(**settings)
    rng = random.Random(1234)
    return [plan_response(b, max_tokens, s, source, rng) for _ in range(n)]


def check_invariants(plan: ResponsePlan, max_tokens: int) -> None:
    """What every plan must satisfy, whatever the request."""
    assert plan.stop_reason in ("end_turn", "max_tokens", "stop_sequence", "tool_use")
    assert (plan.stop_sequence is not None) == (plan.stop_reason == "stop_sequence")
    assert plan.output_tokens <= max_tokens
    counted = 0
    for block in plan.blocks:
        if block.kind == "tool_use":
            assert block.tool_id.startswith("toolu_01") and len(block.tool_id) == 30
            text = "".join(block.input_json_pieces)
            assert text == json.dumps(block.tool_input)
            assert json.loads(text) == block.tool_input
            assert all(len(p) <= 12 for p in block.input_json_pieces)
            Draft202012Validator(TOOLS[block.tool_name]["input_schema"]).validate(block.tool_input)
            assert block.tokens == count_text(block.tool_name + text)
        elif block.kind == "text":
            assert block.pieces and block.tokens == len(block.pieces)
        counted += block.tokens
    if plan.stop_reason != "max_tokens":
        assert plan.output_tokens == counted
    else:  # a dropped tool call still spent the rest of the budget
        assert plan.output_tokens in (counted, max_tokens)
    kinds = [b.kind for b in plan.blocks]
    assert kinds == sorted(kinds, key=["thinking", "text", "tool_use"].index)
    assert (plan.stop_reason == "tool_use") == ("tool_use" in kinds and plan.stop_reason not in ("max_tokens",))


# ---- OutputLength ----


@pytest.mark.parametrize(
    ("spec", "kind", "low", "high"),
    [("100", "fixed", 100, 100), ("1", "fixed", 1, 1), ("10-20", "uniform", 10, 20), (" 5 - 5 ", "uniform", 5, 5)],
)
def test_output_length_forms(spec: str, kind: str, low: int, high: int) -> None:
    length = OutputLength.parse(spec)
    assert (length.kind, length.low, length.high) == (kind, low, high)
    assert OutputLength.parse(str(length)) == length
    rng = random.Random(0)
    draws = [length.draw(rng) for _ in range(500)]
    assert min(draws) >= low and max(draws) <= high
    if high > low:
        assert set(draws) == set(range(low, high + 1))


def test_default_output_length_is_a_chat_like_lognormal() -> None:
    length = OutputLength.parse("DEFAULT")
    assert str(length) == "default"
    rng = random.Random(0)
    draws = [length.draw(rng) for _ in range(20_000)]
    assert 280 <= statistics.median(draws) <= 320
    assert min(draws) >= 1 and max(draws) <= 4096
    assert statistics.mean(draws) > statistics.median(draws)  # right-skewed


@pytest.mark.parametrize("spec", ["", "0", "-5", "abc", "20-10", "0-5", "1.5", "10-", "default2"])
def test_bad_output_length_names_spec_and_forms(spec: str) -> None:
    with pytest.raises(ValueError) as exc:
        OutputLength.parse(spec)
    msg = str(exc.value)
    assert repr(spec) in msg and "N" in msg and "MIN-MAX" in msg and "'default'" in msg


# ---- TokenSource ----


def test_corpus_pieces_are_single_tokens(source: TokenSource) -> None:
    enc = encoding()
    pieces = source.tokens(len(source), random.Random(0))
    assert 30_000 <= len(source) <= 50_000
    assert all(len(enc.encode(p)) == 1 for p in pieces)


def test_tokens_are_windows_that_reencode_to_about_n(source: TokenSource) -> None:
    rng = random.Random(3)
    for n in (0, 1, 7, 300, 5_000, len(source) + 123):
        pieces = source.tokens(n, rng)
        assert len(pieces) == n
        if n >= 300:
            assert abs(count_text("".join(pieces)) - n) <= n * 0.02 + 2
    text = source.text(50, random.Random(9))
    assert text[0].isupper() or text.startswith("- ")  # starts at a paragraph


def test_same_seed_same_corpus() -> None:
    a, b, c = (
        TokenSource(11, corpus_tokens=3_000),
        TokenSource(11, corpus_tokens=3_000),
        TokenSource(12, corpus_tokens=3_000),
    )
    assert a.text(2_000, random.Random(1)) == b.text(2_000, random.Random(1))
    assert a.text(2_000, random.Random(1)) != c.text(2_000, random.Random(1))


# ---- plan_response ----


def test_text_answer_ends_turn_with_its_drawn_length(source: TokenSource) -> None:
    for plan in plans(body(), source, output_length=OutputLength.parse("20-60")):
        check_invariants(plan, 4096)
        assert plan.stop_reason == "end_turn" and plan.stop_sequence is None
        [block] = plan.blocks
        assert block.kind == "text" and 20 <= block.tokens <= 60
        assert block.api_block() == {"type": "text", "text": block.text}


def test_max_tokens_truncates(source: TokenSource) -> None:
    for plan in plans(body(), source, max_tokens=10, output_length=OutputLength.parse("100")):
        assert plan.stop_reason == "max_tokens" and plan.output_tokens == 10
        assert len(plan.blocks[0].pieces) == 10
    # exactly enough room: a natural end
    [plan] = plans(body(), source, n=1, max_tokens=100, output_length=OutputLength.parse("100"))
    assert plan.stop_reason == "end_turn" and plan.output_tokens == 100


def test_max_tokens_zero_gives_nothing(source: TokenSource) -> None:
    b = body(tools=[WEATHER], tool_choice={"type": "any"}, thinking={"type": "enabled", "budget_tokens": 1024})
    for plan in plans(b, source, n=5, max_tokens=0):
        assert plan == ResponsePlan([], "max_tokens", None, 0)


def test_a_model_that_thinks_by_default_shows_omitted_thinking(source: TokenSource) -> None:
    rng = random.Random(4)

    def plan(request: dict[str, Any]) -> ResponsePlan:
        return plan_response(request, 8_000, ContentSettings(), source, rng, thinks_by_default=True)

    default = plan(body())
    assert [b.kind for b in default.blocks] == ["thinking", "text"]
    assert default.blocks[0].pieces == [] and default.blocks[0].tokens > 0 and default.blocks[0].signature
    assert default.output_tokens == default.blocks[0].tokens + default.blocks[1].tokens
    assert [b.kind for b in plan(body(thinking={"type": "disabled"})).blocks] == ["text"]
    forced = plan(body(tools=[WEATHER], tool_choice={"type": "any"}))
    assert all(b.kind == "tool_use" for b in forced.blocks)


def test_thinking_comes_first_within_its_budget(source: TokenSource) -> None:
    b = body(thinking={"type": "enabled", "budget_tokens": 2_000})
    for plan in plans(b, source, max_tokens=8_000):
        check_invariants(plan, 8_000)
        thinking = plan.blocks[0]
        assert thinking.kind == "thinking" and 1 <= thinking.tokens <= 2_000
        assert len(thinking.pieces) == thinking.tokens
        assert 300 <= len(thinking.signature) <= 450 and thinking.signature.startswith("E")
        base64.b64decode(thinking.signature, validate=True)
        assert thinking.api_block() == {"type": "thinking", "thinking": thinking.text, "signature": thinking.signature}
        assert plan.blocks[1].kind == "text"
    shares = [p.blocks[0].tokens / 2_000 for p in plans(b, source, n=200, max_tokens=8_000, thinking_share=0.3)]
    assert 0.25 <= statistics.mean(shares) <= 0.35


def test_thinking_never_exceeds_budget_tokens(source: TokenSource) -> None:
    b = body(thinking={"type": "enabled", "budget_tokens": 1_024})
    used = [p.blocks[0].tokens for p in plans(b, source, n=40, max_tokens=8_000, thinking_share=1.0)]
    assert max(used) == 1_024 and min(used) < 1_024


def test_thinking_counts_against_max_tokens(source: TokenSource) -> None:
    b = body(thinking={"type": "enabled", "budget_tokens": 5_000})
    for plan in plans(b, source, max_tokens=1_200, thinking_share=1.0, output_length=OutputLength.parse("500")):
        check_invariants(plan, 1_200)
        assert plan.output_tokens <= 1_200
        if plan.blocks[0].tokens >= 1_200:
            assert [b.kind for b in plan.blocks] == ["thinking"] and plan.stop_reason == "max_tokens"


def test_omitted_thinking_is_billed_but_not_shown(source: TokenSource) -> None:
    b = body(thinking={"type": "enabled", "budget_tokens": 1_024, "display": "omitted"})
    for plan in plans(b, source, n=10):
        thinking = plan.blocks[0]
        assert thinking.pieces == [] and thinking.tokens > 0 and thinking.signature
        assert plan.output_tokens == thinking.tokens + plan.blocks[1].tokens


def test_adaptive_thinking(source: TokenSource) -> None:
    for plan in plans(body(thinking={"type": "adaptive"}), source, n=10, output_length=OutputLength.parse("40")):
        assert [b.kind for b in plan.blocks] == ["thinking", "text"] and plan.blocks[0].tokens == 40


def test_tool_choice_any_calls_one_of_the_tools(source: TokenSource) -> None:
    b = body(tools=[WEATHER, SEARCH, WEB_SEARCH], tool_choice={"type": "any"})
    results = plans(b, source, n=80)
    for plan in results:
        check_invariants(plan, 4096)
        assert plan.stop_reason == "tool_use"
        assert all(bl.kind == "tool_use" for bl in plan.blocks)  # forced: no text before the call
    names = {bl.tool_name for p in results for bl in p.blocks}
    assert names == {"get_weather", "search_docs"}  # never the server tool
    assert any(len(p.blocks) == 2 for p in results)  # parallel calls happen
    assert all(len(p.blocks) <= 2 for p in results)


def test_tool_choice_tool_calls_exactly_that_tool(source: TokenSource) -> None:
    b = body(tools=[WEATHER, SEARCH], tool_choice={"type": "tool", "name": "search_docs"})
    for plan in plans(b, source, parallel_tool_rate=1.0):
        check_invariants(plan, 4096)
        assert [bl.tool_name for bl in plan.blocks] == ["search_docs", "search_docs"]
        assert plan.blocks[0].tool_id != plan.blocks[1].tool_id
        api = plan.blocks[0].api_block()
        assert api["type"] == "tool_use" and api["name"] == "search_docs" and api["input"] == plan.blocks[0].tool_input


def test_disable_parallel_tool_use_is_respected(source: TokenSource) -> None:
    for kind in ({"type": "any"}, {"type": "auto"}, {"type": "tool", "name": "get_weather"}):
        b = body(tools=[WEATHER, SEARCH], tool_choice={**kind, "disable_parallel_tool_use": True})
        for plan in plans(b, source, n=30, parallel_tool_rate=1.0, tool_rate=1.0):
            assert sum(bl.kind == "tool_use" for bl in plan.blocks) == 1


def test_tool_choice_none_never_calls(source: TokenSource) -> None:
    b = body(tools=[WEATHER], tool_choice={"type": "none"})
    for plan in plans(b, source, n=30, tool_rate=1.0):
        assert [bl.kind for bl in plan.blocks] == ["text"]


def test_unknown_forced_tool_is_a_400(source: TokenSource) -> None:
    b = body(tools=[WEATHER], tool_choice={"type": "tool", "name": "nope"})
    with pytest.raises(ApiError) as exc:
        plans(b, source, n=1)
    assert exc.value.status == 400 and "nope" in exc.value.message


def test_a_tool_schema_without_any_valid_input_is_a_400(source: TokenSource) -> None:
    broken = {
        "name": "broken",
        "input_schema": {"type": "object", "properties": {"a": {"$ref": "#/$defs/gone"}}, "required": ["a"]},
    }
    with pytest.raises(ApiError) as exc:
        plans(body(tools=[broken], tool_choice={"type": "any"}), source, n=1)
    assert exc.value.status == 400 and "'broken'" in exc.value.message and "#/$defs/gone" in exc.value.message


@pytest.mark.parametrize("choice", [None, {"type": "auto"}])
def test_auto_calls_at_tool_rate_with_text_before(source: TokenSource, choice: dict[str, Any] | None) -> None:
    b = body(tools=[WEATHER])
    if choice:
        b["tool_choice"] = choice
    results = plans(b, source, n=400, tool_rate=0.3, text_before_tool_rate=0.5)
    called = [p for p in results if p.stop_reason == "tool_use"]
    assert 0.22 <= len(called) / len(results) <= 0.38
    with_text = [p for p in called if p.blocks[0].kind == "text"]
    assert 0.3 <= len(with_text) / len(called) <= 0.7
    for plan in with_text:
        check_invariants(plan, 4096)
        assert plan.blocks[0].text.endswith(".") and plan.blocks[0].tokens < 20
    assert all(p.stop_reason == "end_turn" for p in results if p not in called)
    assert not any(p.stop_reason == "tool_use" for p in plans(b, source, n=50, tool_rate=0.0))


def test_tool_inputs_are_valid_json_streamed_in_small_pieces(source: TokenSource) -> None:
    b = body(tools=[WEATHER, SEARCH], tool_choice={"type": "any"})
    blocks = [bl for p in plans(b, source, n=100) for bl in p.blocks]
    assert all(bl.input_json_pieces for bl in blocks)
    empty_first = sum(bl.input_json_pieces[0] == "" for bl in blocks) / len(blocks)
    assert 0.6 <= empty_first <= 0.95  # "often" an empty first delta, as the real API does


def test_a_tool_call_that_does_not_fit_is_dropped(source: TokenSource) -> None:
    b = body(tools=[SEARCH], tool_choice={"type": "any", "disable_parallel_tool_use": True})
    for plan in plans(b, source, n=20, max_tokens=4):
        assert plan.blocks == [] and plan.stop_reason == "max_tokens" and plan.output_tokens == 4


def test_stop_sequences_at_rate_end_without_the_sequence(source: TokenSource) -> None:
    stops = ["\nHuman:", "END_OF_ANSWER"]
    results = plans(
        body(stop_sequences=stops), source, n=300, stop_sequence_rate=0.2, output_length=OutputLength.parse("50")
    )
    stopped = [p for p in results if p.stop_reason == "stop_sequence"]
    assert 0.13 <= len(stopped) / len(results) <= 0.27
    for plan in stopped:
        check_invariants(plan, 4096)
        assert plan.stop_sequence in stops
        assert plan.output_tokens < 50
        assert not any(s in plan.blocks[0].text for s in stops)
    assert {p.stop_sequence for p in stopped} == set(stops)
    assert all(p.stop_reason == "end_turn" for p in plans(body(), source, n=30, stop_sequence_rate=1.0))


def test_a_stop_sequence_in_the_text_cuts_there(source: TokenSource) -> None:
    # "." ends almost every sentence of the corpus, so the text stops before the first one.
    for plan in plans(body(stop_sequences=["zzz", "."]), source, n=30, stop_sequence_rate=0.0):
        check_invariants(plan, 4096)
        assert plan.stop_reason == "stop_sequence" and plan.stop_sequence == "."
        text = plan.blocks[0].text
        assert "." not in text and 1 <= plan.output_tokens < 40
        # the text is a prefix of what would have been emitted
        assert all(len(encoding().encode(p)) == 1 for p in plan.blocks[0].pieces[:-1])


def test_a_stop_sequence_inside_a_token_cuts_that_token(source: TokenSource) -> None:
    for plan in plans(body(stop_sequences=["e"]), source, n=30, stop_sequence_rate=0.0):
        check_invariants(plan, 4096)
        assert plan.stop_sequence == "e"
        if plan.blocks:
            assert "e" not in plan.blocks[0].text
    assert sum(bool(p.blocks) for p in plans(body(stop_sequences=["e"]), source, n=30)) >= 25


def test_prefill_is_continued(source: TokenSource) -> None:
    b = body(messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Sure, here"}])
    for plan in plans(b, source, n=10):
        check_invariants(plan, 4096)
        assert not plan.blocks[0].text.startswith("Sure, here")


def test_everything_together_respects_max_tokens(source: TokenSource) -> None:
    b = body(
        tools=[WEATHER, SEARCH],
        thinking={"type": "enabled", "budget_tokens": 1_024},
        stop_sequences=["\n\n"],
    )
    rng = random.Random(5)
    s = ContentSettings(tool_rate=0.5, text_before_tool_rate=0.8, stop_sequence_rate=0.3)
    for _ in range(300):
        max_tokens = rng.choice([1, 5, 30, 400, 1_100, 5_000])
        plan = plan_response(b, max_tokens, s, source, rng)
        check_invariants(plan, max_tokens)
        assert plan.blocks[0].kind == "thinking"


def test_reproducible_from_the_seed(source: TokenSource) -> None:
    b = body(tools=[WEATHER, SEARCH], thinking={"type": "enabled", "budget_tokens": 1_024}, stop_sequences=["x"])

    def run(seed: int) -> list[ResponsePlan]:
        s = ContentSettings(tool_rate=0.5, stop_sequence_rate=0.3)
        corpus = TokenSource(seed, corpus_tokens=5_000)
        rng = random.Random(seed)
        return [plan_response(b, 3_000, s, corpus, rng) for _ in range(20)]

    assert run(3) == run(3)
    assert run(3) != run(4)


REQUESTS = st.fixed_dictionaries(
    {},
    optional={
        "tools": st.lists(
            st.sampled_from([WEATHER, SEARCH, WEB_SEARCH]), min_size=1, max_size=3, unique_by=lambda t: t["name"]
        ),
        "tool_choice": st.one_of(
            st.sampled_from([{"type": "auto"}, {"type": "any"}, {"type": "none"}]),
            st.sampled_from(sorted(TOOLS)).map(lambda n: {"type": "tool", "name": n}),
        ).flatmap(
            lambda c: st.booleans().map(lambda d: {**c, "disable_parallel_tool_use": d} if c["type"] != "none" else c)
        ),
        "thinking": st.one_of(
            st.integers(1024, 4000).map(lambda b: {"type": "enabled", "budget_tokens": b}),
            st.just({"type": "adaptive"}),
            st.just({"type": "disabled"}),
        ),
        "stop_sequences": st.lists(st.sampled_from(["\n\n", ".", "e", "zzz", "END"]), max_size=3),
    },
)


@settings(max_examples=300, deadline=None)
@given(
    extra=REQUESTS,
    max_tokens=st.one_of(st.integers(0, 40), st.integers(0, 6000)),
    rates=st.tuples(*[st.floats(0, 1)] * 5),
    seed=st.integers(0, 2**32),
)
def test_any_request_gives_a_consistent_plan(
    source: TokenSource, extra: dict[str, Any], max_tokens: int, rates: tuple[float, ...], seed: int
) -> None:
    b = body(**extra)
    choice = extra.get("tool_choice", {})
    if choice.get("type") == "tool" and choice["name"] not in {t["name"] for t in extra.get("tools", [])}:
        b["tools"] = [*extra.get("tools", []), TOOLS[choice["name"]]]
    callable_tools = {t["name"] for t in b.get("tools", []) if t["name"] in TOOLS}
    tool_rate, stop_rate, before_rate, parallel_rate, share = rates
    s = ContentSettings(
        output_length=OutputLength.parse("1-800"),
        tool_rate=tool_rate,
        stop_sequence_rate=stop_rate,
        text_before_tool_rate=before_rate,
        parallel_tool_rate=parallel_rate,
        thinking_share=share,
    )
    plan = plan_response(b, max_tokens, s, source, random.Random(seed))
    check_invariants(plan, max_tokens)
    if max_tokens == 0:
        assert plan.blocks == [] and plan.stop_reason == "max_tokens"
    thinking = b.get("thinking", {}).get("type") in ("enabled", "adaptive")
    forced = choice.get("type") in ("any", "tool") and bool(callable_tools)
    if forced:  # a forced tool call is prefilled: no thinking before it
        assert all(bl.kind != "thinking" for bl in plan.blocks)
    elif thinking and max_tokens:
        assert plan.blocks[0].kind == "thinking"
        if b["thinking"]["type"] == "enabled":
            assert plan.blocks[0].tokens <= b["thinking"]["budget_tokens"]
    calls = [bl for bl in plan.blocks if bl.kind == "tool_use"]
    if choice.get("type") == "none" or not callable_tools:
        assert not calls
    if choice.get("disable_parallel_tool_use"):
        assert len(calls) <= 1
    if choice.get("type") == "tool":
        assert all(c.tool_name == choice["name"] for c in calls)
    if plan.stop_reason == "stop_sequence":
        assert plan.stop_sequence in b["stop_sequences"]
        assert not any(bl.kind == "text" and plan.stop_sequence in bl.text for bl in plan.blocks)
    if choice.get("type") in ("any", "tool") and callable_tools and plan.stop_reason != "max_tokens":
        assert plan.stop_reason == "tool_use" and all(bl.kind != "text" for bl in plan.blocks)
