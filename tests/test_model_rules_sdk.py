"""The catalogue's limits and tool_choice rules, seen by the real anthropic SDK on a real mock."""

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from mockclaude.models import CATALOGUE, resolve
from mockclaude.processes import Proc, mock_server

TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
NO_FORCING = ("claude-opus-5-5", "claude-sonnet-5-5", "claude-fable-5-1", "claude-fable-5-2", "claude-mythos-5-1",
              "claude-mythos-5-2")  # fmt: skip
FORCING = ("claude-fable-5", "claude-mythos-5", "claude-opus-5", "claude-sonnet-5", "claude-opus-4-8",
           "claude-sonnet-4-6", "claude-haiku-4-5")  # fmt: skip


@pytest.fixture(scope="module")
def server() -> Iterator[Proc]:
    with mock_server("--ttft", "0.01", "--tps", "5000", "--output-tokens", "3-8", "--seed", "9") as p:
        yield p


@pytest.fixture(scope="module")
def client(server: Proc) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0)


def ask(client: anthropic.Anthropic, model: str, **extra: Any) -> Any:
    return client.messages.create(model=model, max_tokens=4096, messages=[{"role": "user", "content": "Paris?"}],
                                  tools=[TOOL], **extra)  # fmt: skip


@pytest.mark.parametrize("model", NO_FORCING)
def test_models_that_never_force_a_tool(client: anthropic.Anthropic, model: str) -> None:
    for choice in ({"type": "any"}, {"type": "tool", "name": "get_weather"}):
        with pytest.raises(anthropic.BadRequestError) as err:
            ask(client, model, tool_choice=choice)
        assert err.value.body["error"]["message"] == (
            'tool_choice: type "tool" and "any" are not supported for this model.'
        )
    assert ask(client, model, tool_choice={"type": "auto"}).type == "message"


@pytest.mark.parametrize("model", FORCING)
def test_forced_tool_is_called_without_thinking(client: anthropic.Anthropic, model: str) -> None:
    # Adaptive thinking (explicit, or by default on the 5-generation models) accepts forcing and
    # answers with the tool call only.
    thinking = {"type": "adaptive"} if model != "claude-haiku-4-5" else anthropic.NOT_GIVEN
    message = ask(client, model, thinking=thinking, tool_choice={"type": "tool", "name": "get_weather"})
    assert message.stop_reason == "tool_use"
    assert {b.type for b in message.content} == {"tool_use"}
    assert all(b.name == "get_weather" and b.input["city"] for b in message.content)


def test_budget_thinking_with_a_forced_tool_is_the_real_400(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as err:
        ask(client, "claude-sonnet-4-6", thinking={"type": "enabled", "budget_tokens": 1024},
            tool_choice={"type": "any"})  # fmt: skip
    assert err.value.body["error"]["message"] == "Thinking may not be enabled when tool_choice forces tool use."


def test_adaptive_thinking_with_auto_still_thinks(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model="claude-sonnet-4-6", max_tokens=4096, thinking={"type": "adaptive"},
                                     messages=[{"role": "user", "content": "Hi"}])  # fmt: skip
    assert message.content[0].type == "thinking"


def test_sonnet_4_6_takes_128k_output_tokens(client: anthropic.Anthropic) -> None:
    # Streamed: the SDK refuses a non-streaming call this large on its own (10-minute rule).
    hi = [{"role": "user", "content": "Hi"}]
    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=128_000, messages=hi) as stream:
        assert stream.get_final_message().stop_reason == "end_turn"
    with pytest.raises(anthropic.BadRequestError) as err:
        client.messages.create(model="claude-sonnet-4-6", max_tokens=128_001, messages=hi, stream=True)
    assert err.value.body["error"]["message"] == (
        "max_tokens: 128001 > 128000, which is the maximum allowed number of output tokens for claude-sonnet-4-6"
    )


def test_models_endpoint_reports_the_catalogue_numbers(client: anthropic.Anthropic) -> None:
    served = {m.id: m for m in client.models.list(limit=100)}
    assert served["claude-sonnet-4-6"].max_tokens == 128_000
    assert served["claude-sonnet-4-6"].max_input_tokens == 1_000_000
    assert served["claude-sonnet-5-5"].created_at.isoformat().startswith("2026-09-28")
    for info in CATALOGUE:
        if info.lifecycle == "retired":
            continue
        model = served[info.id]
        assert (model.max_tokens, model.max_input_tokens) == (info.max_output_tokens, info.max_input_tokens)
        assert model.capabilities is not None
        assert model.capabilities.structured_outputs.supported == info.structured_outputs
    sonnet4 = resolve("claude-sonnet-4-0")
    assert sonnet4 is not None and not sonnet4.structured_outputs


def test_models_that_think_by_default_show_an_omitted_thinking_block(client: anthropic.Anthropic) -> None:
    hi = [{"role": "user", "content": "Hi"}]
    message = client.messages.create(model="claude-opus-5", max_tokens=8192, messages=hi)
    thinking, text = message.content
    assert thinking.type == "thinking" and thinking.thinking == "" and thinking.signature
    assert text.type == "text" and message.usage.output_tokens > len(text.text.split())
    off = client.messages.create(model="claude-opus-5", max_tokens=8192, messages=hi, thinking={"type": "disabled"})
    assert [b.type for b in off.content] == ["text"]
    # Opus 4.8 runs without thinking unless asked (elgorro/aiquila#410).
    assert [b.type for b in client.messages.create(model="claude-opus-4-8", max_tokens=8192, messages=hi).content] == [
        "text"
    ]
    with client.messages.stream(model="claude-fable-5", max_tokens=8192, messages=hi) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"] and final.content[0].thinking == ""
