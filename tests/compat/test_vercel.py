"""The Vercel AI SDK (`ai` 6 + `@ai-sdk/anthropic` 3, pinned in node/package-lock.json) against the mock.

Each case runs `node node/cases.mjs CASE` (the SDK's defaults; only the base URL points at the mock)
and checks what the SDK returned after its own parsing and validation, and the body it sent.
"""

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mockclaude.processes import Proc

NODE_DIR = Path(__file__).parent / "node"
RECIPE_KEYS = {"name", "servings", "vegetarian", "ingredients", "course"}


def run_case(mock: Proc, case: str, timeout: float = 60.0) -> dict[str, Any]:
    """Run one case of cases.mjs against `mock`; its JSON result, or a failure with the SDK's error."""
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "ai").is_dir():
        pytest.fail("node and tests/compat/node/node_modules are needed: run ./dev compat (it runs npm ci)")
    done = subprocess.run(
        [node, "cases.mjs", case],
        cwd=NODE_DIR,
        env={**os.environ, "MOCK_URL": mock.url},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        pytest.fail(f"Vercel AI SDK case {case} failed:\n{done.stderr.strip()}", pytrace=False)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_generate_text(mock: Proc) -> None:
    r = run_case(mock, "generateText")
    assert r["text"] and r["finishReason"] in ("stop", "length")


def test_stream_text(mock: Proc) -> None:
    r = run_case(mock, "streamText")
    assert len(r["chunks"]) > 1 and "".join(r["chunks"]) == r["text"]


def test_tools_with_zod(mock: Proc) -> None:
    r = run_case(mock, "toolsZod")
    # The SDK validated the input against the zod schema before returning it.
    calls = r["toolCalls"]
    assert calls and all(c["name"] == "weather" and c["input"]["unit"] in ("celsius", "fahrenheit") for c in calls)
    assert r["body"]["tool_choice"]["type"] == "any"


def test_two_step_tool_loop(mock: Proc) -> None:
    r = run_case(mock, "toolLoop")
    first, second = r["steps"]
    # The forced step may call the tool more than once (parallel tool use); each call is executed.
    assert first["toolCalls"] and set(first["toolCalls"]) == {"weather"}
    assert [t["temperature"] for t in first["toolResults"]] == [21] * len(first["toolCalls"])
    assert second["toolCalls"] == [] and second["text"] and r["text"] == second["text"]


def test_thinking(mock: Proc) -> None:
    r = run_case(mock, "thinking")
    assert r["body"]["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert r["reasoning"] and r["text"]


def test_529_is_retried(mock_529_then_ok: Proc) -> None:
    r = run_case(mock_529_then_ok, "retry529")
    assert r["text"]
    with urllib.request.urlopen(f"{mock_529_then_ok.url}/_mockclaude/stats", timeout=10) as resp:
        stats = json.load(resp)
    assert stats["by_status"] == {"200": 1, "529": 1}, stats


def _assert_native_recipe(r: dict[str, Any]) -> None:
    # Native mode: the schema goes in output_config.format, no `json` tool is forced.
    assert r["body"]["output_config"]["format"]["type"] == "json_schema"
    assert "tools" not in r["body"] and "tool_choice" not in r["body"]
    obj = r["object"]  # already parsed and validated against the zod schema by `ai`
    assert set(obj) == RECIPE_KEYS and obj["course"] in ("starter", "main", "dessert")
    assert isinstance(obj["servings"], int) and all(set(i) == {"item", "grams"} for i in obj["ingredients"])


@pytest.mark.parametrize("case", ["generateObject", "outputObject", "streamObject"])
def test_structured_output_native_mode(mock: Proc, case: str) -> None:
    _assert_native_recipe(run_case(mock, case))


def test_sonnet_4_6_default_max_tokens(mock: Proc) -> None:
    r = run_case(mock, "sonnet46Default")
    assert r["body"]["max_tokens"] == 128_000 and r["text"]


def test_forced_tool_on_fable_5(mock: Proc) -> None:
    r = run_case(mock, "fable5ForcedTool")
    assert r["body"]["tool_choice"]["type"] == "any"
    # Validated against the zod schema by the SDK; the model may call it more than once (parallel tool use).
    assert r["toolCalls"] and all(c["name"] == "weather" and c["input"]["city"] for c in r["toolCalls"])
