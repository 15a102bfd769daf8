"""A scripted response as the mock sends it: a ResponsePlan (streamed and paced like any answer), or
the ApiError it asks for. A scripted tool call must fit the input_schema the request offers."""

import random
from typing import Any

import jsonschema

from mockclaude.rules.spec import Response
from mockclaude.synth.content import PlannedBlock, ResponsePlan, signature, token_pieces, tool_use_block
from mockclaude.wire.errors import ApiError


def error(response: Response) -> ApiError:
    """The API error a rule answers with (type and message default to the API's for the status)."""
    assert response.error is not None
    status, kind, message = response.error
    return ApiError(status, message or None, error_type=kind or None)


def _offered(body: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    for tool in body.get("tools") or []:
        if isinstance(tool, dict) and tool.get("name") == name:
            return tool
    # A scripted call to a tool the request did not offer would break any client that looks it up.
    raise ApiError(400, f"mockclaude rule {where}: answers with a call to {name!r}, which this request does not offer")


def _checked_input(body: dict[str, Any], call: dict[str, Any], where: str) -> dict[str, Any]:
    schema = _offered(body, call["name"], where).get("input_schema")
    if isinstance(schema, dict):
        try:
            jsonschema.validate(call["input"], schema)
        except jsonschema.ValidationError as exc:
            at = "/".join(str(p) for p in exc.absolute_path) or "input"
            raise ApiError(
                400,
                f"mockclaude rule {where}: the input for {call['name']!r} does not fit its input_schema "
                f"at {at}: {exc.message}",
            ) from None
        except jsonschema.SchemaError as exc:
            raise ApiError(
                400, f"tools: the input_schema of {call['name']!r} is not a valid JSON Schema: {exc.message}"
            ) from None
    return call["input"]


def plan(response: Response, body: dict[str, Any], rng: random.Random, where: str) -> ResponsePlan:
    """The scripted content as a plan; `usage.output_tokens` overrides the counted tokens."""
    blocks: list[PlannedBlock] = []
    for b in response.blocks:
        if b["type"] == "tool_use":
            blocks.append(tool_use_block(b["name"], _checked_input(body, b, where), rng))
        else:
            pieces = token_pieces(b[b["type"]])
            blocks.append(
                PlannedBlock(
                    b["type"], pieces, tokens=len(pieces), signature=signature(rng) if b["type"] == "thinking" else ""
                )
            )
    stop = response.stop_reason or ("tool_use" if any(b.kind == "tool_use" for b in blocks) else "end_turn")
    tokens = response.usage.get("output_tokens", sum(b.tokens for b in blocks))
    return ResponsePlan(blocks, stop, response.stop_sequence, tokens)  # type: ignore[arg-type]
