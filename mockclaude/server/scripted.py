"""Scripted answers in the request path: which rule answers (a scope's own rules, then the
server-wide ones), and what it asks the handler to do."""

import random
from typing import Any

from mockclaude.rules import match, respond
from mockclaude.rules.match import Hit
from mockclaude.server.scopes import Scope
from mockclaude.server.state import MockState
from mockclaude.synth.content import ResponsePlan
from mockclaude.wire.errors import ApiError
from mockclaude.wire.messages import InputUsage


def pick(state: MockState, sc: Scope, body: dict[str, Any]) -> Hit | None:
    """The rule that answers `body` in scope `sc` (its use is counted in the scope), or None."""
    if not sc.rules and not state.rules:
        return None
    return match.pick(sc.rules + state.rules, match.seen(body, sc.name), sc.used)


def unmatched(state: MockState, sc: Scope, body: dict[str, Any]) -> ApiError:
    """The --strict-rules answer to a request no rule matches: the closest rules and why each failed."""
    why = match.explain(sc.rules + state.rules, match.seen(body, sc.name), sc.used)
    return ApiError(404, f"mockclaude: no rule matches this request (--strict-rules). Closest rules: {why}")


def fault(hit: Hit | None) -> str | None:
    """The fault a rule asks for, if any."""
    return hit.response.fault if hit is not None else None


def raise_error(hit: Hit, headers: dict[str, str]) -> None:
    """Raise the API error the rule answers with, if it answers with one."""
    if hit.response.error is not None:
        err = respond.error(hit.response)
        err.headers.update(headers)
        raise err


def plan(hit: Hit, body: dict[str, Any], rng: random.Random) -> ResponsePlan:
    """The rule's content as a plan, to be paced like any answer."""
    return respond.plan(hit.response, body, rng, hit.rule.where)


def input_tokens(hit: Hit, counted: int | InputUsage) -> int | InputUsage:
    """The input tokens the answer reports: the rule's usage.input_tokens, else the counted (and cached) ones."""
    return hit.response.usage.get("input_tokens", counted)
