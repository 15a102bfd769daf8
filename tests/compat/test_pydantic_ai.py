"""pydantic-ai (`pydantic-ai-slim[anthropic]` 2.78.0, `AnthropicProvider(base_url=...)`) against the mock.

Each case records the request bodies pydantic-ai sent (an httpx2 hook on its own client), to check that
the case exercises what it names (a forced tool_choice, the default max_tokens) and was not rerouted.
"""

import asyncio
import json
from typing import Any

import httpx2
import pytest
from pydantic_ai import Agent, ModelRequest, NativeOutput, ToolCallPart
from pydantic_ai.direct import model_request_sync
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.tools import ToolDefinition

from mockclaude.processes import Proc
from tests.compat.models import Recipe, Weather, get_weather

MODEL = "claude-haiku-4-5"


class Sent(list[dict[str, Any]]):
    """The JSON bodies of the /v1/messages requests one model sent, in order."""

    async def hook(self, request: httpx2.Request) -> None:
        """httpx2 request hook: keep the body of each messages request."""
        if request.url.path.endswith("/v1/messages"):
            self.append(json.loads(request.content))


@pytest.fixture
def sent() -> Sent:
    """A fresh record of the requests of one test."""
    return Sent()


def model(mock: Proc, sent: Sent, name: str = MODEL) -> AnthropicModel:
    """An AnthropicModel with pydantic-ai's defaults, pointed at the mock."""
    http = httpx2.AsyncClient(event_hooks={"request": [sent.hook]})
    return AnthropicModel(name, provider=AnthropicProvider(api_key="sk-ant-test", base_url=mock.url, http_client=http))


def test_run_sync_with_tools_and_tool_output(mock: Proc, sent: Sent) -> None:
    agent = Agent(model(mock, sent), output_type=Recipe, tools=[get_weather])
    result = agent.run_sync("A recipe for soup that suits the weather in Paris.")
    assert isinstance(result.output, Recipe)
    # Tool output: the answer came through the output tool, not text.
    assert {t["name"] for t in sent[-1]["tools"]} == {"get_weather", "final_result"}


def test_run_stream_with_tools_and_tool_output(mock: Proc, sent: Sent) -> None:
    agent = Agent(model(mock, sent), output_type=Recipe, tools=[get_weather])

    async def run() -> Recipe:
        async with agent.run_stream("A recipe for soup that suits the weather in Paris.") as result:
            return await result.get_output()

    assert isinstance(asyncio.run(run()), Recipe)


def test_native_output(mock: Proc, sent: Sent) -> None:
    result = Agent(model(mock, sent), output_type=NativeOutput(Recipe)).run_sync("A recipe for soup.")
    assert isinstance(result.output, Recipe)
    assert sent[-1]["output_config"]["format"]["type"] == "json_schema"


def _forced_tool_call(mock: Proc, sent: Sent, name: str, **settings: Any) -> None:
    """One request whose tool_choice forces get_weather (pydantic-ai's direct API); check the calls it returned."""
    tool = ToolDefinition(name="get_weather", parameters_json_schema=Weather.model_json_schema())
    response = model_request_sync(
        model(mock, sent, name),
        [ModelRequest.user_text_prompt("Weather in Paris?")],
        model_settings={"tool_choice": "required", **settings},
        model_request_parameters=ModelRequestParameters(function_tools=[tool]),
    )
    assert sent[0]["tool_choice"]["type"] == "any", sent[0].get("tool_choice")
    calls = [p for p in response.parts if isinstance(p, ToolCallPart)]  # parallel calls are allowed
    assert calls and all(c.tool_name == "get_weather" for c in calls)
    for call in calls:
        Weather.model_validate(call.args_as_dict())


def test_forced_tool_choice_with_adaptive_thinking(mock: Proc, sent: Sent) -> None:
    _forced_tool_call(mock, sent, "claude-opus-4-6", anthropic_thinking={"type": "adaptive"})
    assert sent[0]["thinking"]["type"] == "adaptive"


def test_forced_tool_on_fable_5(mock: Proc, sent: Sent) -> None:
    _forced_tool_call(mock, sent, "claude-fable-5")


def test_sonnet_4_6_default_max_tokens(mock: Proc, sent: Sent) -> None:
    result = Agent(model(mock, sent, "claude-sonnet-4-6")).run_sync("Say hello.")
    assert result.output and sent[0]["max_tokens"] == 128_000
