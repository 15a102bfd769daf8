"""The prompt cache in the server: a request's prefix, its lookup and commit, the admin routes.

The rules are in mockclaude.limits.prompt_cache; this module feeds it a request (scope: the API
key and the `anthropic-workspace-id` header) and the current settings, and counts what it did.
"""

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from mockclaude import models
from mockclaude.limits import prompt_cache
from mockclaude.limits.prompt_cache import Breakpoint, Lookup, Prefix
from mockclaude.server.common import offloaded
from mockclaude.server.state import MockState

WORKSPACE_HEADER = "anthropic-workspace-id"


def scope(request: web.Request, key: str) -> str:
    """Whose cache a request uses: its API key and workspace. Caches are isolated per organization and
    workspace, never shared across them (docs)."""
    return f"{key}\0{request.headers.get(WORKSPACE_HEADER, '')}"


async def prefix(
    state: MockState,
    cache_scope: str | None,
    body: dict[str, Any],
    size: int,
    info: models.ModelInfo,
    marks: Sequence[Breakpoint],
) -> Prefix | None:
    """The request's hashed and counted prefix at its breakpoints (prompt_cache.breakpoints), or None
    when nothing can be cached (no breakpoint, no scope, or `--prompt-cache off`)."""
    if not marks or cache_scope is None or not state.settings.prompt_cache:
        return None
    return await offloaded(
        size, Prefix.of, body, list(marks), scope=cache_scope, model=info.id, factor=info.tokenizer_factor
    )


def lookup(state: MockState, found: Prefix | None, info: models.ModelInfo, input_tokens: int) -> Lookup:
    """What the request reads and would write; everything uncached without a prefix."""
    if found is None:
        return Lookup.uncached(input_tokens)
    return prompt_cache.lookup(
        found, state.prompt_cache.present, info.min_cache_tokens, state.settings.prompt_cache_ttl_scale
    )


def commit(state: MockState, done: Lookup, ready_in_s: float) -> None:
    """Write and refresh the request's entries (readable once its response begins) and count them."""
    if not done.looked_up:
        return
    if done.writes or done.refreshes:
        state.prompt_cache.commit(done.writes, done.refreshes, ready_in_s)
    state.stats.cache_used(done.usage, done.hit)


def summary(state: MockState) -> dict[str, Any]:
    """The cache as the admin API shows it: store, entries, and this process's counters."""
    store = state.prompt_cache
    return {
        "enabled": state.settings.prompt_cache,
        "ttl_scale": state.settings.prompt_cache_ttl_scale,
        "store": store.kind,
        "capacity": store.capacity,
        "entries": store.entries(),
        **state.stats.cache_json(),
    }
