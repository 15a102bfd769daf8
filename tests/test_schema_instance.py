"""Tool inputs from input_schema: every value must pass a real JSON Schema validator (jsonschema)."""

import datetime
import random
import re
import urllib.parse
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.validators import validator_for

from mockclaude.synth.schema_instance import SchemaError, instance_from_schema

# jsonschema's 2020-12 checker covers date, email, ipv4, ipv6 and uuid; date-time, time, uri and
# hostname need optional packages, so they are checked here with the standard library.
CHECKER = FormatChecker(formats=())
CHECKER.checkers = dict(Draft202012Validator.FORMAT_CHECKER.checkers)
CHECKER.checks("time")(
    lambda v: not isinstance(v, str) or bool(re.fullmatch(r"\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", v))
)
CHECKER.checks("date-time", raises=ValueError)(
    lambda v: not isinstance(v, str) or bool(datetime.datetime.fromisoformat(v))
)
CHECKER.checks("uri")(lambda v: not isinstance(v, str) or bool(urllib.parse.urlsplit(v).scheme))
CHECKER.checks("hostname")(lambda v: not isinstance(v, str) or bool(re.fullmatch(r"[a-z0-9.-]+", v)))


def check(schema: dict[str, Any], seeds: int = 40) -> list[Any]:
    """Generate with many seeds; every value must be valid. Returns the values."""
    cls = validator_for(schema, default=Draft202012Validator)
    cls.check_schema(schema)
    validator = cls(schema, format_checker=CHECKER)
    values = []
    for seed in range(seeds):
        value = instance_from_schema(schema, random.Random(seed))
        errors = [e.message for e in validator.iter_errors(value)]
        assert not errors, f"seed {seed}: {value!r} is invalid: {errors}"
        values.append(value)
    return values


WEATHER = {
    "type": "object",
    "properties": {
        "location": {"type": "string", "description": "City and state"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["location"],
}

HAND_WRITTEN: list[dict[str, Any]] = [
    WEATHER,
    {"type": "object"},
    {"type": "object", "properties": {}, "additionalProperties": False},
    {
        "type": "object",
        "properties": {
            "email": {"type": "string", "format": "email"},
            "day": {"type": "string", "format": "date"},
            "at": {"type": "string", "format": "date-time"},
            "clock": {"type": "string", "format": "time"},
            "link": {"type": "string", "format": "uri"},
            "id": {"type": "string", "format": "uuid"},
            "host": {"type": "string", "format": "hostname"},
            "v4": {"type": "string", "format": "ipv4"},
            "v6": {"type": "string", "format": "ipv6"},
        },
        "required": ["email", "day", "at", "clock", "link", "id", "host", "v4", "v6"],
        "additionalProperties": False,
    },
    {
        "type": "object",
        "properties": {
            "zip": {"type": "string", "pattern": "^[0-9]{5}(-[0-9]{4})?$"},
            "sku": {"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"},
            "slug": {"type": "string", "pattern": "^[a-z0-9]+(?:-[a-z0-9]+)*$", "maxLength": 30},
            "loose": {"type": "string", "pattern": "ab+c", "minLength": 10},
            "choice": {"type": "string", "pattern": "^(red|green|blue)$"},
            "not_digits": {"type": "string", "pattern": "^[^0-9]{3,6}$"},
            "word": {"type": "string", "pattern": "^\\w+\\s\\w+$"},
        },
        "required": ["zip", "sku", "slug", "loose", "choice", "not_digits", "word"],
    },
    {
        "type": "object",
        "properties": {
            "short": {"type": "string", "minLength": 3, "maxLength": 3},
            "empty": {"type": "string", "maxLength": 0},
            "long": {"type": "string", "minLength": 200},
        },
        "required": ["short", "empty", "long"],
    },
    {
        "type": "object",
        "properties": {
            "count": {"type": "integer", "minimum": 1, "maximum": 10},
            "odd_bounds": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 2},
            "even": {"type": "integer", "multipleOf": 2, "minimum": 3, "maximum": 9},
            "tenth": {"type": "number", "multipleOf": 0.1, "minimum": 0, "maximum": 5},
            "quarter": {"type": "number", "multipleOf": 0.25, "exclusiveMinimum": 1, "maximum": 2},
            "ratio": {"type": "number", "minimum": 0, "maximum": 1},
            "tight": {"type": "number", "exclusiveMinimum": 0.5, "exclusiveMaximum": 0.51},
            "neg": {"type": "integer", "maximum": -1000},
            "huge": {"type": "integer", "minimum": 0, "maximum": 10**18},
            "int_of_float_step": {"type": "integer", "multipleOf": 2.5, "minimum": 0, "maximum": 20},
        },
        "required": [
            "count",
            "odd_bounds",
            "even",
            "tenth",
            "quarter",
            "ratio",
            "tight",
            "neg",
            "huge",
            "int_of_float_step",
        ],
    },
    {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 4, "uniqueItems": True},
            "flags": {"type": "array", "items": {"type": "boolean"}, "minItems": 2, "uniqueItems": True},
            "none": {"type": "array", "maxItems": 0},
            "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": False},
            "matrix": {"type": "array", "items": {"type": "array", "items": {"type": "number"}, "minItems": 1}},
        },
        "required": ["tags", "flags", "none", "pair", "matrix"],
    },
    {
        "type": "object",
        "properties": {
            "maybe": {"type": ["string", "null"]},
            "nothing": {"type": "null"},
            "anything": {},
            "yes": True,
            "fixed": {"const": {"a": [1, 2]}},
            "mixed": {"enum": [1, "two", None, [3]]},
            "typed_enum": {"type": "string", "enum": [1, "two", None]},
        },
        "required": ["maybe", "nothing", "anything", "yes", "fixed", "mixed", "typed_enum"],
    },
    {
        "type": "object",
        "properties": {
            "target": {
                "oneOf": [
                    {
                        "type": "object",
                        "properties": {"kind": {"const": "file"}, "path": {"type": "string"}},
                        "required": ["kind", "path"],
                    },
                    {
                        "type": "object",
                        "properties": {"kind": {"const": "url"}, "url": {"type": "string", "format": "uri"}},
                        "required": ["kind", "url"],
                    },
                ]
            },
            "num": {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 0.5, "maximum": 0.7}]},
            "either": {"anyOf": [{"type": "string", "maxLength": 5}, {"type": "integer", "minimum": 100}]},
            "both": {
                "allOf": [
                    {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
                    {"properties": {"b": {"type": "string"}}, "required": ["b"]},
                    {"properties": {"a": {"minimum": 10, "maximum": 12}}},
                ]
            },
        },
        "required": ["target", "num", "either", "both"],
    },
    {
        "type": "object",
        "$defs": {
            "point": {
                "type": "object",
                "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                "required": ["x", "y"],
            }
        },
        "definitions": {"color": {"type": "string", "enum": ["red", "blue"]}},
        "properties": {
            "from": {"$ref": "#/$defs/point"},
            "to": {"$ref": "#/$defs/point", "description": "sibling keywords beside $ref"},
            "color": {"$ref": "#/definitions/color"},
        },
        "required": ["from", "to", "color"],
    },
    {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
                "required": ["name", "children"],
            }
        },
        "$ref": "#/$defs/node",
    },
    {
        "type": "object",
        "properties": {"expr": {"$ref": "#/$defs/expr"}},
        "required": ["expr"],
        "$defs": {
            "expr": {
                "anyOf": [
                    {"type": "number"},
                    {
                        "type": "object",
                        "properties": {
                            "op": {"enum": ["+", "*"]},
                            "args": {"type": "array", "items": {"$ref": "#/$defs/expr"}, "minItems": 2},
                        },
                        "required": ["op", "args"],
                    },
                ]
            }
        },
    },
    {"type": "object", "additionalProperties": {"type": "integer"}, "minProperties": 2},
    {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}, "c": {"type": "string"}},
        "maxProperties": 1,
        "minProperties": 1,
    },
    {"type": "object", "required": ["undeclared"], "additionalProperties": {"type": "boolean"}},
    {  # draft-4 boolean exclusive bounds
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "properties": {
            "legacy": {
                "type": "number",
                "minimum": 0,
                "exclusiveMinimum": True,
                "maximum": 1,
                "exclusiveMaximum": True,
            },
        },
        "required": ["legacy"],
    },
]


@pytest.mark.parametrize("schema", HAND_WRITTEN, ids=range(len(HAND_WRITTEN)))
def test_hand_written_schemas(schema: dict[str, Any]) -> None:
    check(schema)


def test_values_look_like_values() -> None:
    values = check(WEATHER, seeds=60)
    assert all(v["location"] for v in values)
    assert any("unit" in v for v in values) and any("unit" not in v for v in values)  # optional: sometimes
    assert len({v["location"] for v in values}) > 3


ALL_OPTIONAL = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "description": "What to search for"},
        "city": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
        "unit": {"type": "string", "description": "Unit such as 'celsius'", "enum": ["celsius", "fahrenheit"]},
        "contact": {"type": "string", "format": "email", "description": "Who to tell, e.g. the manager"},
        "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2}$"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 50},
        "labels": {"type": "array", "items": {"type": "string"}},
        "filters": {"type": "object", "properties": {"since": {"type": "string", "format": "date"}}},
    },
}


def test_all_optional_properties_are_filled_as_a_model_would() -> None:
    values = check(ALL_OPTIONAL, seeds=60)
    for v in values:
        assert list(v) == list(ALL_OPTIONAL["properties"])  # every property, in schema order
        assert v["labels"] and v["filters"] and v["query"]  # non-empty arrays, nested content
        assert 1 <= v["limit"] <= 50 and re.fullmatch(r"[A-Z]{3}-[0-9]{2}", v["code"])
    cities = [v["city"] for v in values]
    # The description's example is used about half the time; otherwise a city of our own.
    assert 15 <= cities.count("San Francisco, CA") <= 45
    assert all("," in c for c in cities)


def test_required_come_first_and_optional_next_to_required_stay_a_draw() -> None:
    schema = {**ALL_OPTIONAL, "required": ["limit", "city"]}
    values = check(schema, seeds=60)
    assert all(list(v)[:2] == ["city", "limit"] for v in values)
    assert any("query" in v for v in values) and any("query" not in v for v in values)


def test_same_seed_same_value() -> None:
    schema = HAND_WRITTEN[9]
    assert instance_from_schema(schema, random.Random(5)) == instance_from_schema(schema, random.Random(5))


def test_recursion_stops_at_the_depth_limit() -> None:
    tree = HAND_WRITTEN[11]

    def depth(node: dict[str, Any]) -> int:
        return 1 + max((depth(c) for c in node["children"]), default=0)

    for seed in range(30):
        assert depth(instance_from_schema(tree, random.Random(seed), max_depth=4)) <= 4


@pytest.mark.parametrize(
    "schema",
    [
        False,
        {"type": "object", "properties": {"a": False}, "required": ["a"]},
        {"$ref": "#/$defs/missing"},
        {"$ref": "https://example.com/schema.json"},
        {"type": "integer", "minimum": 5, "maximum": 4},
        {"type": "integer", "exclusiveMinimum": 1, "exclusiveMaximum": 2},
        {"type": "string", "minLength": 5, "maxLength": 2},
        {"type": "array", "items": {"enum": [1, 2]}, "minItems": 3, "uniqueItems": True},
        {"allOf": [{"type": "string"}, {"type": "integer"}]},
        {"enum": [1, 2], "type": "string"},
        {"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
        {"type": "object", "properties": {"n": {"$ref": "#"}}, "required": ["n"]},
    ],
)
def test_impossible_schemas_raise_schema_error(schema: Any) -> None:
    with pytest.raises(SchemaError):
        instance_from_schema(schema, random.Random(0))


# ---- hypothesis: random schemas from the supported subset, built so that each is satisfiable ----

NAMES = st.sampled_from(["query", "city", "count", "email", "start_date", "url", "name", "tags", "x", "y"])
PATTERNS = st.sampled_from(["^[a-z]+$", "^\\d{3}-\\d{4}$", "^(yes|no)$", "[A-Z]{2}", "^v\\d+\\.\\d+$", "^[^ ]+$"])
FORMATS = st.sampled_from(["email", "date", "date-time", "time", "uri", "uuid", "ipv4", "ipv6"])


@st.composite
def strings(draw: st.DrawFn) -> dict[str, Any]:
    s: dict[str, Any] = {"type": "string"}
    style = draw(st.sampled_from(["plain", "pattern", "format"]))
    if style == "pattern":
        s["pattern"] = draw(PATTERNS)
    elif style == "format":
        s["format"] = draw(FORMATS)
    else:
        lo = draw(st.integers(0, 20))
        if draw(st.booleans()):
            s["minLength"] = lo
        if draw(st.booleans()):
            s["maxLength"] = lo + draw(st.integers(0, 30))
    return s


@st.composite
def numbers(draw: st.DrawFn) -> dict[str, Any]:
    integer = draw(st.booleans())
    s: dict[str, Any] = {"type": "integer" if integer else "number"}
    m = draw(st.sampled_from([None, 1, 2, 3, 5, 0.5, 0.25] if not integer else [None, 1, 2, 7]))
    step = m or 1
    # A known valid value v, and bounds around it at least one step away (or inclusive at v).
    v = draw(st.integers(-50, 50)) * step
    below, above = draw(st.integers(0, 5)), draw(st.integers(0, 5))
    if m is not None:
        s["multipleOf"] = m
    if draw(st.booleans()):
        if below and draw(st.booleans()):
            s["exclusiveMinimum"] = v - below * step
        else:
            s["minimum"] = v - below * step
    if draw(st.booleans()):
        if above and draw(st.booleans()):
            s["exclusiveMaximum"] = v + above * step
        else:
            s["maximum"] = v + above * step
    return s


SCALARS = st.one_of(
    strings(),
    numbers(),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.lists(
        st.one_of(st.integers(-5, 5), st.text("abc", max_size=3), st.none()), min_size=1, max_size=4, unique=True
    ).map(lambda xs: {"enum": xs}),
    st.integers(0, 9).map(lambda x: {"const": x}),
    strings().map(lambda s: {**s, "type": ["string", "null"]}),
)


@st.composite
def objects(draw: st.DrawFn, children: st.SearchStrategy[Any]) -> dict[str, Any]:
    props = draw(st.dictionaries(NAMES, children, max_size=4))
    s: dict[str, Any] = {"type": "object", "properties": props}
    if props:
        s["required"] = draw(st.lists(st.sampled_from(sorted(props)), unique=True))
    extra = draw(st.sampled_from(["absent", "false", "schema"]))
    if extra == "false":
        s["additionalProperties"] = False
    elif extra == "schema":
        s["additionalProperties"] = draw(children)
    return s


@st.composite
def arrays(draw: st.DrawFn, children: st.SearchStrategy[Any]) -> dict[str, Any]:
    lo = draw(st.integers(0, 2))
    s: dict[str, Any] = {"type": "array", "items": draw(children), "minItems": lo}
    if draw(st.booleans()):
        s["maxItems"] = lo + draw(st.integers(0, 3))
    if lo <= 1 and draw(st.booleans()):  # more distinct items than minItems may not exist
        s["uniqueItems"] = True
    return s


@st.composite
def one_ofs(draw: st.DrawFn) -> dict[str, Any]:
    # Branches of different JSON types, so a value can match exactly one (integer ⊂ number excluded).
    kinds = draw(
        st.lists(
            st.sampled_from(["string", "integer", "boolean", "null", "object"]), min_size=1, max_size=3, unique=True
        )
    )
    branches = []
    for k in kinds:
        if k == "string":
            branches.append(draw(strings()))
        elif k == "integer":
            branches.append({"type": "integer", "minimum": draw(st.integers(-5, 5))})
        elif k == "object":
            branches.append({"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]})
        else:
            branches.append({"type": k})
    return {"oneOf": branches}


SCHEMAS = st.recursive(
    st.one_of(SCALARS, one_ofs()),
    lambda children: st.one_of(
        objects(children),
        arrays(children),
        st.lists(children, min_size=1, max_size=3).map(lambda xs: {"anyOf": xs}),
    ),
    max_leaves=12,
)


@st.composite
def tool_schemas(draw: st.DrawFn) -> dict[str, Any]:
    top = draw(objects(SCHEMAS))
    if draw(st.booleans()):  # move one property behind a $ref
        top["$defs"] = {"shared": draw(SCHEMAS)}
        top["properties"]["ref"] = {"$ref": "#/$defs/shared"}
    if draw(st.booleans()):  # and an allOf that adds a required property
        defs = top.pop("$defs", None)
        extra = top.get("additionalProperties")
        extra = extra if isinstance(extra, dict) else draw(SCALARS)  # must also satisfy the first part
        top = {"allOf": [top, {"properties": {"extra": extra}, "required": ["extra"]}]}
        if defs:  # "#/…" refers to the document root
            top["$defs"] = defs
        if top["allOf"][0].get("additionalProperties") is False:
            top["allOf"][0]["properties"]["extra"] = True
    return top


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=tool_schemas(), seed=st.integers(0, 2**32))
def test_generated_schemas(schema: dict[str, Any], seed: int) -> None:
    Draft202012Validator.check_schema(schema)
    value = instance_from_schema(schema, random.Random(seed))
    errors = [e.message for e in Draft202012Validator(schema, format_checker=CHECKER).iter_errors(value)]
    assert not errors, f"{value!r}: {errors}"
    assert isinstance(value, dict)
