"""JSON values valid against a JSON Schema: the input a mock tool call sends for a tool's `input_schema`.

Covers what tool schemas use: type (also lists, null), const, enum, properties / required /
additionalProperties / min-maxProperties, items / prefixItems / min-maxItems / uniqueItems,
min-maxLength, simple `pattern`s, formats (email, date, time, date-time, uri, uuid, hostname, ipv4,
ipv6), minimum / maximum / exclusive bounds (both drafts) / multipleOf, allOf (merged), anyOf,
oneOf (the value must match exactly one branch), boolean schemas, and `$ref` into the same document
(`#`, `#/$defs/…`, `#/definitions/…`). Beyond `max_depth`, only what is required is generated, so
recursive schemas end. Everything random comes from the `rng` passed in, so values are reproducible.

Values are what a model would write: an object whose properties are all optional gets every one of
them (near the top, where a tool's content is), required properties come first and optional ones
after, each in schema order (the order the structured-outputs docs give for the real API), arrays
are non-empty, and strings follow the property's `description` (its "e.g." example, or a hint such
as "city" or "email"), `enum`, `format`, `pattern` and length bounds.
"""

import copy
import math
import random
import re
import string
import uuid
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 5
# Past this depth a schema that still demands nesting (a required self-reference) is hopeless.
_HARD_DEPTH = MAX_DEPTH + 30
_OPTIONAL_RATE = 0.5
# Objects with no required property are filled completely down to this depth (0 = the tool input).
_FILL_DEPTH = 2
# P(a string takes the example its description gives, "e.g. San Francisco, CA") when it has one.
_EXAMPLE_RATE = 0.5
_ATTEMPTS = 12
# Widest range numbers are drawn from, so an unbounded `minimum: 0` gives 0..10000, not 1e308.
_SPAN = 10_000

_WORDS = (
    "alpha", "beta", "report", "summary", "weather", "forecast", "budget", "meeting", "project",
    "update", "draft", "review", "customer", "order", "invoice", "account", "search", "query",
    "result", "status", "pending", "active", "archive", "notes", "travel", "flight", "hotel",
    "booking", "schedule", "calendar", "reminder", "task", "priority", "label", "document", "file",
    "image", "chart", "table", "value", "metric", "sample", "record", "entry", "item", "product",
    "price", "stock", "market",
)
_CITIES = ("San Francisco, CA", "Paris, France", "Tokyo, Japan", "Florence, Italy", "Austin, TX", "Berlin, Germany")
_NAMES = ("Alice Martin", "Bob Chen", "Carol Diaz", "David Okafor", "Emma Rossi", "Farid Haddad")


class SchemaError(ValueError):
    """The schema admits no value we can build (false schema, bad $ref, endless required nesting)."""


def instance_from_schema(
    schema: Any, rng: random.Random, *, max_depth: int = MAX_DEPTH, complete: bool = False
) -> Any:
    """A JSON value valid against `schema` (a tool's input_schema), drawn with `rng`.

    `complete` fills every optional property above `max_depth`, as a model answering in a
    structured-output format does; otherwise optional properties next to required ones are a draw.
    """
    return _Generator(schema, rng, max_depth, complete).value(schema, 0, "")


# ---- helpers shared by generation and checking ----


def _norm(value: Any) -> Any:
    """A form in which JSON-equal values are Python-equal: 1 == 1.0, but true != 1."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, int | float):
        return ("num", float(value))
    if isinstance(value, list):
        return ("arr", tuple(_norm(v) for v in value))
    if isinstance(value, dict):
        return ("obj", tuple(sorted((k, _norm(v)) for k, v in value.items())))
    return ("other", repr(value))


def _json_type_ok(t: str, v: Any) -> bool:
    if t == "null":
        return v is None
    if t == "boolean":
        return isinstance(v, bool)
    if t == "string":
        return isinstance(v, str)
    if t == "array":
        return isinstance(v, list)
    if t == "object":
        return isinstance(v, dict)
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    return t == "number" or (t == "integer" and float(v).is_integer())


def _is_multiple(v: float, m: float) -> bool:
    """multipleOf exactly as jsonschema (the validator users will check against) computes it."""
    if isinstance(m, float):
        q = v / m
        try:
            return int(q) == q
        except OverflowError:
            return False
    return v % m == 0


def _bounds(s: dict[str, Any]) -> tuple[float | None, bool, float | None, bool]:
    """(low, low exclusive, high, high exclusive), reading both draft-4 booleans and later numbers."""
    lo, hi = s.get("minimum"), s.get("maximum")
    lo_x = hi_x = False
    xlo, xhi = s.get("exclusiveMinimum"), s.get("exclusiveMaximum")
    if xlo is True:
        lo_x = True
    elif isinstance(xlo, int | float) and not isinstance(xlo, bool) and (lo is None or xlo >= lo):
        lo, lo_x = xlo, True
    if xhi is True:
        hi_x = True
    elif isinstance(xhi, int | float) and not isinstance(xhi, bool) and (hi is None or xhi <= hi):
        hi, hi_x = xhi, True
    return lo, lo_x, hi, hi_x


def _in_bounds(v: float, b: tuple[float | None, bool, float | None, bool]) -> bool:
    lo, lo_x, hi, hi_x = b
    if lo is not None and (v < lo or (lo_x and v == lo)):
        return False
    return hi is None or not (v > hi or (hi_x and v == hi))


def _pointer(root: Any, ref: str) -> Any:
    if not ref.startswith("#"):
        raise SchemaError(f"$ref {ref!r}: only references inside the same schema ('#/…') are supported")
    node = root
    for raw in [p for p in ref[1:].split("/") if p]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise SchemaError(f"$ref {ref!r} points at nothing")
    return node


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """One schema that demands what both demand (allOf), for the keywords we generate from."""
    out = dict(a)
    for key, bv in b.items():
        if key not in out:
            out[key] = bv
            continue
        av = out[key]
        if key in ("properties", "additionalProperties"):
            continue  # below, together
        if key == "required":
            out[key] = list(dict.fromkeys([*av, *bv]))
        elif key == "type":
            at = {av} if isinstance(av, str) else set(av)
            bt = {bv} if isinstance(bv, str) else set(bv)
            # "integer" is a subset of "number"
            at |= {"integer"} if "number" in at else set()
            bt |= {"integer"} if "number" in bt else set()
            out[key] = sorted(at & bt)
        elif key in ("minimum", "minLength", "minItems", "minProperties"):
            out[key] = max(av, bv)
        elif key in ("maximum", "maxLength", "maxItems", "maxProperties"):
            out[key] = min(av, bv)
        elif key == "enum":
            keep = {_norm(v) for v in bv}
            out[key] = [v for v in av if _norm(v) in keep]
        elif key in ("anyOf", "oneOf"):
            # (A1|A2) and (B1|B2) = any pairing; for oneOf this is the usual approximation.
            out[key] = [{"allOf": [x, y]} for x in av for y in bv]
        elif isinstance(av, dict) and isinstance(bv, dict):
            out[key] = {"allOf": [av, bv]}
        else:
            out[key] = bv
    if any(k in a or k in b for k in ("properties", "additionalProperties")):
        # A property one side does not name must also satisfy that side's additionalProperties.
        sides = [(s.get("properties", {}), s.get("additionalProperties", True)) for s in (a, b)]
        props = {}
        for name in dict.fromkeys([*sides[0][0], *sides[1][0]]):
            parts = [p.get(name, extra) for p, extra in sides]
            props[name] = _both(*parts)
        out["properties"] = props
        extra = _both(sides[0][1], sides[1][1])
        if extra is not True:
            out["additionalProperties"] = extra
        else:
            out.pop("additionalProperties", None)
    return out


def _both(x: Any, y: Any) -> Any:
    """The schema demanding x and y, kept small when one of them is trivially true."""
    if x is True or x == {}:
        return y
    if y is True or y == {}:
        return x
    if x is False or y is False:
        return False
    return {"allOf": [x, y]}


# ---- checking ----


class _Checker:
    def __init__(self, root: Any) -> None:
        self.root = root

    def ok(self, s: Any, v: Any, depth: int) -> bool:
        if s is True or s is None:
            return True
        if s is False:
            return False
        if not isinstance(s, dict) or depth > _HARD_DEPTH:
            return True
        if "$ref" in s and not self.ok(_pointer(self.root, s["$ref"]), v, depth + 1):
            return False
        if not all(self.ok(x, v, depth + 1) for x in s.get("allOf", [])):
            return False
        if "anyOf" in s and not any(self.ok(x, v, depth + 1) for x in s["anyOf"]):
            return False
        if "oneOf" in s and sum(self.ok(x, v, depth + 1) for x in s["oneOf"]) != 1:
            return False
        if "not" in s and self.ok(s["not"], v, depth + 1):
            return False
        if "const" in s and _norm(s["const"]) != _norm(v):
            return False
        if "enum" in s and _norm(v) not in {_norm(e) for e in s["enum"]}:
            return False
        t = s.get("type")
        if t is not None and not any(_json_type_ok(x, v) for x in ([t] if isinstance(t, str) else t)):
            return False
        if isinstance(v, str):
            return self._string(s, v)
        if isinstance(v, int | float) and not isinstance(v, bool):
            return _in_bounds(v, _bounds(s)) and ("multipleOf" not in s or _is_multiple(v, s["multipleOf"]))
        if isinstance(v, list):
            return self._array(s, v, depth)
        if isinstance(v, dict):
            return self._object(s, v, depth)
        return True

    def _string(self, s: dict[str, Any], v: str) -> bool:
        if len(v) < s.get("minLength", 0) or len(v) > s.get("maxLength", math.inf):
            return False
        if "pattern" in s:
            try:
                return re.search(s["pattern"], v) is not None
            except re.error:
                return True
        return True

    def _array(self, s: dict[str, Any], v: list[Any], depth: int) -> bool:
        if not s.get("minItems", 0) <= len(v) <= s.get("maxItems", math.inf):
            return False
        prefix, rest = _item_schemas(s)
        for i, item in enumerate(v):
            if not self.ok(prefix[i] if i < len(prefix) else rest, item, depth + 1):
                return False
        return not s.get("uniqueItems") or len({_norm(x) for x in v}) == len(v)

    def _object(self, s: dict[str, Any], v: dict[str, Any], depth: int) -> bool:
        if not s.get("minProperties", 0) <= len(v) <= s.get("maxProperties", math.inf):
            return False
        if any(k not in v for k in s.get("required", [])):
            return False
        props = s.get("properties", {})
        extra = s.get("additionalProperties", True)
        return all(self.ok(props.get(k, extra), x, depth + 1) for k, x in v.items())


def _item_schemas(s: dict[str, Any]) -> tuple[list[Any], Any]:
    """(per-position schemas, schema for the rest): 2020-12 prefixItems/items or draft-7 items list."""
    items = s.get("items", True)
    if isinstance(items, list):
        return items, s.get("additionalItems", True)
    return s.get("prefixItems", []), items


# ---- generation ----


class _Generator:
    def __init__(self, root: Any, rng: random.Random, max_depth: int, complete: bool = False) -> None:
        self.root = root
        self.rng = rng
        self.max_depth = max_depth
        self.complete = complete
        self.checker = _Checker(root)

    def value(self, s: Any, depth: int, name: str) -> Any:
        if depth > _HARD_DEPTH:
            raise SchemaError(f"the schema requires nesting deeper than {_HARD_DEPTH} levels")
        s = self._flatten(s)
        if s is False:
            raise SchemaError("a false schema admits no value")
        if s is True:
            s = {}
        if "const" in s or "enum" in s:
            return self._pick(s)
        for key in ("oneOf", "anyOf"):
            if key in s:
                return self._branch(s, key, depth, name)
        kind = self._type(s, depth)
        if kind == "object":
            return self._object(s, depth, name)
        if kind == "array":
            return self._array(s, depth, name)
        if kind == "string":
            return self._string(s, name)
        if kind in ("integer", "number"):
            return self._number(s, kind == "integer")
        if kind == "boolean":
            return self.rng.random() < 0.5
        return None

    def _flatten(self, s: Any) -> Any:
        """Resolve `$ref` and fold `allOf` into one schema."""
        for _ in range(_HARD_DEPTH):
            if not isinstance(s, dict) or not ("$ref" in s or "allOf" in s):
                return s
            s = dict(s)
            if "$ref" in s:
                target = _pointer(self.root, s.pop("$ref"))
                if target is False:
                    return False
                s = _merge(target if isinstance(target, dict) else {}, s)
            for sub in s.pop("allOf", []):
                sub = self._flatten(sub)
                if sub is False:
                    return False
                if isinstance(sub, dict):
                    s = _merge(s, sub)
        raise SchemaError("$ref chain too long (a reference cycle with nothing in between?)")

    def _type(self, s: dict[str, Any], depth: int) -> str:
        t = s.get("type")
        if isinstance(t, str):
            return t
        if isinstance(t, list) and t:
            scalar = [x for x in t if x not in ("object", "array")]
            # Deep down, pick a leaf type when one is allowed, so recursion ends.
            return self.rng.choice(scalar if depth >= self.max_depth and scalar else t)
        if isinstance(t, list):
            raise SchemaError("the types of the combined schemas do not overlap")
        if any(k in s for k in ("properties", "required", "additionalProperties", "minProperties")):
            return "object"
        if any(k in s for k in ("items", "prefixItems", "minItems", "maxItems", "uniqueItems")):
            return "array"
        if any(k in s for k in ("minLength", "maxLength", "pattern", "format")):
            return "string"
        if any(k in s for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
            return "number"
        return "string"

    def _pick(self, s: dict[str, Any]) -> Any:
        """A const or enum value that also satisfies the rest of the schema."""
        options = [s["const"]] if "const" in s else s["enum"]
        fits = [v for v in options if self.checker.ok(s, v, 0)]
        if not fits:
            raise SchemaError(f"no value of {options!r} (const or enum) satisfies the rest of the schema")
        return copy.deepcopy(self.rng.choice(fits))

    def _branch(self, s: dict[str, Any], key: str, depth: int, name: str) -> Any:
        rest = {k: v for k, v in s.items() if k != key}
        branches = list(s[key])
        self.rng.shuffle(branches)
        if depth >= self.max_depth:
            branches.sort(key=self._leafiness)
        last_error: SchemaError | None = None
        for branch in branches * 2:
            merged = self._flatten({"allOf": [rest, branch]})
            try:
                candidate = self.value(merged, depth, name)
            except SchemaError as exc:
                last_error = exc
                continue
            if key == "anyOf" or sum(self.checker.ok(b, candidate, depth) for b in s[key]) == 1:
                return candidate
        raise last_error or SchemaError(f"could not build a value matching exactly one {key} branch")

    def _leafiness(self, branch: Any) -> int:
        """0 for branches that can be a scalar, 1 otherwise (used to end recursion)."""
        b = self._flatten(branch)
        if not isinstance(b, dict):
            return 0
        t = b.get("type")
        types = [t] if isinstance(t, str) else (t or [])
        return 0 if any(x not in ("object", "array") for x in types) or "const" in b else 1

    # strings

    def _string(self, s: dict[str, Any], name: str) -> str:
        lo, hi = s.get("minLength", 0), s.get("maxLength")
        if hi is not None and hi < lo:
            raise SchemaError(f"maxLength {hi} < minLength {lo}")
        pattern = s.get("pattern")
        fmt = _FORMATS.get(s.get("format", "")) or _hinted_format(name, s)
        example = _example(s.get("description"))
        fits = example is not None and lo <= len(example) <= (hi if hi is not None else math.inf)
        # Only where nothing stricter than the length applies: an example need not match a format.
        if pattern is None and "format" not in s and fits and self.rng.random() < _EXAMPLE_RATE:
            return example
        for _ in range(_ATTEMPTS):
            if pattern is not None:
                v = _from_pattern(pattern, self.rng, lo, hi)
                if v is None:  # a pattern we cannot invert: fall back to text and hope
                    pattern = None
                    continue
            elif fmt is not None:
                v = fmt(self.rng)
            else:
                v = self._text(name, lo, hi, s.get("description"))
            if lo <= len(v) <= (hi if hi is not None else math.inf):
                return v
            fmt = None  # a format that misses the length bounds: use text instead
        return self._text(name, lo, hi, s.get("description"))

    def _text(self, name: str, lo: int, hi: int | None, description: Any = None) -> str:
        key = name.lower()
        about = f"{key} {description.lower() if isinstance(description, str) else ''}"
        words = self.rng.choice
        if any(w in key for w in ("city", "location", "place", "address")) or " city" in about:
            v = words(_CITIES)
        elif key.endswith("name") and key not in ("filename", "file_name", "tool_name"):
            v = words(_NAMES)
        elif any(w in key for w in ("path", "file")):
            v = f"src/{words(_WORDS)}/{words(_WORDS)}.py"
        elif key == "id" or key.endswith("_id"):
            v = f"{words(_WORDS)}-{self.rng.randint(100, 9999)}"
        elif any(w in key for w in _PROSE_KEYS):
            v = " ".join(words(_WORDS) for _ in range(self.rng.randint(6, 14))).capitalize() + "."
        elif any(w in key for w in ("query", "search", "question", "topic")):
            v = " ".join(words(_WORDS) for _ in range(self.rng.randint(2, 5)))
        else:
            v = " ".join(words(_WORDS) for _ in range(self.rng.randint(1, 4)))
        while len(v) < lo:
            v += " " + self.rng.choice(_WORDS)
        if hi is not None and len(v) > hi:
            v = v[:hi]
            if v.endswith(" "):
                v = v[:-1] + "s"
        return v

    # numbers

    def _number(self, s: dict[str, Any], integer: bool) -> int | float:
        b = _bounds(s)
        lo, _, hi, _ = b
        if lo is None and hi is None:
            lo, hi = 0, 100
        elif lo is None:
            lo = hi - 100
        elif hi is None:
            hi = lo + 100
        if lo > hi:
            raise SchemaError(f"minimum {lo} > maximum {hi}")
        if hi - lo > _SPAN:  # keep values human-sized: near 0 when allowed, else near the minimum
            lo, hi = (max(lo, 0), min(hi, _SPAN)) if lo <= 0 <= hi else (lo, lo + _SPAN)
        m = s.get("multipleOf")

        def fits(v: int | float) -> bool:
            return _in_bounds(v, b) and (m is None or _is_multiple(v, m)) and (not integer or float(v).is_integer())

        if m is None and not integer:
            for _ in range(_ATTEMPTS):
                x = round(self.rng.uniform(lo, hi), 2)
                if fits(x):
                    return x
            if fits((lo + hi) / 2):
                return (lo + hi) / 2
            raise SchemaError(f"no number within {b}")
        steps = range(math.ceil(lo / m), math.floor(hi / m) + 1) if m else range(math.ceil(lo), math.floor(hi) + 1)

        def at(k: int) -> int | float:
            v = _round_like(k * m, m) if m else k
            return int(v) if integer and float(v).is_integer() else v

        if len(steps) <= 64:
            found = [v for v in map(at, steps) if fits(v)]
            if found:
                return self.rng.choice(found)
        else:
            for _ in range(_ATTEMPTS * 2):
                v = at(self.rng.choice(steps))
                if fits(v):
                    return v
        kind = "integer" if integer else "number"
        raise SchemaError(f"no {kind} within {b}" + (f" is a multiple of {m}" if m else ""))

    # arrays and objects

    def _array(self, s: dict[str, Any], depth: int, name: str) -> list[Any]:
        lo, hi = s.get("minItems", 0), s.get("maxItems")
        prefix, rest = _item_schemas(s)
        if rest is False:
            hi = len(prefix) if hi is None else min(hi, len(prefix))
        if hi is not None and hi < lo:
            raise SchemaError(f"maxItems {hi} < minItems {lo}")
        top = lo + 3 if hi is None else min(hi, lo + 3)
        n = lo if depth >= self.max_depth else self.rng.randint(min(max(lo, 1), top), top)
        out: list[Any] = []
        seen: set[Any] = set()
        unique = bool(s.get("uniqueItems"))
        for _ in range(max(n, 1) * _ATTEMPTS):
            if len(out) >= n:
                break
            i = len(out)
            item = self.value(prefix[i] if i < len(prefix) else rest, depth + 1, name)
            if unique:
                key = _norm(item)
                if key in seen:
                    continue
                seen.add(key)
            out.append(item)
        if len(out) < lo:
            raise SchemaError(f"could not find {lo} distinct items for a uniqueItems array")
        return out

    def _object(self, s: dict[str, Any], depth: int, name: str) -> dict[str, Any]:
        props: dict[str, Any] = s.get("properties", {})
        required = list(s.get("required", []))
        extra = s.get("additionalProperties", True)
        deep = depth >= self.max_depth
        # All optional: the answer is in them, so a model fills them all (at the top of the input).
        fill = self.complete or (not required and depth < _FILL_DEPTH)
        out: dict[str, Any] = {}
        for key in [k for k in props if k in required] + [k for k in props if k not in required]:
            if key in required or (not deep and (fill or self.rng.random() < _OPTIONAL_RATE)):
                out[key] = self.value(props[key], depth + 1, key)
        for key in required:
            if key not in out:
                out[key] = self.value(extra if isinstance(extra, dict) else {}, depth + 1, key)
        optional = [k for k in props if k not in out]
        want = s.get("minProperties", 0)
        if not props and isinstance(extra, dict) and extra and not deep:
            want = max(want, self.rng.randint(1, 2))  # a map-like object: give it a few entries
        while len(out) < want:
            if optional:
                key = optional.pop(0)
                out[key] = self.value(props[key], depth + 1, key)
            elif extra is False:
                raise SchemaError(f"minProperties {want} needs keys that additionalProperties: false forbids")
            else:
                key = f"{self.rng.choice(_WORDS)}_{len(out)}"
                out[key] = self.value(extra if isinstance(extra, dict) else {}, depth + 1, key)
        most = s.get("maxProperties")
        if most is not None:
            for key in [k for k in out if k not in required][: max(0, len(out) - most)]:
                del out[key]
        return out


def _round_like(v: float, m: float) -> int | float:
    """k·m without float noise: 3·0.1 → 0.3 (decimals of m), integers stay integers."""
    if isinstance(m, int):
        return int(v)
    decimals = max(0, -math.floor(math.log10(abs(m)))) + 6 if m else 0
    return round(v, decimals)


# ---- formats ----


def _date(rng: random.Random) -> str:
    return f"{rng.randint(2020, 2026):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _time(rng: random.Random) -> str:
    return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z"


_FORMATS: dict[str, Callable[[random.Random], str]] = {
    "email": lambda r: f"{r.choice(_WORDS)}.{r.choice(_WORDS)}@example.com",
    "date": _date,
    "time": _time,
    "date-time": lambda r: f"{_date(r)}T{_time(r)}",
    "uri": lambda r: f"https://example.com/{r.choice(_WORDS)}/{r.randint(1, 999)}",
    "url": lambda r: f"https://example.com/{r.choice(_WORDS)}/{r.randint(1, 999)}",
    "uuid": lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)),
    "hostname": lambda r: f"{r.choice(_WORDS)}.example.com",
    "ipv4": lambda r: f"192.0.2.{r.randint(1, 254)}",
    "ipv6": lambda r: f"2001:db8::{r.randint(1, 0xFFFF):x}",
}


_PROSE_KEYS = ("description", "summary", "content", "text", "body", "message", "reason", "explanation", "answer")
_EXAMPLE = re.compile(r"(?:\be\.g\.|\bfor example\b|\bsuch as\b)[:,]?\s+(.+)", re.IGNORECASE)


def _example(description: Any) -> str | None:
    """The example a description gives: `e.g. San Francisco, CA`, `such as 'celsius'` (quoted: the first)."""
    if not isinstance(description, str) or not (m := _EXAMPLE.search(description)):
        return None
    rest = m.group(1).strip()
    if rest and rest[0] in "'\"`" and (end := rest.find(rest[0], 1)) > 1:
        return rest[1:end]
    rest = re.split(r"\)|;|\. |\.$|\n", rest, maxsplit=1)[0].strip().rstrip(".,")
    return rest or None


def _hinted_format(name: str, s: dict[str, Any]) -> Callable[[random.Random], str] | None:
    """A format suggested by the property name (`email`, `url`, `start_date`…), for realism."""
    if s.get("minLength") or s.get("maxLength") is not None:
        return None
    key = name.lower()
    for hint, fmt in (("email", "email"), ("url", "uri"), ("uri", "uri"), ("uuid", "uuid"), ("date", "date")):
        if key == hint or key.endswith("_" + hint):
            return _FORMATS[fmt]
    return None


# ---- patterns ----

_PRINTABLE = string.ascii_letters + string.digits + " -_.,:;!?@#/"


class _Unsupported(Exception):
    pass


def _from_pattern(pattern: str, rng: random.Random, lo: int, hi: int | None) -> str | None:
    """A string matching `pattern` (searched, as JSON Schema does) within the length bounds, or None."""
    try:
        tree = re._parser.parse(pattern)  # type: ignore[attr-defined]
        compiled = re.compile(pattern)
    except (re.error, AttributeError):
        return None
    for _ in range(_ATTEMPTS):
        try:
            v = _emit(tree, rng, {})
        except _Unsupported:
            return None
        # Unanchored at the end, padding keeps the match; so does a prefix when unanchored at the start.
        if len(v) < lo and not pattern.endswith("$"):
            v += "x" * (lo - len(v))
        if len(v) < lo and not pattern.startswith("^"):
            v = "x" * (lo - len(v)) + v
        if compiled.search(v) and lo <= len(v) <= (hi if hi is not None else math.inf):
            return v
    return None


def _emit(tree: Any, rng: random.Random, groups: dict[int, str]) -> str:
    out: list[str] = []
    for op, arg in tree:
        name = op.name
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append(rng.choice([c for c in _PRINTABLE if ord(c) != arg]))
        elif name == "ANY":
            out.append(rng.choice(string.ascii_letters))
        elif name == "IN":
            out.append(_emit_class(arg, rng))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            least, most, sub = arg
            count = rng.randint(least, min(most, least + 3))
            out.extend(_emit(sub, rng, groups) for _ in range(count))
        elif name == "SUBPATTERN":
            group, _add, _del, sub = arg
            text = _emit(sub, rng, groups)
            if group is not None:
                groups[group] = text
            out.append(text)
        elif name == "BRANCH":
            out.append(_emit(rng.choice(arg[1]), rng, groups))
        elif name == "GROUPREF":
            out.append(groups.get(arg, ""))
        elif name == "AT":
            continue
        else:  # lookarounds, conditionals: not worth inverting for tool schemas
            raise _Unsupported(name)
    return "".join(out)


_CATEGORIES = {
    "CATEGORY_DIGIT": string.digits,
    "CATEGORY_NOT_DIGIT": string.ascii_letters,
    "CATEGORY_WORD": string.ascii_letters + string.digits + "_",
    "CATEGORY_NOT_WORD": " -.,",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": string.ascii_letters + string.digits,
}


def _emit_class(items: list[tuple[Any, Any]], rng: random.Random) -> str:
    def members(item: tuple[Any, Any]) -> str:
        op, arg = item
        if op.name == "LITERAL":
            return chr(arg)
        if op.name == "RANGE":
            return "".join(chr(c) for c in range(arg[0], min(arg[1], arg[0] + 200) + 1))
        if op.name == "CATEGORY":
            return _CATEGORIES.get(arg.name, "")
        raise _Unsupported(op.name)

    if items and items[0][0].name == "NEGATE":
        banned = set("".join(members(i) for i in items[1:]))
        allowed = [c for c in _PRINTABLE if c not in banned]
    else:
        allowed = list("".join(members(i) for i in items))
    if not allowed:
        raise _Unsupported("empty character class")
    return rng.choice(allowed)
