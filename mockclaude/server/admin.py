"""The admin API under /_mockclaude/: read stats and settings, change settings while running.

The prefix cannot collide with the real API. With `--admin-token`, every admin call needs the
header `x-mockclaude-admin-token`; `--no-admin` removes these routes altogether.
"""

import asyncio
import hmac
import json

from aiohttp import web

from mockclaude.server import caching
from mockclaude.server.common import STATE, read_body
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
    from the first again, forget every Message Batch, restart outage windows, forget the client verdict."""
    _authorize(request)
    state = request.app[STATE]
    state.stats.reset()
    state.watch.judge.reset()
    state.reset_limits()
    state.prompt_cache.clear()
    if state.recorded is not None:
        state.recorded.restart()
    if state.batches is not None:
        state.batches.clear()
    return _json({"ok": True})


def add_routes(app: web.Application) -> None:
    """Register the admin routes."""
    app.router.add_get(f"{PREFIX}/stats", stats)
    app.router.add_get(f"{PREFIX}/config", get_config)
    app.router.add_patch(f"{PREFIX}/config", patch_config)
    app.router.add_post(f"{PREFIX}/reset", reset)
    app.router.add_get(f"{PREFIX}/verdict", verdict)
    app.router.add_get(f"{PREFIX}/cache", cache)
    app.router.add_delete(f"{PREFIX}/cache", flush_cache)
