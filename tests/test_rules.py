"""Scripted answers (`serve --rules`, the admin API, the pytest plugin) through the real server and SDK.

One server per module; every test works in a scope of its own (its rules and counters are not seen by
the others), which also exercises scopes.
"""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from mockclaude.processes import mock_server
from mockclaude.testing import MockServer
from tests.test_recorded_units import body, stream_exchange, write

pytestmark = pytest.mark.timeout(120)
MODEL = "claude-sonnet-4-5"
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
        "required": ["city"],
    },
}
HIT = "Scripted hit."


@pytest.fixture(scope="module")
def srv() -> Iterator[MockServer]:
    """A fast mock shared by the module's tests (each test uses its own scope)."""
    with mock_server("--ttft", "0.02", "--tps", "2000", "--seed", "3") as p:
        yield MockServer(popen=p.popen, url=p.url, lines=p.lines)


def ask(text: str = "hello", **extra: Any) -> dict[str, Any]:
    """A create request's parameters."""
    return {"model": MODEL, "max_tokens": 200, "messages": [{"role": "user", "content": text}], **extra}


def text_of(message: anthropic.types.Message) -> str:
    """The text blocks of a message, joined."""
    return "".join(b.text for b in message.content if b.type == "text")


def tool_turn(text: str = "weather please") -> dict[str, Any]:
    """A second request of a conversation: the user's question, a get_weather call, its result."""
    return ask(
        messages=[
            {"role": "user", "content": text},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]},
        ],
        tools=[WEATHER],
    )


# Each match kind: the rule's match, a request it matches, and one it does not.
MATCH_KINDS = {
    "user_contains": ({"user_contains": "weather"}, ask("what is the weather"), ask("hello")),
    "user_regex": ({"user_regex": r"^order #\d+$"}, ask("order #42"), ask("my order #42")),
    "system_contains": ({"system_contains": "pirate"}, ask(system="You are a pirate."), ask(system="Be brief.")),
    "system_regex": (
        {"system_regex": "(?i)^you are"},
        ask(system=[{"type": "text", "text": "You are terse"}]),
        ask(system="Answer as..."),
    ),
    "model": ({"model": "claude-haiku-4-5"}, {**ask(), "model": "claude-haiku-4-5"}, ask()),
    "tool_offered": ({"tool_offered": "get_weather"}, ask(tools=[WEATHER]), ask()),
    "tool_result_for": ({"tool_result_for": "get_weather"}, tool_turn(), ask(tools=[WEATHER])),
    "turn": ({"turn": 1}, tool_turn(), ask(tools=[WEATHER])),
    "body": (
        {"body": {"metadata.user_id": "u-7", "messages.0.role": "user"}},
        ask(metadata={"user_id": "u-7"}),
        ask(metadata={"user_id": "u-8"}),
    ),
}


@pytest.mark.parametrize("kind", sorted(MATCH_KINDS))
def test_each_match_kind_answers_what_it_matches_and_only_that(srv: MockServer, kind: str) -> None:
    match, hit, miss = MATCH_KINDS[kind]
    scope = f"match-{kind}"
    srv.add_rules([{"match": match, "respond": {"text": HIT}}], scope=scope)
    c = srv.client(scope=scope, max_retries=0)
    assert text_of(c.messages.create(**hit)) == HIT
    with c.messages.stream(**hit) as s:
        assert s.get_final_text() == HIT
    assert text_of(c.messages.create(**miss)) != HIT  # synthetic
    # Other scopes never see the rule.
    assert text_of(srv.client(scope=f"{scope}-other", max_retries=0).messages.create(**hit)) != HIT


def test_scope_match_key_on_a_server_wide_rule(srv: MockServer) -> None:
    srv.add_rules([{"match": {"scope": "only-here", "user_contains": "scoped"}, "respond": {"text": HIT}}])
    try:
        assert text_of(srv.client(scope="only-here").messages.create(**ask("scoped"))) == HIT
        assert text_of(srv.client(scope="elsewhere").messages.create(**ask("scoped"))) != HIT
        assert text_of(srv.client().messages.create(**ask("scoped"))) != HIT
    finally:
        srv.clear_rules()


def test_tool_use_answer_is_a_real_tool_call_checked_against_the_offered_schema(srv: MockServer) -> None:
    scope = "tool-use"
    srv.add_rules(
        [
            {
                "match": {"user_contains": "Paris"},
                "respond": {"tool_use": {"name": "get_weather", "input": {"city": "Paris"}}},
            },
            {"match": {"user_contains": "bad"}, "respond": {"tool_use": {"name": "get_weather", "input": {"days": 0}}}},
            {"match": {"user_contains": "ghost"}, "respond": {"tool_use": {"name": "ghost_tool", "input": {}}}},
        ],
        scope=scope,
    )
    c = srv.client(scope=scope, max_retries=0)
    for stream in (False, True):
        if stream:
            with c.messages.stream(**ask("weather in Paris", tools=[WEATHER])) as s:
                m = s.get_final_message()
        else:
            m = c.messages.create(**ask("weather in Paris", tools=[WEATHER]))
        call = m.content[-1]
        assert call.type == "tool_use" and call.name == "get_weather" and call.input == {"city": "Paris"}
        assert call.id.startswith("toolu_") and m.stop_reason == "tool_use"
    with pytest.raises(anthropic.BadRequestError, match=r"does not fit its input_schema at .*city"):
        c.messages.create(**ask("bad", tools=[WEATHER]))
    with pytest.raises(anthropic.BadRequestError, match="'ghost_tool', which this request does not offer"):
        c.messages.create(**ask("ghost", tools=[WEATHER]))


def test_content_thinking_stop_reason_and_usage(srv: MockServer) -> None:
    scope = "content"
    srv.add_rules(
        [
            {
                "match": {"user_contains": "blocks"},
                "respond": {
                    "content": [
                        {"type": "thinking", "thinking": "Let me think: Paris."},
                        {"type": "text", "text": "Checking. "},
                        {"type": "tool_use", "name": "get_weather", "input": {"city": "Paris", "days": 2}},
                    ]
                },
            },
            {
                "match": {"user_contains": "ponder"},
                "respond": {
                    "thinking": "Hmm, naïve café ☕.",
                    "text": "Done.",
                    "stop_reason": "max_tokens",
                    "usage": {"input_tokens": 1234, "output_tokens": 77},
                },
            },
            {
                "match": {"user_contains": "stopseq"},
                "respond": {"text": "up to", "stop_reason": "stop_sequence", "stop_sequence": "END"},
            },
        ],
        scope=scope,
    )
    c = srv.client(scope=scope, max_retries=0)
    with c.messages.stream(**ask("blocks", tools=[WEATHER])) as s:
        m = s.get_final_message()
    assert [b.type for b in m.content] == ["thinking", "text", "tool_use"]
    assert m.content[0].thinking == "Let me think: Paris." and m.content[0].signature
    assert m.content[1].text == "Checking. " and m.content[2].input == {"city": "Paris", "days": 2}
    assert m.stop_reason == "tool_use"
    for stream in (False, True):
        if stream:
            with c.messages.stream(**ask("ponder")) as s:
                m = s.get_final_message()
        else:
            m = c.messages.create(**ask("ponder"))
        assert m.content[0].thinking == "Hmm, naïve café ☕." and text_of(m) == "Done."
        assert m.stop_reason == "max_tokens"
        assert (m.usage.input_tokens, m.usage.output_tokens) == (1234, 77)
    m = c.messages.create(**ask("stopseq"))
    assert (text_of(m), m.stop_reason, m.stop_sequence) == ("up to", "stop_sequence", "END")


def test_error_and_fault_answers(srv: MockServer) -> None:
    scope = "errors"
    srv.add_rules(
        [
            {
                "match": {"user_contains": "overload"},
                "respond": {"error": {"status": 529, "type": "overloaded_error", "message": "Scripted overload"}},
            },
            {"match": {"user_contains": "denied"}, "respond": {"error": {"status": 403}}},
            {"match": {"user_contains": "cut"}, "respond": {"fault": "midstream"}},
            {"match": {"user_contains": "drop"}, "respond": {"fault": "500"}},
        ],
        scope=scope,
    )
    c = srv.client(scope=scope, max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as err:
        c.messages.create(**ask("overload"))
    assert err.value.status_code == 529 and err.value.body["error"] == {
        "type": "overloaded_error",
        "message": "Scripted overload",
    }
    assert err.value.response.headers["x-should-retry"] == "true"
    with pytest.raises(anthropic.PermissionDeniedError) as denied:
        c.messages.create(**ask("denied"))
    assert denied.value.body["error"]["type"] == "permission_error"
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"), c.messages.stream(**ask("cut")) as s:
        s.get_final_message()
    with pytest.raises(anthropic.InternalServerError):
        c.messages.create(**ask("drop"))
    stats = srv.scope_stats(scope)
    assert stats["faults_injected"] == {"midstream": 1, "500": 1}


def test_times_then_fall_through_and_sequences(srv: MockServer) -> None:
    scope = "times"
    srv.add_rules(
        [
            {
                "match": {"user_regex": "^fail"},
                "times": 2,
                "respond": {"error": {"status": 529, "type": "overloaded_error", "message": "Overloaded"}},
            },
            {"match": {"user_regex": "^fail"}, "respond": {"text": "recovered"}},
            {"match": {"user_contains": "steps"}, "respond": [{"text": "first"}, {"text": "second"}]},
            {"match": {"user_contains": "loop"}, "times": 4, "respond": [{"text": "a"}, {"text": "b"}]},
        ],
        scope=scope,
    )
    c = srv.client(scope=scope, max_retries=0)
    for _ in range(2):
        with pytest.raises(anthropic.APIStatusError):
            c.messages.create(**ask("fail now"))
    assert text_of(c.messages.create(**ask("fail now"))) == "recovered"
    # The SDK's own retries meet the same rule: two 529s, then the answer.
    srv.reset_scope(scope)
    srv.add_rules(
        [
            {"match": {}, "times": 2, "respond": {"error": {"status": 529}}},
            {"match": {}, "respond": {"text": "third time"}},
        ],
        scope=scope,
    )
    retrying = srv.client(scope=scope, max_retries=2)
    assert text_of(retrying.with_options(timeout=30).messages.create(**ask("x"))) == "third time"
    srv.reset_scope(scope)
    srv.add_rules(
        [
            {"match": {"user_contains": "steps"}, "respond": [{"text": "first"}, {"text": "second"}]},
            {"match": {"user_contains": "loop"}, "times": 4, "respond": [{"text": "a"}, {"text": "b"}]},
        ],
        scope=scope,
    )
    assert [text_of(c.messages.create(**ask("steps"))) for _ in range(2)] == ["first", "second"]
    assert text_of(c.messages.create(**ask("steps"))) not in ("first", "second")  # used up: synthetic
    assert [text_of(c.messages.create(**ask("loop"))) for _ in range(4)] == ["a", "b", "b", "b"]
    listed = srv.admin("GET", f"/rules?scope={scope}")["rules"]
    assert [r["matched"] for r in listed] == [2, 4]


def test_first_match_wins_and_scope_rules_come_before_server_wide_ones(srv: MockServer) -> None:
    srv.add_rules([{"match": {"user_contains": "order", "scope": "order"}, "respond": {"text": "server-wide"}}])
    try:
        c = srv.client(scope="order", max_retries=0)
        assert text_of(c.messages.create(**ask("order"))) == "server-wide"
        srv.add_rules(
            [
                {"match": {"user_contains": "ord"}, "respond": {"text": "scope first"}},
                {"match": {"user_contains": "order"}, "respond": {"text": "scope second"}},
            ],
            scope="order",
        )
        assert text_of(c.messages.create(**ask("order"))) == "scope first"
    finally:
        srv.clear_rules()


def test_scripted_answers_keep_the_timing(tmp_path: Path) -> None:
    text = " ".join(["word"] * 60)
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"rules": [{"match": {}, "respond": {"text": text}}]}))
    with mock_server("--rules", str(rules), "--ttft", "0.6", "--tps", "100", "--chunk-tokens", "1") as p:
        c = anthropic.Anthropic(base_url=p.url, api_key="k", max_retries=0)
        t0 = time.perf_counter()
        first = None
        with c.messages.stream(**ask("time me")) as s:
            for ev in s:
                if ev.type == "content_block_delta" and first is None:
                    first = time.perf_counter() - t0
            m = s.get_final_message()
        total = time.perf_counter() - t0
    assert text_of(m) == text and m.usage.output_tokens == 60
    assert first is not None and 0.55 <= first < 1.5
    # 59 more tokens at 100/s after the first: ~0.59 s of streaming; a loaded box only adds.
    assert total - first >= 0.5


def test_strict_rules_refuse_unmatched_requests_and_list_the_closest_rules(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - match: {user_contains: weather, model: claude-sonnet-4-5}\n"
        "    respond: {text: sunny}\n"
        "  - match: {user_contains: weather, tool_offered: get_weather}\n"
        "    respond: {text: with tool}\n"
        "  - match: {system_contains: nope, turn: 3}\n"
        "    respond: {text: far}\n"
    )
    with mock_server("--rules", str(rules), "--strict-rules", "--ttft", "0") as p:
        c = anthropic.Anthropic(base_url=p.url, api_key="k", max_retries=0)
        assert text_of(c.messages.create(**ask("weather?"))) == "sunny"
        with pytest.raises(anthropic.NotFoundError) as err:
            c.messages.create(**{**ask("weather?"), "model": "claude-haiku-4-5"})
    message = err.value.body["error"]["message"]
    assert err.value.body["error"]["type"] == "not_found_error"
    assert "no rule matches this request (--strict-rules)" in message
    assert f"{rules}:2: model 'claude-sonnet-4-5': the request's model is 'claude-haiku-4-5'" in message
    assert f"{rules}:4: tool_offered ['get_weather']: the tools offered are []" in message
    assert message.index(f"{rules}:2") < message.index(f"{rules}:6")  # closest first


def test_unmatched_requests_get_the_recorded_fixture_when_given(tmp_path: Path) -> None:
    fx = write(tmp_path / "f.jsonl", [stream_exchange(body("recorded question"), "The recorded answer.")])
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - match: {user_contains: scripted}\n    respond: {text: from the rule}\n")
    with mock_server("--rules", str(rules), "--fixtures", str(fx), "--ttft", "0") as p:
        c = anthropic.Anthropic(base_url=p.url, api_key="k", max_retries=0)
        assert text_of(c.messages.create(**body("scripted please"))) == "from the rule"
        assert text_of(c.messages.create(**body("recorded question"))) == "The recorded answer."


def test_admin_api_refuses_bad_rules_with_the_place_of_the_problem(srv: MockServer) -> None:
    with pytest.raises(ValueError, match=r"400 .*rules\[1\]\.match\.user_regex: bad regular expression"):
        srv.add_rules(
            [{"match": {}, "respond": {"text": "ok"}}, {"match": {"user_regex": "("}, "respond": {"text": "x"}}],
            scope="bad",
        )
    assert srv.admin("GET", "/rules?scope=bad")["rules"] == []  # all or nothing
