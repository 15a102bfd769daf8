"""Structured outputs and strict tools: the subset checks, the planned JSON, and the real SDK on a real mock."""

import json
import random
from collections.abc import Iterator
from typing import Any

import anthropic
import jsonschema
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockclaude.processes import Proc, mock_server
from mockclaude.synth.content import ContentSettings, OutputLength, TokenSource, plan_response
from mockclaude.wire.errors import ApiError
from mockclaude.wire.structured import check_structured

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Full name, e.g. Ada Lovelace"},
        "age": {"type": "integer"},
        "email": {"type": "string", "format": "email"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "role": {"enum": ["admin", "user"]},
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
            "required": ["city", "zip"],
            "additionalProperties": False,
        },
        "nickname": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["nickname", "name", "age"],
    "additionalProperties": False,
}


def fmt(schema: dict[str, Any]) -> dict[str, Any]:
    return {"output_config": {"format": {"type": "json_schema", "schema": schema}}}


def body(**extra: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet-4-6", "max_tokens": 4096, "messages": [{"role": "user", "content": "Hi"}], **extra}


def rejection(request: dict[str, Any]) -> str:
    with pytest.raises(ApiError) as err:
        check_structured(request)
    assert err.value.status == 400 and err.value.error_type == "invalid_request_error"
    return err.value.message


# The subset the API compiles


def test_a_schema_inside_the_subset_passes() -> None:
    assert check_structured(body(**fmt(PERSON))) is None
    assert check_structured(body(output_format={"type": "json_schema", "schema": PERSON})) is None


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}, "additionalProperties": False},
            "output_config.format.schema: For 'integer' type, property 'minimum' is not supported",
        ),
        (
            {
                "type": "object",
                "properties": {"n": {"type": "number", "minimum": 0, "maximum": 1}},
                "additionalProperties": False,
            },
            "output_config.format.schema: For 'number' type, properties maximum, minimum are not supported",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "array", "minItems": 3}}, "additionalProperties": False},
            "output_config.format.schema: For 'array' type, 'minItems' values other than 0 or 1 are not supported",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "string"}}},
            "output_config.format.schema: For 'object' type, 'additionalProperties' must be explicitly set to false",
        ),
        (
            {
                "type": "object",
                "properties": {"inner": {"type": "object", "additionalProperties": True}},
                "additionalProperties": False,
            },
            "output_config.format.schema: For 'object' type, 'additionalProperties' must be explicitly set to false",
        ),
        (
            {"type": "object", "properties": {"s": {"type": "string", "maxLength": 3}}, "additionalProperties": False},
            "output_config.format.schema: For 'string' type, property 'maxLength' is not supported",
        ),
        (
            {"type": "object", "properties": {"s": {"type": "string", "format": "iri"}}, "additionalProperties": False},
            "output_config.format.schema: For 'string' type, format 'iri' is not supported",
        ),
        (
            {
                "$defs": {
                    "node": {
                        "type": "object",
                        "properties": {"next": {"$ref": "#/$defs/node"}},
                        "additionalProperties": False,
                    }
                },
                "$ref": "#/$defs/node",
            },
            "output_config.format.schema: recursive schemas are not supported",
        ),
    ],
)
def test_schemas_outside_the_subset_get_the_real_400(schema: dict[str, Any], message: str) -> None:
    assert rejection(body(**fmt(schema))) == message


def test_strict_tools_are_held_to_the_same_subset_and_limits() -> None:
    loose = {"name": "t", "strict": True, "input_schema": {"type": "object", "properties": {}}}
    assert rejection(body(tools=[loose])) == (
        "tools.0.custom.input_schema: For 'object' type, 'additionalProperties' must be explicitly set to false"
    )
    # A non-strict tool keeps the full JSON Schema.
    assert check_structured(body(tools=[{**loose, "strict": False}])) is None
    closed = {"type": "object", "properties": {}, "additionalProperties": False}
    many = [{"name": f"t{i}", "strict": True, "input_schema": closed} for i in range(21)]
    assert rejection(body(tools=many)) == "Schema is too complex for compilation."
    assert check_structured(body(tools=many[:20])) is None
    optional = {
        "type": "object",
        "properties": {f"p{i}": {"type": "string"} for i in range(25)},
        "additionalProperties": False,
    }
    assert rejection(body(**fmt(optional))) == "Schema is too complex for compilation."


SCHEMA_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=6)
    | st.sampled_from(["object", "array", "string", "integer", "#", "#/$defs/a", "email", "minimum"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "properties",
                    "items",
                    "anyOf",
                    "allOf",
                    "oneOf",
                    "enum",
                    "$ref",
                    "$defs",
                    "required",
                    "additionalProperties",
                    "format",
                    "minItems",
                    "minimum",
                    "a",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(schema=SCHEMA_VALUES)
def test_any_schema_gives_none_or_a_400(schema: Any) -> None:
    for request in (
        body(output_config={"format": {"type": "json_schema", "schema": schema}}),
        body(tools=[{"name": "t", "strict": True, "input_schema": schema}]),
    ):
        try:
            check_structured(request)
        except ApiError as err:
            assert err.status == 400


# The planned answer


@pytest.fixture(scope="module")
def source() -> TokenSource:
    return TokenSource(seed=1, corpus_tokens=3_000)


def test_the_answer_is_one_json_document_valid_against_the_schema(source: TokenSource) -> None:
    rng = random.Random(3)
    for _ in range(40):
        plan = plan_response(body(**fmt(PERSON)), 4096, ContentSettings(), source, rng)
        [block] = plan.blocks
        assert block.kind == "text" and plan.stop_reason == "end_turn"
        value = json.loads(block.text)
        jsonschema.validate(value, PERSON)
        # Required properties first, then the optional ones, each in schema order (the docs' ordering).
        assert list(value)[:3] == ["name", "age", "nickname"]
        assert set(value) == set(PERSON["properties"])  # a structured answer is filled out
        assert plan.output_tokens == block.tokens == len(block.pieces)


def test_max_tokens_cuts_the_json_like_the_real_api(source: TokenSource) -> None:
    plan = plan_response(body(**fmt(PERSON)), 5, ContentSettings(), source, random.Random(1))
    assert plan.stop_reason == "max_tokens" and plan.output_tokens == 5
    with pytest.raises(json.JSONDecodeError):
        json.loads(plan.blocks[0].text)


def test_tool_calls_with_structured_output_have_no_prose_before_them(source: TokenSource) -> None:
    tool = {"name": "lookup", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}
    settings = ContentSettings(tool_rate=1.0, text_before_tool_rate=1.0, output_length=OutputLength.parse("50"))
    plan = plan_response(body(tools=[tool], **fmt(PERSON)), 4096, settings, source, random.Random(2))
    assert plan.blocks[0].kind == "tool_use" and all(b.kind == "tool_use" for b in plan.blocks)


# The real SDK against a real mock


@pytest.fixture(scope="module")
def server() -> Iterator[Proc]:
    with mock_server("--ttft", "0.01", "--tps", "5000", "--seed", "5") as p:
        yield p


@pytest.fixture(scope="module")
def client(server: Proc) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0)


def test_sdk_json_answer(client: anthropic.Anthropic) -> None:
    message = client.messages.create(**body(**fmt(PERSON)))
    [block] = message.content
    assert block.type == "text" and message.stop_reason == "end_turn"
    jsonschema.validate(json.loads(block.text), PERSON)
    assert message.usage.output_tokens > 5


def test_sdk_stream_is_text_deltas_of_one_json_document(client: anthropic.Anthropic) -> None:
    deltas: list[str] = []
    with client.messages.create(**body(**fmt(PERSON)), stream=True) as stream:
        for event in stream:
            if event.type == "content_block_delta":
                assert event.delta.type == "text_delta"
                deltas.append(event.delta.text)
            if event.type == "message_delta":
                usage = event.usage.output_tokens
    assert len(deltas) > 3
    jsonschema.validate(json.loads("".join(deltas)), PERSON)
    assert usage > 5


class Invoice(pydantic.BaseModel):
    number: str
    total: float
    lines: list[str]
    paid: bool | None = None


def test_sdk_parse_helper_gets_its_pydantic_model(client: anthropic.Anthropic) -> None:
    # messages.parse turns the model into output_config.format (the SDK's transform_schema) and
    # validates the answer text back into it.
    parsed = client.messages.parse(
        model="claude-opus-4-8",
        max_tokens=2048,
        output_format=Invoice,
        messages=[{"role": "user", "content": "Invoice?"}],
    )
    assert isinstance(parsed.parsed_output, Invoice)


def test_sdk_legacy_output_format_with_the_beta_header(client: anthropic.Anthropic) -> None:
    message = client.beta.messages.create(
        **body(),
        betas=["structured-outputs-2025-11-13"],
        extra_body={"output_format": {"type": "json_schema", "schema": PERSON}},
    )
    jsonschema.validate(json.loads(message.content[0].text), PERSON)


def test_sdk_strict_tool_inputs_are_valid(client: anthropic.Anthropic) -> None:
    schema = PERSON["properties"]["address"]
    tool = {"name": "ship", "description": "Ship a parcel", "strict": True, "input_schema": schema}
    for _ in range(5):
        message = client.messages.create(**body(tools=[tool], tool_choice={"type": "tool", "name": "ship"}))
        calls = [b for b in message.content if b.type == "tool_use"]
        assert calls and message.stop_reason == "tool_use"
        for call in calls:
            jsonschema.validate(call.input, schema)


def test_sdk_gets_the_400_for_an_unsupported_keyword(client: anthropic.Anthropic) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}, "additionalProperties": False}
    with pytest.raises(anthropic.BadRequestError) as err:
        client.messages.create(**body(**fmt(schema)))
    assert err.value.body["error"]["message"] == (
        "output_config.format.schema: For 'integer' type, property 'minimum' is not supported"
    )
