"""Request validation: the real API's rules and messages, and the never-anything-but-ApiError property."""

import base64
import copy
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockclaude.models import CATALOGUE, ModelInfo, resolve
from mockclaude.processes import Proc, mock_server
from mockclaude.wire.errors import ApiError
from mockclaude.wire.validation import (
    BLANK_TEXT,
    BUDGET_TOO_BIG,
    EMPTY_CONTENT,
    PREFILL_UNSUPPORTED,
    TRAILING_WHITESPACE,
    check_context,
    check_model_limits,
    parse_json,
    validate_count_tokens,
    validate_create,
)

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 24).decode()
PNG_9000_WIDE = base64.b64encode(
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + (9000).to_bytes(4, "big") + (100).to_bytes(4, "big") + b"\0" * 8
).decode()
PDF_101_PAGES = base64.b64encode(
    b"%PDF-1.4\n" + b"<< /Type /Pages /Count 101 >>\n" + b"<< /Type /Page >>\n" * 101
).decode()
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\0" * 24).decode()


CLOSED_OBJECT = {"type": "object", "additionalProperties": False}


def body(**changes: Any) -> dict[str, Any]:
    """A valid create body with some top-level fields replaced (None deletes)."""
    base: dict[str, Any] = {
        "model": "claude-opus-4-8",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Hello"}],
    }
    for key, value in changes.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def user(*content: Any) -> dict[str, Any]:
    return {"role": "user", "content": list(content)}


def assistant(*content: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": list(content)}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def image(media_type: str, data: str) -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def tool_result_with_image(ident: str) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": ident, "content": [image("image/png", PNG)]}


def tool_use(ident: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": ident, "name": "get_weather", "input": {"city": "Paris"}}


def tool_result(ident: str) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": ident, "content": "sunny"}


def rejection(fn: Any, *args: Any) -> str:
    with pytest.raises(ApiError) as err:
        fn(*args)
    assert err.value.status == 400 and err.value.error_type == "invalid_request_error"
    return err.value.message


# parse_json


def test_parse_json_returns_the_value() -> None:
    assert parse_json(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        # The real text (reference §1.5, anthropics/claude-code#77525), at another position.
        (b'{"a": "x\x01"}', "unexpected control character in string: line 1 column 9 (char 8)"),
        (b"", "Input is a zero-length, empty document: line 1 column 1 (char 0)"),
        (b'{"a":1,}', "trailing comma is not allowed: line 1 column 7 (char 6)"),
        (b'{"a": NaN}', "unexpected character, expected a JSON value: line 1 column 7 (char 6)"),
        (b'{"a": 1e999}', "number is infinity when parsed as double: line 1 column 7 (char 6)"),
        (b"\xff\xfe", "str is not valid UTF-8: surrogates not allowed: line 1 column 1 (char 0)"),
        (b"[" * 5000 + b"]" * 5000, "depth limit exceeded: line 1 column 1026 (char 1025)"),
    ],
)
def test_parse_json_errors_read_like_the_real_api(raw: bytes, message: str) -> None:
    assert rejection(parse_json, raw) == f"The request body is not valid JSON: {message}"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_parse_json_raises_only_api_errors(raw: bytes) -> None:
    try:
        parse_json(raw)
    except ApiError as err:
        assert err.status == 400


# validate_create: accepted shapes


@pytest.mark.parametrize(
    "good",
    [
        body(),
        body(max_tokens=0),  # 2026: cache pre-warming
        body(messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": ""}]),
        body(messages=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]),  # merged now
        body(messages=[user(text("a")), {"role": "system", "content": "Be brief."}, assistant(text("ok"))]),
        body(
            messages=[{"role": "system", "content": [], "output_config": {"effort": "low"}}, user(text("a"))]
        ),
        body(
            messages=[
                user(text("q")),
                assistant(text("let me look"), tool_use("t1")),
                user(tool_result("t1")),
            ]
        ),
        body(
            messages=[
                user(text("q")),
                assistant(tool_use("t1"), tool_use("t2")),
                user(tool_result("t2"), tool_result("t1"), text("thanks")),
            ]
        ),
        body(
            system="You are terse.",
            temperature=0,
            top_p=0.5,
            top_k=3,
            stop_sequences=["END", "\n\nHuman:"],
            stream=True,
        ),
        body(system=[{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}]),
        body(metadata={"user_id": None}, service_tier="auto", speed="fast", inference_geo="us"),
        body(
            tools=[
                {
                    "name": "get_weather",
                    "description": "d",
                    "input_schema": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                        "required": ["city"],
                    },
                }
            ],
            tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        ),
        body(
            tools=[
                {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
                {"type": "code_execution_20991231", "name": "future_tool"},
            ]
        ),
        body(thinking={"type": "enabled", "budget_tokens": 1024}, max_tokens=2048),
        body(thinking={"type": "adaptive", "display": "omitted"}, output_config={"effort": "xhigh"}),
        body(output_config={"format": {"type": "json_schema", "schema": CLOSED_OBJECT}}),
        body(
            messages=[
                user(
                    image("image/png", PNG),
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": "doc"},
                    },
                    text("describe"),
                )
            ]
        ),
        body(
            messages=[
                user(text("q")),
                assistant(
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "redacted_thinking", "data": "abc"},
                    text("ok"),
                ),
                user(text("more")),
            ]
        ),
        body(unknown_future_field={"anything": [1, 2]}, container="c1", context_management={"edits": []}),
    ],
)
def test_valid_bodies_pass(good: dict[str, Any]) -> None:
    assert validate_create(good) is None


# validate_create: rejections with the real texts


CASES: list[tuple[str, dict[str, Any] | Any, str]] = [
    ("missing max_tokens", body(max_tokens=None), "max_tokens: Field required"),
    ("missing model", body(model=None), "model: Field required"),
    ("missing messages", body(messages=None), "messages: Field required"),
    ("model not a string", body(model=3), "model: Input should be a valid string"),
    ("empty model", body(model=""), "model: String should have at least 1 character"),
    (
        "max_tokens text",
        body(max_tokens="10"),
        "max_tokens: Input should be a valid integer, unable to parse string as an integer",
    ),
    (
        "max_tokens fraction",
        body(max_tokens=1.5),
        "max_tokens: Input should be a valid integer, got a number with a fractional part",
    ),
    ("max_tokens bool", body(max_tokens=True), "max_tokens: Input should be a valid integer"),
    ("max_tokens negative", body(max_tokens=-1), "max_tokens: Input should be greater than or equal to 0"),
    ("messages not a list", body(messages={"role": "user"}), "messages: Input should be a valid list"),
    ("no messages", body(messages=[]), "messages: at least one message is required"),
    ("message not an object", body(messages=["hi"]), "messages.0: Input should be a valid dictionary"),
    (
        "bad role",
        body(messages=[{"role": "human", "content": "x"}]),
        "messages.0.role: Input should be 'user', 'assistant' or 'system'",
    ),
    ("missing content", body(messages=[{"role": "user"}]), "messages.0.content: Field required"),
    (
        "empty content mid-conversation",
        body(
            messages=[
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": []},
                {"role": "user", "content": "b"},
            ]
        ),
        "messages.1: all messages must have non-empty content except for the optional "
        "final assistant message",
    ),
    (
        "empty user content",
        body(messages=[{"role": "user", "content": ""}]),
        "messages.0: all messages must have non-empty content except for the optional "
        "final assistant message",
    ),
    ("empty text block", body(messages=[user(text(""))]), "messages: text content blocks must be non-empty"),
    (
        "blank text block",
        body(messages=[user(text(" \n"))]),
        "messages: text content blocks must contain non-whitespace text",
    ),
    (
        "blank string content",
        body(messages=[{"role": "user", "content": "   "}]),
        "messages: text content blocks must contain non-whitespace text",
    ),
    (
        "prefill trailing space",
        body(messages=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b "}]),
        "messages: final assistant content cannot end with trailing whitespace",
    ),
    (
        "content not list",
        body(messages=[{"role": "user", "content": 5}]),
        "messages.0.content: Input should be a valid list",
    ),
    (
        "unknown block",
        body(messages=[user({"type": "foo"})]),
        "messages.0.content.0: Input tag 'foo' found using 'type' does not match any of the expected tags: "
        "'text', 'image', 'document', 'search_result', 'thinking', 'redacted_thinking', "
        "'tool_use', 'tool_result', "
        "'server_tool_use', 'web_search_tool_result', 'web_fetch_tool_result', 'advisor_tool_result', "
        "'code_execution_tool_result', 'bash_code_execution_tool_result', "
        "'text_editor_code_execution_tool_result', "
        "'tool_search_tool_result', 'mcp_tool_use', 'mcp_tool_result', "
        "'mcp_tool_listing', 'container_upload', "
        "'compaction', 'tool_addition', 'tool_removal', 'fallback'",
    ),
    (
        "block without type",
        body(messages=[user({"text": "x"})]),
        "messages.0.content.0: Unable to extract tag using discriminator 'type'",
    ),
    (
        "text missing",
        body(messages=[user({"type": "text"})]),
        "messages.0.content.0.text.text: Field required",
    ),
    (
        "tool_use input not dict",
        body(
            messages=[user(text("q")), assistant({"type": "tool_use", "id": "t", "name": "n", "input": "x"})]
        ),
        "messages.1.content.0.tool_use.input: Input should be a valid dictionary",
    ),
    (
        "thinking without signature",
        body(messages=[user(text("q")), assistant({"type": "thinking", "thinking": "x"}), user(text("r"))]),
        "messages.1.content.0.thinking.signature: Field required",
    ),
    (
        "tool_use without result",
        body(messages=[user(text("q")), assistant(tool_use("toolu_01SWBk")), user(text("what?"))]),
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_01SWBk. "
        "Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
    ),
    (
        "orphan tool_result",
        body(messages=[user(text("hi"), tool_result("toolu_X"))]),
        "messages.0.content.1: unexpected `tool_use_id` found in `tool_result` blocks: toolu_X. "
        "Each `tool_result` block must have a corresponding `tool_use` block in the previous message.",
    ),
    (
        "bad media type",
        body(messages=[user(image("image/bmp", PNG))]),
        "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', "
        "'image/gif' or 'image/webp'",
    ),
    (
        "image is not an image",
        body(messages=[user(image("image/png", "aGVsbG8="))]),
        "messages.0.content.0.image.source.base64.data: Image does not match the "
        "provided media type image/png",
    ),
    (
        "image of another type",
        body(messages=[user(image("image/jpeg", PNG))]),
        "messages.0.content.0.image.source.base64: The image was specified using the image/jpeg media type, "
        "but the image appears to be a image/png image",
    ),
    (
        "image source type",
        body(messages=[user({"type": "image", "source": {"type": "path"}})]),
        "messages.0.content.0.image.source: Input tag 'path' found using 'type' does not match any of the "
        "expected tags: 'base64', 'url', 'file'",
    ),
    ("temperature too high", body(temperature=1.5), "temperature: Input should be less than or equal to 1"),
    (
        "temperature text",
        body(temperature="hot"),
        "temperature: Input should be a valid number, unable to parse string as a number",
    ),
    ("top_k negative", body(top_k=-1), "top_k: Input should be greater than or equal to 0"),
    ("stream not bool", body(stream="yes"), "stream: Input should be a valid boolean"),
    (
        "stop_sequences item",
        body(stop_sequences=["a", 1]),
        "stop_sequences.1: Input should be a valid string",
    ),
    ("system block", body(system=[{"type": "text"}]), "system.0.text.text: Field required"),
    (
        "tool name pattern",
        body(tools=[{"name": "get weather", "input_schema": {"type": "object"}}]),
        "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'",
    ),
    (
        "tool name too long",
        body(tools=[{"name": "x" * 129, "input_schema": {"type": "object"}}]),
        "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'",
    ),
    ("tool without schema", body(tools=[{"name": "t"}]), "tools.0.custom.input_schema: Field required"),
    (
        "tool schema not object",
        body(tools=[{"name": "t", "input_schema": {"type": "string"}}]),
        "tools.0.custom.input_schema.type: Input should be 'object'",
    ),
    (
        "tool schema broken",
        body(tools=[{"name": "t", "input_schema": {"type": "object", "required": "city"}}]),
        "tools.0.custom.input_schema: JSON schema is invalid. It must match JSON Schema draft 2020-12 "
        "(https://json-schema.org/draft/2020-12). Learn more about tool use at https://docs.claude.com/en/docs/tool-use.",
    ),
    (
        "duplicate tools",
        body(tools=[{"name": "t", "input_schema": {"type": "object"}}] * 2),
        "tools: Tool names must be unique.",
    ),
    (
        "unknown tool type",
        body(tools=[{"type": "magic", "name": "m"}]),
        "tools.0: Input tag 'magic' found using 'type' does not match any of the expected tags: 'custom', "
        "'bash_20250124', 'browser_toolset_20260801', 'code_execution_20250522', 'code_execution_20250825', "
        "'code_execution_20260120', 'code_execution_20260521', "
        "'computer_toolset_20260801', 'memory_20250818', "
        "'text_editor_20250124', 'text_editor_20250429', 'text_editor_20250728', "
        "'tool_search_tool_bm25_20251119', "
        "'tool_search_tool_bm25', 'tool_search_tool_regex_20251119', "
        "'tool_search_tool_regex', 'web_fetch_20250910', "
        "'web_fetch_20260209', 'web_fetch_20260309', 'web_fetch_20260318', 'web_search_20250305', "
        "'web_search_20260209', 'web_search_20260318'",
    ),
    (
        "tool_choice type",
        body(tool_choice={"type": "required"}),
        "tool_choice: Input tag 'required' found using 'type' does not match any of the expected tags: "
        "'auto', 'any', 'tool', 'none'",
    ),
    ("tool_choice name", body(tool_choice={"type": "tool"}), "tool_choice.tool.name: Field required"),
    ("tool_choice string", body(tool_choice="auto"), "tool_choice: Input should be a valid dictionary"),
    (
        "thinking budget small",
        body(thinking={"type": "enabled", "budget_tokens": 512}),
        "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
    ),
    (
        "thinking budget missing",
        body(thinking={"type": "enabled"}),
        "thinking.enabled.budget_tokens: Field required",
    ),
    (
        "thinking budget >= max_tokens",
        body(thinking={"type": "enabled", "budget_tokens": 1024}),
        BUDGET_TOO_BIG,
    ),
    (
        "thinking type",
        body(thinking={"type": "on"}),
        "thinking: Input tag 'on' found using 'type' does not match any of the expected tags: "
        "'enabled', 'disabled', 'adaptive', 'between_tools'",
    ),
    (
        "thinking with temperature",
        body(thinking={"type": "adaptive"}, temperature=0.2),
        "temperature may only be set to 1 when thinking is enabled or in adaptive mode",
    ),
    ("metadata user_id", body(metadata={"user_id": 7}), "metadata.user_id: Input should be a valid string"),
    (
        "service tier",
        body(service_tier="priority"),
        "service_tier: Input should be 'auto' or 'standard_only'",
    ),
    (
        "effort",
        body(output_config={"effort": "extreme"}),
        "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'",
    ),
    (
        "blank stop sequence",
        body(stop_sequences=["\n"]),
        "stop_sequences: each stop sequence must contain non-whitespace",
    ),
    (
        "blank system block",
        body(system=[text(" ")]),
        "system: text content blocks must contain non-whitespace text",
    ),
    ("empty system block", body(system=[text("")]), "system: text content blocks must be non-empty"),
    (
        "thinking with forced tool",
        body(
            thinking={"type": "enabled", "budget_tokens": 1024},
            max_tokens=4096,
            tools=[{"name": "t", "input_schema": {"type": "object"}}],
            tool_choice={"type": "any"},
        ),
        "Thinking may not be enabled when tool_choice forces tool use.",
    ),
    (
        "five cache breakpoints",
        body(
            system=[{**text("s"), "cache_control": {"type": "ephemeral"}}],
            tools=[
                {"name": f"t{i}", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}
                for i in range(3)
            ],
            messages=[user({**text("hi"), "cache_control": {"type": "ephemeral"}})],
        ),
        "A maximum of 4 blocks with cache_control may be provided. Found 5.",
    ),
    (
        "image over 5 MB",
        body(messages=[user(image("image/png", PNG + "A" * (5 * 1024 * 1024)))]),
        f"messages.0.content.0.image.source.base64: image exceeds 5 MB maximum: {len(PNG) + 5 * 1024 * 1024} "
        "bytes > 5242880 bytes",
    ),
    (
        "image too wide",
        body(messages=[user(image("image/png", PNG_9000_WIDE))]),
        "messages.0.content.0.image.source.base64.data: At least one of the image dimensions exceed max "
        "allowed size: 8000 pixels",
    ),
    (
        "pdf over 100 pages",
        body(
            messages=[
                user(
                    {
                        "type": "document",
                        "source": {"type": "base64", "media_type": "application/pdf", "data": PDF_101_PAGES},
                    },
                    text("summarize"),
                )
            ]
        ),
        "messages.0.content.0.pdf.source.base64.data: A maximum of 100 PDF pages may be provided.",
    ),
    (
        "document source type",
        body(
            messages=[
                user(
                    {
                        "type": "document",
                        "source": {"type": "base64", "media_type": "text/plain", "data": "eA=="},
                    }
                )
            ]
        ),
        "messages.0.content.0.pdf.source.base64.media_type: Input should be 'application/pdf'",
    ),
    (
        "images inside tool results count too",
        body(
            messages=[
                user(*[image("image/png", PNG)] * 100),
                assistant(tool_use("t1")),
                user(tool_result_with_image("t1")),
            ]
        ),
        "too many images and documents: 101 + 0 > 100",
    ),
    (
        "too many images and documents",
        body(messages=[user(*[image("image/png", PNG)] * 101)]),
        "too many images and documents: 101 + 0 > 100",
    ),
    (
        "tool_use id pattern",
        body(messages=[user(text("q")), assistant(tool_use("call:1")), user(tool_result("call:1"))]),
        "messages.1.content.0.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'",
    ),
    (
        "server_tool_use id pattern",
        body(
            messages=[
                user(text("q")),
                assistant({"type": "server_tool_use", "id": "toolu_1", "name": "web_search", "input": {}}),
            ]
        ),
        "messages.1.content.0.server_tool_use.id: String should match pattern '^srvtoolu_[a-zA-Z0-9_]+$'",
    ),
    ("body is a list", [body()], "Input should be a valid dictionary or object to extract fields from"),
]


@pytest.mark.parametrize(("bad", "message"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_bodies_get_the_real_message(bad: Any, message: str) -> None:
    assert rejection(validate_create, bad) == message


def test_strict_mode_rejects_unknown_top_level_fields() -> None:
    assert validate_create(body(extra_body={"a": 1})) is None
    assert rejection(lambda b: validate_create(b, strict=True), body(extra_body={"a": 1})) == (
        "extra_body: Extra inputs are not permitted"
    )
    assert validate_create(body(temperature=0.5, context_management={}, stream=False), strict=True) is None
    assert rejection(lambda b: validate_count_tokens(b, strict=True), body()) == (
        "max_tokens: Extra inputs are not permitted"
    )
    assert validate_count_tokens(body(max_tokens=None), strict=True) is None


NO_FORCING = ("claude-opus-5-5", "claude-sonnet-5-5", "claude-fable-5-1", "claude-fable-5-2", "claude-mythos-5-1",
              "claude-mythos-5-2")  # fmt: skip


@pytest.mark.parametrize("choice", [{"type": "any"}, {"type": "tool", "name": "t"}])
def test_forced_tool_choice_per_model(choice: dict[str, Any]) -> None:
    forced = body(tools=[{"name": "t", "input_schema": {"type": "object"}}], tool_choice=choice)
    for name in NO_FORCING:
        message = 'tool_choice: type "tool" and "any" are not supported for this model.'
        assert rejection(check_model_limits, forced, model(name)) == message
    # Fable 5 and Mythos 5 (5.0) accept forcing now, as do the models that can think adaptively.
    for name in ("claude-fable-5", "claude-mythos-5", "claude-opus-5", "claude-opus-4-8", "claude-haiku-4-5"):
        assert check_model_limits(forced, model(name)) is None
    adaptive = {**forced, "thinking": {"type": "adaptive"}}
    assert validate_create(adaptive) is None
    assert check_model_limits(adaptive, model("claude-sonnet-4-6")) is None
    budget = {**forced, "thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 4096}
    assert rejection(validate_create, budget) == "Thinking may not be enabled when tool_choice forces tool use."


def test_sampling_while_thinking() -> None:
    thinking = {"type": "enabled", "budget_tokens": 1024}
    assert rejection(validate_create, body(thinking=thinking, max_tokens=4096, top_k=5)).startswith(
        "`top_k` must be unset when thinking is enabled."
    )
    assert rejection(validate_create, body(thinking={"type": "adaptive"}, top_p=0.9)).startswith("`top_p` must be")
    assert validate_create(body(thinking=thinking, max_tokens=4096, top_p=0.95, temperature=1)) is None


@pytest.mark.parametrize("effort", ["xhigh", "max"])
def test_top_effort_needs_thinking_on_opus_5(effort: str) -> None:
    for kind in ("disabled", "between_tools"):
        request = body(thinking={"type": kind}, output_config={"effort": effort})
        info = model("claude-sonnet-5-5" if kind == "between_tools" else "claude-opus-5")
        assert rejection(check_model_limits, request, info) == (
            f"output_config.effort '{effort}' is not supported when thinking is disabled on this model. "
            "Use effort 'high' or below, or enable thinking."
        )
    assert check_model_limits(body(thinking={"type": "disabled"}, output_config={"effort": "high"}),
                              model("claude-opus-5")) is None  # fmt: skip
    assert check_model_limits(body(thinking={"type": "disabled"}, output_config={"effort": effort}),
                              model("claude-sonnet-5")) is None  # fmt: skip


def test_count_tokens_needs_no_max_tokens() -> None:
    assert validate_count_tokens(body(max_tokens=None)) is None
    assert (
        validate_count_tokens(body(max_tokens=None, thinking={"type": "enabled", "budget_tokens": 4096}))
        is None
    )
    assert rejection(validate_count_tokens, body(messages=[])) == "messages: at least one message is required"
    assert rejection(validate_count_tokens, body(model=None)) == "model: Field required"


# Model-dependent rules


def model(name: str) -> ModelInfo:
    info = resolve(name)
    assert info is not None
    return info


def test_max_tokens_over_the_models_limit() -> None:
    message = rejection(check_model_limits, body(max_tokens=21333), model("claude-3-opus-20240229"))
    # reference §1.5, anthropics/claude-code#11302, verbatim
    assert message == (
        "max_tokens: 21333 > 4096, which is the maximum allowed number of output tokens "
        "for claude-3-opus-20240229"
    )
    assert check_model_limits(body(max_tokens=128_000), model("claude-opus-4-8")) is None


def test_prefill_only_on_models_that_allow_it() -> None:
    prefill = body(
        messages=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "The answer is"}]
    )
    assert rejection(check_model_limits, prefill, model("claude-opus-4-6")) == PREFILL_UNSUPPORTED
    assert check_model_limits(prefill, model("claude-sonnet-4-5")) is None


def test_system_role_only_from_opus_4_8() -> None:
    system = {"role": "system", "content": "Be brief."}
    mid = body(messages=[user(text("a")), system, assistant(text("ok")), user(text("b"))])
    assert check_model_limits(mid, model("claude-opus-4-8")) is None
    assert rejection(check_model_limits, mid, model("claude-opus-4-6")) == (
        "role 'system' is not supported on this model"
    )


def test_system_message_placement() -> None:
    opus = model("claude-opus-4-8")
    first = body(messages=[{"role": "system", "content": "Rules."}, user(text("a"))])
    assert rejection(check_model_limits, first, opus) == (
        "messages.0: use the top-level 'system' parameter for the initial system prompt; the directive-only "
        "form (content: [] with output_config) is accepted at any position"
    )
    directive = body(messages=[{"role": "system", "content": [], "output_config": {}}, user(text("a"))])
    assert rejection(check_model_limits, directive, opus) == (
        "messages.0: role 'system' must precede an 'assistant' message or end the array"
    )
    before_user = body(messages=[user(text("a")), {"role": "system", "content": "x"}, user(text("b"))])
    assert rejection(check_model_limits, before_user, opus) == (
        "messages.1: role 'system' must precede an 'assistant' message or end the array"
    )
    last = body(messages=[user(text("a")), {"role": "system", "content": "x"}])
    assert check_model_limits(last, opus) is None


def test_thinking_modes_per_model() -> None:
    enabled = body(thinking={"type": "enabled", "budget_tokens": 2048}, max_tokens=4096)
    assert rejection(check_model_limits, enabled, model("claude-3-haiku-20240307")) == (
        "'claude-3-haiku-20240307' does not support thinking."
    )
    assert rejection(check_model_limits, enabled, model("claude-opus-4-7")) == (
        '"thinking.type.enabled" is not supported for this model. '
        'Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.'
    )
    disabled = body(thinking={"type": "disabled"})
    assert rejection(check_model_limits, disabled, model("claude-fable-5")) == (
        '"thinking.type.disabled" is not supported for this model.'
    )
    assert check_model_limits(disabled, model("claude-3-haiku-20240307")) is None
    assert check_model_limits(enabled, model("claude-sonnet-4-6")) is None


def test_sampling_parameters_per_model() -> None:
    assert rejection(check_model_limits, body(temperature=0.3), model("claude-opus-4-7")) == (
        "temperature is deprecated for this model."
    )
    assert check_model_limits(body(temperature=1), model("claude-opus-4-7")) is None  # the default is fine
    both = body(temperature=0.3, top_p=0.9)
    assert rejection(check_model_limits, both, model("claude-opus-4-6")) == (
        "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
    )
    assert check_model_limits(both, model("claude-3-haiku-20240307")) is None


def test_context_window() -> None:
    info = model("claude-sonnet-4-5")
    assert (
        rejection(check_context, 203284, 1024, info) == "prompt is too long: 203284 tokens > 200000 maximum"
    )
    assert rejection(check_context, 178959, 64000, info) == (
        "input length and `max_tokens` exceed context limit: 178959 + 64000 > 200000, "
        "decrease input length or `max_tokens` and try again"
    )
    assert check_context(100_000, 64_000, info) is None


# A conversation's history is checked once (wire.validation._PASSED_MESSAGES).


def conversation(tag: str, last: dict[str, Any]) -> dict[str, Any]:
    """A body whose history (unique to `tag`) uses a tool, then `last`."""
    history = [
        user(text(f"order {tag}?")),
        assistant(text("Looking."), tool_use(f"toolu_{tag}")),
        user(tool_result(f"toolu_{tag}")),
        assistant(text(f"It shipped ({tag}).")),
    ]
    return body(messages=[*history, last])


def test_a_resent_history_is_not_checked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    import mockclaude.wire.validation as validation

    checked: list[str] = []
    real = validation._validate_block
    monkeypatch.setattr(validation, "_validate_block", lambda b, *a: checked.append(b["type"]) or real(b, *a))
    validate_create(copy.deepcopy(conversation("resent", user(text("first")))))
    assert checked == ["text", "text", "tool_use", "tool_result", "text", "text"]
    checked.clear()
    validate_create(copy.deepcopy(conversation("resent", user(text("second"), text("turn")))))
    assert checked == ["text", "text"]  # the new last turn only


def test_the_rules_of_the_last_message_apply_to_a_kept_one() -> None:
    empty = {"role": "assistant", "content": ""}  # allowed only as the final assistant turn
    trailing = assistant(text("Sure "))  # allowed only before the final turn
    validate_create(conversation("last1", empty))
    validate_create(body(messages=[user(text("q")), trailing, user(text("r"))]))
    assert rejection(validate_create, body(messages=[user(text("q")), empty, user(text("r"))])) == (
        f"messages.1: {EMPTY_CONTENT}"
    )
    assert rejection(validate_create, body(messages=[user(text("q")), trailing])) == TRAILING_WHITESPACE


def test_a_failing_message_fails_every_time() -> None:
    bad = conversation("fails", user(text("next")))
    bad["messages"][1]["content"][1]["input"] = "not a dict"
    for _ in range(2):
        assert rejection(validate_create, copy.deepcopy(bad)) == (
            "messages.1.content.1.tool_use.input: Input should be a valid dictionary"
        )


def test_tool_pairing_across_merged_turns() -> None:
    # Consecutive messages of one role are one turn: a location names its last message and counts
    # blocks from the turn's first.
    orphan = body(messages=[user(text("q")), user(text("more"), tool_result("toolu_X"))])
    assert rejection(validate_create, orphan) == (
        "messages.1.content.2: unexpected `tool_use_id` found in `tool_result` blocks: toolu_X. "
        "Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
    )
    unanswered = [user(text("q")), assistant(tool_use("toolu_A")), assistant(tool_use("toolu_B"))]
    answered_a = body(messages=[*unanswered, user(tool_result("toolu_A")), user(text("then"))])
    assert rejection(validate_create, answered_a) == (
        "messages.2: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_B. "
        "Each `tool_use` block must have a corresponding `tool_result` block in the next message."
    )
    both = [*unanswered, user(text("ok")), user(tool_result("toolu_B"), tool_result("toolu_A"))]
    validate_create(body(messages=both))


# The invariant: None or ApiError(400), never any other exception.

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
VALID_BODIES = [
    body(
        messages=[
            user(text("q")),
            assistant(text("t"), tool_use("t1")),
            user(tool_result("t1"), text("more")),
        ],
        tools=[{"name": "get_weather", "input_schema": {"type": "object", "properties": {}}}],
        tool_choice={"type": "auto"},
        system=[text("sys")],
        thinking={"type": "enabled", "budget_tokens": 1024},
        max_tokens=4096,
        metadata={"user_id": "u"},
        stop_sequences=["x"],
    ),
    body(
        messages=[
            user(
                image("image/jpeg", JPEG),
                {"type": "document", "source": {"type": "content", "content": [text("c")]}},
            ),
            {"role": "assistant", "content": "Sure:"},
        ],
        output_config={"effort": "low"},
    ),
]


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            found += _paths(inner, (*prefix, i))
    return found


@st.composite
def mutated_bodies(draw: st.DrawFn) -> Any:
    """A valid body with one node replaced by arbitrary JSON, or deleted."""
    result = copy.deepcopy(draw(st.sampled_from(VALID_BODIES)))
    path = draw(st.sampled_from(_paths(result)))
    replacement = draw(json_values)
    if not path:
        return replacement
    parent = result
    for part in path[:-1]:
        parent = parent[part]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return result


def test_deep_nesting_under_unknown_keys_is_harmless() -> None:
    deep = b'[{"content":' * 500 + b"1" + b"}]" * 500
    raw = b'{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"x",'
    raw += b'"cache_control":{"type":"ephemeral"},"content":' + deep + b"}]}]}"
    assert validate_create(parse_json(raw)) is None


def _only_api_errors(fn: Any, value: Any) -> None:
    try:
        fn(value)
    except ApiError as err:
        assert err.status == 400 and err.message


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_never_raises_anything_else(value: Any) -> None:
    _only_api_errors(validate_create, value)
    _only_api_errors(validate_count_tokens, value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_bodies())
def test_mutated_bodies_never_raise_anything_else(value: Any) -> None:
    _only_api_errors(validate_create, value)
    _only_api_errors(validate_count_tokens, value)
    _only_api_errors(lambda v: validate_create(v, strict=True), value)
    info = CATALOGUE[hash(json.dumps(value, sort_keys=True, default=str)) % len(CATALOGUE)]
    if isinstance(value, dict):
        _only_api_errors(lambda v: check_model_limits(v, info), value)


@settings(max_examples=100, deadline=None)
@given(mutated_bodies())
def test_serialized_mutations_round_trip_through_parse_json(value: Any) -> None:
    raw = json.dumps(value).encode()
    # orjson, like the real API's parser, reads integers beyond 64 bits as floats.
    expected = json.loads(raw, parse_int=lambda s: int(s) if -(2**63) <= int(s) < 2**64 else float(s))
    assert parse_json(raw) == expected


# Through the real server and the real SDK: what a client actually sees.


@pytest.fixture(scope="module")
def server() -> Iterator[Proc]:
    with mock_server("--ttft", "0.01", "--tps", "5000", "--output-tokens", "3-5", "--seed", "3") as p:
        yield p


def _post_raw(p: Proc, raw: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{p.url}/v1/messages",
        data=raw,
        method="POST",
        headers={
            "content-type": "application/json",
            "x-api-key": "sk-ant-test",
            "anthropic-version": "2023-06-01",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_server_reports_bad_json_like_the_real_api(server: Proc) -> None:
    status, payload = _post_raw(server, b'{"model": "claude-opus-4-8", "x": "\x01"}')
    assert status == 400
    assert payload["error"] == {
        "type": "invalid_request_error",
        "message": "The request body is not valid JSON: "
        "unexpected control character in string: line 1 column 36 (char 35)",
    }


def test_server_reports_missing_max_tokens(server: Proc) -> None:
    status, payload = _post_raw(server, json.dumps(body(max_tokens=None)).encode())
    assert (status, payload["error"]["message"]) == (400, "max_tokens: Field required")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"messages": []}, "messages: at least one message is required"),
        ({"messages": [{"role": "user", "content": [text(" ")]}]}, BLANK_TEXT),
        (
            {"tools": [{"name": "bad name", "input_schema": {"type": "object"}}]},
            "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'",
        ),
        (
            {"model": "claude-haiku-4-5", "max_tokens": 64001},
            "max_tokens: 64001 > 64000, which is the "
            "maximum allowed number of output tokens for claude-haiku-4-5-20251001",
        ),
        (
            {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
            PREFILL_UNSUPPORTED,
        ),
    ],
)
def test_sdk_gets_bad_request_errors(server: Proc, kwargs: dict[str, Any], message: str) -> None:
    client = anthropic.Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0)
    params = {**body(), **kwargs}
    with pytest.raises(anthropic.BadRequestError) as err:
        # An explicit timeout, or the SDK refuses max_tokens > 21333 without streaming (reference gotcha 11).
        client.messages.create(**params, timeout=30)
    assert err.value.status_code == 400
    assert err.value.body["error"] == {"type": "invalid_request_error", "message": message}


def test_sdk_gets_not_found_for_unknown_model(server: Proc) -> None:
    client = anthropic.Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0)
    with pytest.raises(anthropic.NotFoundError) as err:
        client.messages.create(**body(model="claude-nope-9"))
    assert err.value.body["error"] == {"type": "not_found_error", "message": "model: claude-nope-9"}


def test_sdk_request_that_passes_validation_gets_a_message(server: Proc) -> None:
    client = anthropic.Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0)
    message = client.messages.create(**body(model="claude-haiku-4-5"))
    assert message.type == "message" and message.usage.output_tokens > 0


WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    # 1h like the system block after it: a 1h breakpoint may not follow a 5m one (tools come first).
    "cache_control": {"type": "ephemeral", "ttl": "1h"},
    "strict": True,
}
HISTORY = [
    user(text("Weather in Paris?")),
    assistant(text("Checking."), tool_use("toolu_01A")),
    user(tool_result("toolu_01A"), image("image/png", PNG), text("And now?")),
]
RICH_REQUEST: dict[str, Any] = {
    "model": "claude-opus-4-8",
    "max_tokens": 2048,
    "messages": HISTORY,
    "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
    "tools": [WEATHER_TOOL, {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}],
    "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
    "thinking": {"type": "adaptive", "display": "summarized"},
    "output_config": {"effort": "high"},
    "metadata": {"user_id": "u-1"},
    "service_tier": "auto",
    "stop_sequences": ["END"],
    "speed": "fast",
    "inference_geo": "us",
    "diagnostics": {"previous_message_id": "msg_01"},
    "cache_control": {"type": "ephemeral"},
}


def test_a_rich_request_passes_even_in_strict_mode() -> None:
    assert validate_create(RICH_REQUEST, strict=True) is None
    assert check_model_limits(RICH_REQUEST, model("claude-opus-4-8")) is None


def test_everything_the_sdk_can_send_is_accepted(server: Proc) -> None:
    """No false 400s: a request using most of SDK 2.12's optional fields goes through the server."""
    client = anthropic.Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0)
    message = client.messages.create(**RICH_REQUEST)
    assert message.type == "message"
    beta = client.beta.messages.create(
        model="claude-sonnet-5",
        max_tokens=512,
        messages=[user(text("hi"))],
        context_management={"edits": [{"type": "clear_tool_uses_20250919"}]},
        betas=["context-management-2025-06-27"],
    )
    assert beta.type == "message"
    counted = client.messages.count_tokens(
        model="claude-haiku-4-5", messages=HISTORY, tools=[WEATHER_TOOL], system="Be brief."
    )
    assert counted.input_tokens > 0
