"""The rules format (a public contract, see README: Scripted answers): parse and check rules, from a
YAML/JSON file (errors name the file and line) or from JSON given to the admin API."""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mockclaude.limits.faults import KINDS as FAULT_KINDS

MATCH_KEYS = (
    "user_contains",
    "user_regex",
    "system_contains",
    "system_regex",
    "model",
    "tool_offered",
    "tool_result_for",
    "turn",
    "body",
    "scope",
)
RESPONSE_KEYS = ("text", "tool_use", "content", "thinking", "stop_reason", "stop_sequence", "usage", "error", "fault")
STOP_REASONS = ("end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal")
USAGE_KEYS = ("input_tokens", "output_tokens")


class RulesError(ValueError):
    """A rule that cannot be used; the message names where it is (file and line, or rules[i])."""


class _Located(dict):
    """A YAML mapping that remembers its line and the line of each key (1-based)."""

    line: int = 0
    lines: dict[str, int]


class _Loader(yaml.SafeLoader):
    """pyyaml's safe loader, with mappings that keep their lines (for error messages)."""


def _mapping(loader: _Loader, node: yaml.MappingNode):  # type: ignore[no-untyped-def]
    data = _Located()
    data.line = node.start_mark.line + 1
    data.lines = {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
    yield data
    data.update(loader.construct_mapping(node, deep=True))


_Loader.add_constructor("tag:yaml.org,2002:map", _mapping)


@dataclass(frozen=True)
class Response:
    """One scripted answer: content blocks (with stop reason and usage), an API error, or a fault."""

    blocks: tuple[dict[str, Any], ...] = ()  # {"type": "text"|"thinking", ...} or {"type": "tool_use", ...}
    stop_reason: str | None = None  # None: tool_use when a block calls a tool, else end_turn
    stop_sequence: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    error: tuple[int, str, str] | None = None  # status, error.type, message
    fault: str | None = None


@dataclass(frozen=True, eq=False)
class Rule:
    """A match, what to answer (one response, or a sequence for successive matches) and how often.

    Compared by identity: each rule keeps its own use count, even if two rules read the same.
    """

    match: dict[str, Any]
    responses: tuple[Response, ...]
    times: int | None  # None: no limit
    where: str  # "rules.yaml:12" or "rules[0]"
    source: dict[str, Any] = field(default_factory=dict)  # as given, for the admin API's listing

    def response(self, used: int) -> Response:
        """The answer for the rule's `used`-th match (0-based): a sequence advances, then keeps its last."""
        return self.responses[min(used, len(self.responses) - 1)]


class _Where:
    """Names a place in the rules: `file:line (rules[i].match.key)` or `rules[i].match.key`."""

    def __init__(self, origin: str | None) -> None:
        self.origin = origin

    def at(self, obj: Any, path: str, key: str | None = None) -> str:
        """The place of `obj` (or its `key`), with the path inside the rules."""
        if self.origin is None or not isinstance(obj, _Located):
            return path
        line = obj.lines.get(key, obj.line) if key is not None else obj.line
        return f"{self.origin}:{line} ({path})"


def load_file(path: str | Path) -> list[Rule]:
    """The rules of a YAML or JSON file; RulesError naming the file and line of the first problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"{p}: cannot read the rules file: {exc}") from None
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{p}:{mark.line + 1}" if mark is not None else str(p)
        problem = getattr(exc, "problem", None) or str(exc)
        raise RulesError(f"{where}: not valid YAML or JSON: {problem}") from None
    return parse(data, origin=str(p))


def parse(data: Any, origin: str | None = None) -> list[Rule]:
    """Rules from `{"rules": [...]}` or a bare list; RulesError names the first problem's place."""
    w = _Where(origin)
    if isinstance(data, dict):
        unknown = [k for k in data if k != "rules"]
        if unknown or "rules" not in data:
            raise RulesError(f"{w.at(data, 'top level')}: expected an object with one key, rules (a list of rules)")
        data = data["rules"]
    if not isinstance(data, list):
        raise RulesError(f"{w.at(data, 'rules') if origin is None else origin}: rules must be a list of rules")
    return [_rule(item, i, w) for i, item in enumerate(data)]


def _rule(item: Any, i: int, w: _Where) -> Rule:
    path = f"rules[{i}]"
    if not isinstance(item, dict):
        raise RulesError(f"{w.at(item, path)}: a rule is an object with match and respond")
    for key in item:
        if key not in ("match", "respond", "times"):
            raise RulesError(f"{w.at(item, path, key)}: unknown key {key!r}; a rule has match, respond and times")
    if "respond" not in item:
        raise RulesError(f"{w.at(item, path)}: the rule has no respond")
    match = item.get("match") or {}
    if not isinstance(match, dict):
        raise RulesError(f"{w.at(item, path + '.match', 'match')}: match must be an object")
    checked = {key: _match_value(key, value, match, f"{path}.match.{key}", w) for key, value in match.items()}
    raw = item["respond"]
    many = raw if isinstance(raw, list) else [raw]
    if not many:
        raise RulesError(f"{w.at(item, path + '.respond', 'respond')}: respond is an empty list")
    responses = tuple(
        _response(r, f"{path}.respond" + (f"[{j}]" if isinstance(raw, list) else ""), w) for j, r in enumerate(many)
    )
    times = item.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise RulesError(f"{w.at(item, path + '.times', 'times')}: times must be a whole number >= 1")
    if times is None and isinstance(raw, list):
        times = len(raw)  # a sequence answers once per item, then falls through
    where = f"{w.origin}:{item.line}" if w.origin and isinstance(item, _Located) else path
    return Rule(checked, responses, times, where, source=_plain(item))


def _plain(obj: Any) -> Any:
    """A copy without line bookkeeping (JSON-ready)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def _str_or_list(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    return None


def _match_value(key: str, value: Any, match: dict[str, Any], path: str, w: _Where) -> Any:
    where = w.at(match, path, key)
    if key not in MATCH_KEYS:
        raise RulesError(f"{where}: unknown match key {key!r}; match keys are {', '.join(MATCH_KEYS)}")
    if key in ("user_regex", "system_regex"):
        if not isinstance(value, str):
            raise RulesError(f"{where}: expected a regular expression (a string)")
        try:
            return re.compile(value)
        except re.error as exc:
            raise RulesError(f"{where}: bad regular expression {value!r}: {exc}") from None
    if key in ("tool_offered", "tool_result_for"):
        names = _str_or_list(value)
        if names is None:
            raise RulesError(f"{where}: expected a tool name or a list of tool names")
        return names
    if key == "turn":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RulesError(f"{where}: turn must be a whole number >= 0 (0 = the first request of a conversation)")
        return value
    if key == "body":
        if not isinstance(value, dict) or not value:
            raise RulesError(f'{where}: body must map JSON paths to values, e.g. {{"metadata.user_id": "u1"}}')
        return {str(k): _plain(v) for k, v in value.items()}
    if not isinstance(value, str) or not value:
        raise RulesError(f"{where}: expected a non-empty string")
    return value


def _response(r: Any, path: str, w: _Where) -> Response:
    if not isinstance(r, dict) or not r:
        raise RulesError(f"{w.at(r, path)}: a response is an object with any of {', '.join(RESPONSE_KEYS)}")
    for key in r:
        if key not in RESPONSE_KEYS:
            raise RulesError(f"{w.at(r, path, key)}: unknown response key {key!r}; keys are {', '.join(RESPONSE_KEYS)}")
    content_keys = [k for k in ("text", "tool_use", "content", "thinking") if k in r]
    if "error" in r or "fault" in r:
        other = [k for k in r if k not in ("error", "fault")] + (["error"] if "error" in r and "fault" in r else [])
        if other:
            raise RulesError(f"{w.at(r, path)}: error and fault stand alone; remove {', '.join(other)}")
        if "fault" in r:
            kind = r["fault"]
            if kind not in FAULT_KINDS:
                raise RulesError(
                    f"{w.at(r, path + '.fault', 'fault')}: unknown fault {kind!r}; kinds are {', '.join(FAULT_KINDS)}"
                )
            return Response(fault=kind)
        return Response(error=_error(r["error"], path + ".error", w))
    if "content" in r and len(content_keys) > 1:
        raise RulesError(
            f"{w.at(r, path, 'content')}: content lists every block; do not combine it with "
            f"{', '.join(k for k in content_keys if k != 'content')}"
        )
    if not content_keys:
        raise RulesError(
            f"{w.at(r, path)}: the response says nothing to answer (text, tool_use, content, thinking, error or fault)"
        )
    if "content" in r:
        if not isinstance(r["content"], list) or not r["content"]:
            raise RulesError(f"{w.at(r, path + '.content', 'content')}: content must be a non-empty list of blocks")
        blocks = [_block(b, f"{path}.content[{j}]", w) for j, b in enumerate(r["content"])]
    else:
        # Thinking first, then text, then the tool call: the order the API sends them in.
        blocks = []
        if "thinking" in r:
            blocks.append(_block({"type": "thinking", "thinking": r["thinking"]}, path + ".thinking", w, r, "thinking"))
        if "text" in r:
            blocks.append(_block({"type": "text", "text": r["text"]}, path + ".text", w, r, "text"))
        if "tool_use" in r:
            call = r["tool_use"]
            if not isinstance(call, dict):
                raise RulesError(f"{w.at(r, path + '.tool_use', 'tool_use')}: tool_use is {{name, input}}")
            blocks.append(_block({"type": "tool_use", **call}, path + ".tool_use", w, call))
    stop = r.get("stop_reason")
    if stop is not None and stop not in STOP_REASONS:
        raise RulesError(
            f"{w.at(r, path + '.stop_reason', 'stop_reason')}: stop_reason must be one of {', '.join(STOP_REASONS)}"
        )
    seq = r.get("stop_sequence")
    if seq is not None and not isinstance(seq, str):
        raise RulesError(f"{w.at(r, path + '.stop_sequence', 'stop_sequence')}: stop_sequence must be a string")
    usage = r.get("usage") or {}
    if not isinstance(usage, dict) or any(
        k not in USAGE_KEYS or isinstance(v, bool) or not isinstance(v, int) or v < 0 for k, v in usage.items()
    ):
        raise RulesError(
            f"{w.at(r, path + '.usage', 'usage')}: usage may set {', '.join(USAGE_KEYS)} (whole numbers >= 0)"
        )
    return Response(tuple(blocks), stop, seq, dict(usage))


def _block(b: Any, path: str, w: _Where, at: Any = None, key: str | None = None) -> dict[str, Any]:
    where = w.at(at if at is not None else b, path, key)
    if not isinstance(b, dict):
        raise RulesError(f"{where}: a content block is an object with a type")
    kind = b.get("type")
    if kind in ("text", "thinking"):
        if not isinstance(b.get(kind), str) or set(b) - {"type", kind}:
            raise RulesError(f"{where}: a {kind} block is {{type: {kind}, {kind}: STRING}}")
        return {"type": kind, kind: b[kind]}
    if kind == "tool_use":
        name, tool_input = b.get("name"), b.get("input", {})
        if (
            not isinstance(name, str)
            or not name
            or not isinstance(tool_input, dict)
            or set(b) - {"type", "name", "input"}
        ):
            raise RulesError(f"{where}: a tool call is {{name: TOOL, input: OBJECT}}")
        return {"type": "tool_use", "name": name, "input": _plain(tool_input)}
    raise RulesError(f"{where}: block type must be text, thinking or tool_use, not {kind!r}")


def _error(e: Any, path: str, w: _Where) -> tuple[int, str, str]:
    where = w.at(e, path)
    if not isinstance(e, dict) or set(e) - {"status", "type", "message"}:
        raise RulesError(f"{where}: error is {{status, type, message}}")
    status = e.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise RulesError(f"{where}: error.status must be an HTTP error status (400-599)")
    kind, message = e.get("type"), e.get("message", "")
    if kind is not None and (not isinstance(kind, str) or not kind):
        raise RulesError(f"{where}: error.type must be a string such as overloaded_error")
    if not isinstance(message, str):
        raise RulesError(f"{where}: error.message must be a string")
    return status, kind or "", message
