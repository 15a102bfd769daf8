"""LangChain (`langchain-anthropic` 1.7.10, `ChatAnthropic(base_url=...)`) against the mock, with its defaults."""

import asyncio

from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage

from mockclaude.processes import Proc
from tests.compat.models import Recipe, Weather, get_weather

MODEL = "claude-haiku-4-5"


def chat(mock: Proc, model: str = MODEL, **kw: object) -> ChatAnthropic:
    """ChatAnthropic with nothing changed but where it sends its requests."""
    return ChatAnthropic(model=model, base_url=mock.url, api_key="sk-ant-test", **kw)  # type: ignore[call-arg]


def test_invoke(mock: Proc) -> None:
    msg = chat(mock).invoke("Say hello.")
    assert (
        isinstance(msg, AIMessage) and msg.text and msg.response_metadata["stop_reason"] in ("end_turn", "max_tokens")
    )
    assert msg.usage_metadata and msg.usage_metadata["output_tokens"] > 0


def test_stream(mock: Proc) -> None:
    chunks = list(chat(mock).stream("Tell me about tides."))
    assert len(chunks) > 2 and all(isinstance(c, AIMessageChunk) for c in chunks)
    assert "".join(c.text for c in chunks)


def test_astream(mock: Proc) -> None:
    async def collect() -> list[AIMessageChunk]:
        return [c async for c in chat(mock).astream("Tell me about tides.")]

    chunks = asyncio.run(collect())
    assert len(chunks) > 2 and "".join(c.text for c in chunks)


def test_bind_tools(mock: Proc) -> None:
    msg = chat(mock).bind_tools([get_weather], tool_choice="get_weather").invoke("Weather in Paris?")
    assert msg.tool_calls  # one, or more in parallel: each of the bound tool with valid arguments
    for call in msg.tool_calls:
        assert call["name"] == "get_weather"
        Weather.model_validate(call["args"])


def test_structured_output_function_calling(mock: Proc) -> None:
    recipe = chat(mock).with_structured_output(Recipe).invoke("A recipe for soup.")
    assert isinstance(recipe, Recipe)


def test_thinking_round_trip(mock: Proc) -> None:
    llm = chat(mock, thinking={"type": "enabled", "budget_tokens": 1024})
    first = llm.invoke("Is 1021 prime?")
    blocks = [b for b in first.content if isinstance(b, dict) and b.get("type") == "thinking"]
    assert blocks and blocks[0]["thinking"] and blocks[0]["signature"]
    # The thinking block goes back with its signature; the API checks it on the next turn.
    second = llm.invoke([HumanMessage("Is 1021 prime?"), first, HumanMessage("And 1023?")])
    assert second.text


def test_structured_output_json_schema(mock: Proc) -> None:
    llm = chat(mock)
    recipe = llm.with_structured_output(Recipe, method="json_schema").invoke("A recipe for soup.")
    assert isinstance(recipe, Recipe)  # parsed from the answer's text by PydanticOutputParser


def test_sonnet_4_6_default_max_tokens(mock: Proc) -> None:
    llm = chat(mock, "claude-sonnet-4-6")
    assert llm.max_tokens == 128_000  # langchain-anthropic's model profile, sent as is
    assert llm.invoke("Say hello.").text
