"""Whether a tool's `input_schema` or a structured-output schema is valid JSON Schema (draft 2020-12).

The API refuses an invalid schema before anything runs ("JSON schema is invalid. It must match JSON
Schema draft 2020-12"), and the mock's value generator relies on that: a schema that passes here has
keywords of the right shapes. The check is jsonschema's meta-schema validation, about 1 ms per
schema, so results are cached by the schema's JSON text: clients send the same tools every request.
"""

import functools
from typing import Any

import orjson
from jsonschema import Draft202012Validator, SchemaError
from jsonschema.validators import validator_for

from mockclaude.recent import own_size

# [ISS] anthropics/claude-code#7365 (2025-09), #63673 (2026-05): the text for a tool's input_schema.
INVALID_SCHEMA = (
    "JSON schema is invalid. It must match JSON Schema draft 2020-12 "
    "(https://json-schema.org/draft/2020-12). "
    "Learn more about tool use at https://docs.claude.com/en/docs/tool-use."
)


def is_valid_schema(schema: Any) -> bool:
    """True if `schema` is a valid JSON Schema (its `$schema` dialect, else draft 2020-12)."""
    try:
        text = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return False
    return _valid(own_size(text))  # the cache keeps its argument


@functools.lru_cache(maxsize=4096)
def _valid(text: bytes) -> bool:
    schema = orjson.loads(text)
    try:
        validator_for(schema, default=Draft202012Validator).check_schema(schema)
    except SchemaError:
        return False
    return True
