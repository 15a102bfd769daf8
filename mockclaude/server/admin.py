"""The admin API under /_mockclaude/: read stats and settings, change settings while running.

The prefix cannot collide with the real API. With `--admin-token`, every admin call needs the
header `x-mockclaude-admin-token`; `--no-admin` removes these routes altogether.
"""

import asyncio
import hmac
import json

from aiohttp import web

from mockclaude.rules import spec
from mockclaude.server import caching
from mockclaude.server.common import STATE, Handler, read_body
from mockclaude.server.scopes import Scope, check_name
from mockclaude.server.state import MockState
from mockclaude.server.stats import ACCEPT_QUEUE
from mockclaude.wire.errors import ApiError
from mockclaude.wire.messages import dumps

PREFIX = "/_mockclaude"
TOKEN_HEADER = "x-mockclaude-admin-token"


def _authorize(request: web.Request) -> None:
    token = request.app[STATE].options.admin_token
    given = request.headers.get(TOKEN_HEADER, "")
    # Header bytes that are not UTF-8 arrive surrogate-escaped: compare them as bytes, never fail on them.
    if token and not hmac.compare_digest(given.encode(errors="surrogateescape"), token.encode()):
        raise ApiError(401, f"admin API: missing or wrong {TOKEN_HEADER}")


def _json(obj: object) -> web.Response:
    return web.Response(body=dumps(obj), content_type="application/json")


async def stats(request: web.Request) -> web.Response:
    """Counters: requests by status, 429s from the limiter, faults, streams, tokens, lateness, live tasks."""
    _authorize(request)
    # Live asyncio tasks (this request's included) let load tests check that nothing leaks.
    return _json({**request.app[STATE].stats.to_json(), "tasks": len(asyncio.all_tasks())})


async def get_config(request: web.Request) -> web.Response:
    """The current behaviour settings."""
    _authorize(request)
    return _json(request.app[STATE].settings.to_json())


async def patch_config(request: web.Request) -> web.Response:
    """Change some settings at once: all valid → all applied; any invalid → nothing changes (400)."""
    _authorize(request)
    state = request.app[STATE]
    try:
        changes = json.loads(await read_body(request))
        new = state.settings.updated(changes)
    except (ValueError, TypeError) as exc:
        raise ApiError(400, f"admin API: {exc}") from None
    state.apply(new)
    return _json(new.to_json())


async def verdict(request: web.Request) -> web.Response:
    """The client verdict: per client, what it did wrong (and how to fix it) and what it did well."""
    _authorize(request)
    return _json(request.app[STATE].watch.judge.verdict())


async def cache(request: web.Request) -> web.Response:
    """The prompt cache: store, live entries, capacity; this process's hits, misses, tokens read and written."""
    _authorize(request)
    return _json(await asyncio.to_thread(caching.summary, request.app[STATE]))  # a table scan: off the loop


async def flush_cache(request: web.Request) -> web.Response:
    """Remove every prompt-cache entry (for every worker and host sharing the store)."""
    _authorize(request)
    return _json({"flushed": await asyncio.to_thread(request.app[STATE].prompt_cache.clear)})


async def reset(request: web.Request) -> web.Response:
    """Zero the counters, refill every rate-limit bucket, empty the prompt cache, start recorded answers
    from the first again, forget every Message Batch, restart outage windows, forget the client verdict
    and every scope."""
    _authorize(request)
    state = request.app[STATE]
    for name in list(state.scopes):
        state.drop_scope(name)
    state.default.used.clear()
    state.stats.reset()
    ACCEPT_QUEUE.reset()
    state.watch.judge.reset()
    state.reset_limits()
    state.prompt_cache.clear()
    if state.recorded is not None:
        state.recorded.restart()
    if state.batches is not None:
        state.batches.clear()
    return _json({"ok": True})


def _checked(name: str) -> str:
    try:
        return check_name(name)
    except ValueError as exc:
        raise ApiError(400, f"admin API: scope: {exc}") from None


def _scope_param(request: web.Request) -> str | None:
    """The scope a rules call is about: `?scope=NAME` (none: the server-wide rules)."""
    name = request.query.get("scope")
    return None if name is None else _checked(name)


def _named_scope(request: web.Request) -> tuple[MockState, Scope]:
    state = request.app[STATE]
    return state, state.scope(_checked(request.match_info["name"]))


def _rules_json(state: MockState, name: str | None) -> dict[str, object]:
    rules = state.scope(name).rules if name is not None else state.rules
    used = state.scope(name).used
    return {"scope": name, "rules": [{**r.source, "where": r.where, "matched": used.get(r, 0)} for r in rules]}


async def get_rules(request: web.Request) -> web.Response:
    """The rules of a scope (`?scope=NAME`) or the server-wide ones, with how often each matched."""
    _authorize(request)
    return _json(_rules_json(request.app[STATE], _scope_param(request)))


async def add_rules(request: web.Request) -> web.Response:
    """Add rules (`{"rules": [...]}` or a list) after the scope's (or the server-wide) ones; all or nothing."""
    _authorize(request)
    state, name = request.app[STATE], _scope_param(request)
    try:
        rules = spec.parse(json.loads(await read_body(request)))
    except (ValueError, spec.RulesError) as exc:
        raise ApiError(400, f"admin API: {exc}") from None
    (state.scope(name).rules if name is not None else state.rules).extend(rules)
    return _json(_rules_json(state, name))


async def delete_rules(request: web.Request) -> web.Response:
    """Remove a scope's rules (`?scope=NAME`), or the server-wide ones (--rules included)."""
    _authorize(request)
    state, name = request.app[STATE], _scope_param(request)
    if name is None:
        state.rules.clear()
    else:
        state.scope(name).rules.clear()
    return _json(_rules_json(state, name))


async def reset_scope(request: web.Request) -> web.Response:
    """Forget a scope: its rules, counters, settings, buckets, stats and verdict start afresh."""
    _authorize(request)
    name = _checked(request.match_info["name"])
    request.app[STATE].drop_scope(name)
    return _json({"ok": True, "scope": name})


async def scope_config(request: web.Request) -> web.Response:
    """GET or PATCH a scope's settings (faults, rate_limit, timing...), like /_mockclaude/config."""
    _authorize(request)
    _, sc = _named_scope(request)
    if request.method == "PATCH":
        try:
            new = sc.settings.updated(json.loads(await read_body(request)))
        except (ValueError, TypeError) as exc:
            raise ApiError(400, f"admin API: {exc}") from None
        sc.apply(new)
    return _json(sc.settings.to_json())


async def scope_stats(request: web.Request) -> web.Response:
    """A scope's counters (requests, faults, 429s, tokens)."""
    _authorize(request)
    _, sc = _named_scope(request)
    return _json(sc.stats.to_json())


async def scope_verdict(request: web.Request) -> web.Response:
    """The client verdict of one scope's clients."""
    _authorize(request)
    state, sc = _named_scope(request)
    return _json(state.watch.judge.verdict(only_scope=sc.name))


# The admin routes as (method, path, handler), registered by server.app with --admin (the default).
ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", f"{PREFIX}/rules", get_rules),
    ("POST", f"{PREFIX}/rules", add_rules),
    ("DELETE", f"{PREFIX}/rules", delete_rules),
    ("POST", f"{PREFIX}/scopes/{{name}}/reset", reset_scope),
    ("GET", f"{PREFIX}/scopes/{{name}}/config", scope_config),
    ("PATCH", f"{PREFIX}/scopes/{{name}}/config", scope_config),
    ("GET", f"{PREFIX}/scopes/{{name}}/stats", scope_stats),
    ("GET", f"{PREFIX}/scopes/{{name}}/verdict", scope_verdict),
    ("GET", f"{PREFIX}/stats", stats),
    ("GET", f"{PREFIX}/config", get_config),
    ("PATCH", f"{PREFIX}/config", patch_config),
    ("POST", f"{PREFIX}/reset", reset),
    ("GET", f"{PREFIX}/verdict", verdict),
    ("GET", f"{PREFIX}/cache", cache),
    ("DELETE", f"{PREFIX}/cache", flush_cache),
]
