"""Structured outputs: where a request asks for them, and the JSON Schema subset the API compiles.

`output_config.format` (GA) or the older top-level `output_format` (beta header
`structured-outputs-2025-11-13`, "will continue working for a transition period") carry
`{"type": "json_schema", "schema": …}`; `strict: true` tools constrain their inputs with the same
grammar. Both accept only a subset of JSON Schema ([DOCS] build-with-claude/structured-outputs,
"JSON Schema limitations" and "Schema complexity limits", mirrored 2026-04). Real error texts:
  [SO1] agentjido/req_llm#302 (2025-12, Haiku 4.5): `output_format.schema: For 'integer' type,
        property 'minimum' is not supported`
  [SO2] Lazarus-AI/clearwing#50 (2026-05, Opus 4.8): `For 'integer' type, properties maximum,
        minimum are not supported`
  [SO3] ghostlobster/memorize-everything#93 (2026-05): `output_config.format.schema: For 'array'
        type, 'minItems' values other than 0 or 1 are not supported`
  [SO4] future-agi/future-agi#411 (2026-05), veryfront/veryfront-code#3918 (2026-08):
        `output_config.format.schema: For 'object' type, 'additionalProperties' must be explicitly
        set to false`
  [SO5] the docs' "Schema complexity limits": `Schema is too complex for compilation.`
Texts for the other unsupported features were not found; ours follow the same `For 'T' type` form,
and an output schema that is not JSON Schema at all gets the tools' "JSON schema is invalid" text.
"""

from typing import Any, NoReturn

from mockclaude.wire.errors import ApiError
from mockclaude.wire.schema_check import is_valid_schema

# [DOCS] "Supported string formats"; the same ten as @ai-sdk/anthropic 3.0.140 SUPPORTED_STRING_FORMATS.
STRING_FORMATS = frozenset({
    "date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid",
})  # fmt: skip
# Keywords the docs list as "Not supported", per the type they constrain.
_UNSUPPORTED = {
    "integer": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
    "number": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
    "string": ("minLength", "maxLength"),
    "array": ("maxItems", "uniqueItems", "contains", "minContains", "maxContains"),
    "object": ("minProperties", "maxProperties", "patternProperties", "propertyNames"),
}
# [SO5]: across every strict schema of one request.
MAX_STRICT_TOOLS = 20
MAX_OPTIONAL_PARAMETERS = 24
MAX_UNION_PARAMETERS = 16
TOO_COMPLEX = "Schema is too complex for compilation."
INVALID_OUTPUT_SCHEMA = (
    "JSON schema is invalid. It must match JSON Schema draft 2020-12 (https://json-schema.org/draft/2020-12)."
)


def output_schema(body: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(where it was given, the JSON schema) the answer's text must match, or None."""
    if "output_config" not in body and "output_format" not in body:  # most requests
        return None
    config = body.get("output_config")
    for loc, fmt in (
        ("output_config.format", config.get("format") if isinstance(config, dict) else None),
        ("output_format", body.get("output_format")),
    ):
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
            return loc, fmt["schema"]
    return None


def strict_tools(body: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """(index, tool) of each custom tool with `strict: true`."""
    tools = body.get("tools")
    return [
        (i, t) for i, t in enumerate(tools if isinstance(tools, list) else [])
        if isinstance(t, dict) and t.get("strict") is True and isinstance(t.get("input_schema"), dict)
    ]  # fmt: skip


class _Census:
    """What the complexity limits count, over all strict schemas of a request."""

    def __init__(self) -> None:
        self.optional = 0
        self.unions = 0


def check_structured(body: dict[str, Any]) -> None:
    """400 for a structured-output or strict-tool schema outside the subset the API compiles."""
    found = output_schema(body)
    if found is None and not body.get("tools"):  # nothing to check (most requests)
        return
    census = _Census()
    if found is not None:
        loc, schema = found
        if not is_valid_schema(schema):
            raise ApiError(400, f"{loc}.schema: {INVALID_OUTPUT_SCHEMA}")
        _Walk(f"{loc}.schema", schema, census).node(schema, ())
    strict = strict_tools(body)
    for i, tool in strict:
        schema = tool["input_schema"]
        _Walk(f"tools.{i}.custom.input_schema", schema, census).node(schema, ())
    if (
        len(strict) > MAX_STRICT_TOOLS
        or census.optional > MAX_OPTIONAL_PARAMETERS
        or census.unions > MAX_UNION_PARAMETERS
    ):
        raise ApiError(400, TOO_COMPLEX)


class _Walk:
    def __init__(self, loc: str, root: dict[str, Any], census: _Census) -> None:
        self.loc = loc
        self.root = root
        self.census = census

    def fail(self, message: str) -> NoReturn:
        # [SO1]-[SO4] name the schema, not the path inside it.
        raise ApiError(400, f"{self.loc}: {message}")

    def node(self, s: Any, refs: tuple[str, ...]) -> None:
        if isinstance(s, bool) or not isinstance(s, dict):
            return
        if "$ref" in s:
            self.ref(s["$ref"], refs)
        if any(isinstance(v, dict | list) for v in _list(s.get("enum"))):
            self.fail("enum values must be strings, numbers, booleans or null")  # [DOCS] no complex enums
        if any(isinstance(b, dict) and "$ref" in b for b in _list(s.get("allOf"))):
            self.fail("'allOf' with '$ref' is not supported")  # [DOCS] "allOf with $ref not supported"
        types = s.get("type")
        for kind in [types] if isinstance(types, str) else _list(types):
            if isinstance(kind, str):
                self.typed(s, kind, refs)
        # oneOf is not in the docs' list, but generated like anyOf rather than refused: pydantic emits
        # it for tagged unions and no real refusal of it was found.
        for key in ("anyOf", "allOf", "oneOf"):
            for branch in _list(s.get(key)):
                self.node(branch, refs)

    def ref(self, ref: Any, refs: tuple[str, ...]) -> None:
        if not isinstance(ref, str) or not ref.startswith("#"):
            self.fail(f"external '$ref' is not supported: {ref!r}")  # [DOCS] "no external $ref"
        if ref in refs or ref == "#":
            self.fail("recursive schemas are not supported")  # [DOCS] "Not supported: recursive schemas"
        target: Any = self.root
        for part in [p.replace("~1", "/").replace("~0", "~") for p in ref[1:].split("/") if p]:
            target = target.get(part) if isinstance(target, dict) else None
        if target is None:
            self.fail(f"'$ref' {ref!r} does not resolve")
        self.node(target, (*refs, ref))

    def typed(self, s: dict[str, Any], kind: str, refs: tuple[str, ...]) -> None:
        present = sorted(k for k in _UNSUPPORTED.get(kind, ()) if k in s)
        if len(present) == 1:
            self.fail(f"For '{kind}' type, property '{present[0]}' is not supported")  # [SO1]
        if present:
            self.fail(f"For '{kind}' type, properties {', '.join(present)} are not supported")  # [SO2]
        fmt = s.get("format")
        if kind == "string" and fmt is not None and not (isinstance(fmt, str) and fmt in STRING_FORMATS):
            self.fail(f"For 'string' type, format '{fmt}' is not supported")
        if kind == "array":
            if s.get("minItems") not in (None, 0, 1):
                self.fail("For 'array' type, 'minItems' values other than 0 or 1 are not supported")  # [SO3]
            self.node(s.get("items"), refs)
        if kind == "object":
            if s.get("additionalProperties") is not False:
                self.fail("For 'object' type, 'additionalProperties' must be explicitly set to false")  # [SO4]
            props = s.get("properties") if isinstance(s.get("properties"), dict) else {}
            required = {r for r in _list(s.get("required")) if isinstance(r, str)}
            self.census.optional += sum(1 for name in props if name not in required)
            for sub in props.values():
                if isinstance(sub, dict) and ("anyOf" in sub or "oneOf" in sub or isinstance(sub.get("type"), list)):
                    self.census.unions += 1
                self.node(sub, refs)


def _list(value: Any) -> list[Any]:
    """A keyword's list value; anything else (a malformed schema) counts as empty."""
    return value if isinstance(value, list) else []
