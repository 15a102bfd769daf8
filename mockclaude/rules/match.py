"""Which rule answers a request: what a request shows the rules, each match key's test, first match wins."""

from dataclasses import dataclass
from typing import Any

from mockclaude.rules.spec import Response, Rule

# How many rules the --strict-rules error lists, closest first.
CLOSEST = 3


@dataclass(frozen=True)
class Seen:
    """What the match keys look at in one request."""

    body: dict[str, Any]
    scope: str | None
    user_text: str  # the text of the last user message
    system_text: str
    tools: frozenset[str]  # names of the tools offered
    results_for: frozenset[str]  # tools whose results are in the last message
    turn: int  # assistant messages before this request: 0 for a conversation's first request


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str))
    return ""


def seen(body: dict[str, Any], scope: str | None) -> Seen:
    """The parts of a (validated) request body the rules match on."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    users = [m for m in messages if m.get("role") == "user"]
    names = {
        b.get("id"): b.get("name")
        for m in messages
        if m.get("role") == "assistant" and isinstance(m.get("content"), list)
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "tool_use"
    }
    last = messages[-1].get("content") if messages else None
    results = {
        names.get(b.get("tool_use_id"))
        for b in (last if isinstance(last, list) else [])
        if isinstance(b, dict) and b.get("type") == "tool_result"
    }
    tools = {t["name"] for t in body.get("tools") or [] if isinstance(t, dict) and isinstance(t.get("name"), str)}
    return Seen(
        body=body,
        scope=scope,
        user_text=_text(users[-1].get("content")) if users else "",
        system_text=_text(body.get("system")),
        tools=frozenset(tools),
        results_for=frozenset(n for n in results if isinstance(n, str)),
        turn=sum(m.get("role") == "assistant" for m in messages),
    )


_MISSING = object()


def at_path(obj: Any, path: str) -> Any:
    """The value at a dotted JSON path (`metadata.user_id`, `messages.0.role`; a leading `$.` is allowed)."""
    for part in path.removeprefix("$.").split("."):
        if isinstance(obj, dict) and part in obj:
            obj = obj[part]
        elif isinstance(obj, list) and part.lstrip("-").isdigit() and -len(obj) <= int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return _MISSING
    return obj


def _short(text: str, n: int = 60) -> str:
    return repr(text if len(text) <= n else text[: n - 1] + "…")


def failures(rule: Rule, s: Seen) -> list[str]:
    """Why `rule`'s match does not fit the request (empty: it matches)."""
    out: list[str] = []
    for key, want in rule.match.items():
        if key == "user_contains" and want not in s.user_text:
            out.append(f"user_contains {want!r}: the last user text is {_short(s.user_text)}")
        elif key == "user_regex" and not want.search(s.user_text):
            out.append(f"user_regex {want.pattern!r}: no match in the last user text {_short(s.user_text)}")
        elif key == "system_contains" and want not in s.system_text:
            out.append(f"system_contains {want!r}: the system prompt is {_short(s.system_text)}")
        elif key == "system_regex" and not want.search(s.system_text):
            out.append(f"system_regex {want.pattern!r}: no match in the system prompt {_short(s.system_text)}")
        elif key == "model" and s.body.get("model") != want:
            out.append(f"model {want!r}: the request's model is {s.body.get('model')!r}")
        elif key == "tool_offered" and not set(want) <= s.tools:
            out.append(f"tool_offered {list(want)}: the tools offered are {sorted(s.tools)}")
        elif key == "tool_result_for" and not set(want) <= s.results_for:
            out.append(f"tool_result_for {list(want)}: the last message has results for {sorted(s.results_for)}")
        elif key == "turn" and s.turn != want:
            out.append(f"turn {want}: this request is turn {s.turn}")
        elif key == "scope" and s.scope != want:
            out.append(f"scope {want!r}: the request's scope is {s.scope!r}")
        elif key == "body":
            for path, value in want.items():
                got = at_path(s.body, path)
                if got != value:
                    shown = "absent" if got is _MISSING else repr(got)
                    out.append(f"body {path} == {value!r}: it is {shown}")
    return out


@dataclass(frozen=True)
class Hit:
    """The rule that answers, and its response for this match."""

    rule: Rule
    response: Response


def pick(rules: list[Rule], s: Seen, used: dict[Rule, int]) -> Hit | None:
    """The first rule that matches and is not used up; counts the use in `used`."""
    for rule in rules:
        n = used.get(rule, 0)
        if (rule.times is None or n < rule.times) and not failures(rule, s):
            used[rule] = n + 1
            return Hit(rule, rule.response(n))
    return None


def explain(rules: list[Rule], s: Seen, used: dict[Rule, int]) -> str:
    """The closest rules (fewest failed keys first) and why each failed, for the --strict-rules error."""
    if not rules:
        return "there are no rules"
    why = []
    for i, rule in enumerate(rules):
        reasons = failures(rule, s)
        n = used.get(rule, 0)
        if rule.times is not None and n >= rule.times:
            reasons.append(f"used up (times {rule.times}, matched {n})")
        why.append((len(reasons), i, rule, reasons))
    why.sort(key=lambda x: (x[0], x[1]))
    return "; ".join(f"{rule.where}: {', '.join(reasons)}" for _, _, rule, reasons in why[:CLOSEST])
