"""Pieces every handler shares: the state key, the API's common headers, errors, auth."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from mockclaude.server.identity import SCOPE_HEADER, presented_key
from mockclaude.server.request_keys import BODY, REQUEST_ID
from mockclaude.server.scopes import check_name
from mockclaude.server.state import MockState
from mockclaude.wire.errors import ApiError, error_bytes, should_retry

MAX_BODY_BYTES = 32 * 1024 * 1024  # the real API's limit for Messages and count_tokens
# Bodies from this size on are token-counted off the event loop (a thread costs ~50 us; tiny
# prompts are cheaper to count inline).
OFFLOAD_COUNT_BYTES = 256 * 1024
STATE: web.AppKey[MockState] = web.AppKey("state", MockState)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


COMMON_HEADERS = ("request-id", "anthropic-organization-id")  # the names common_headers sets


def common_headers(request: web.Request) -> dict[str, str]:
    """Headers the real API puts on every response (COMMON_HEADERS)."""
    request_id, organization_id = COMMON_HEADERS
    return {request_id: request[REQUEST_ID], organization_id: request.app[STATE].options.org_id}


def error_response(request: web.Request, err: ApiError) -> web.Response:
    """An ApiError as the API sends it: JSON envelope, request-id, x-should-retry."""
    headers = {
        **common_headers(request),
        "x-should-retry": "true" if should_retry(err.status) else "false",
        **err.headers,
    }
    body = error_bytes(err.error_type, err.message, request[REQUEST_ID])
    return web.Response(status=err.status, body=body, content_type="application/json", headers=headers)


async def read_body(request: web.Request) -> bytes:
    """The whole body; 408 when the client stops sending it, 400 when it cannot be decoded (bad gzip, chunks)."""
    try:
        content = request.content
        if content.is_eof():
            # All of it is here already (most requests): taken from the buffer at once, with no timer
            # and none of request.read()'s chunk loop; the size limit checked as request.read() does.
            data = content.read_nowait()
            if len(data) > MAX_BODY_BYTES:
                raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=len(data))
        else:
            async with asyncio.timeout(request.app[STATE].options.idle_timeout_s):
                data = await request.read()
        request[BODY] = data
        return data
    except TimeoutError:
        raise ApiError(408, "Request timed out while reading the request body") from None
    except web.RequestPayloadError as exc:
        reason = getattr(exc.__cause__, "message", None) or "malformed payload"
        raise ApiError(400, f"The request body could not be read: {reason}") from None


def api_key(request: web.Request) -> str:
    """The caller's key from `x-api-key` or `Authorization: Bearer`; 401 like the real API otherwise."""
    key = presented_key(request)
    if not key:
        raise ApiError(401, "x-api-key header is required")
    allowed = request.app[STATE].options.api_keys
    if allowed and key not in allowed:
        raise ApiError(401, "invalid x-api-key")
    return key


def require_version(request: web.Request) -> None:
    """The real API rejects a request without `anthropic-version`; any value is accepted here."""
    if not request.headers.get("anthropic-version", "").strip():
        raise ApiError(400, "anthropic-version: header is required")


async def offloaded[T](size: int, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` for a body of `size` bytes: inline when small, in a thread when large.

    Token counting of a large prompt runs in a thread (tiktoken releases the GIL) so that one 30 MB
    request does not stall every other stream's schedule for seconds.
    """
    if size < OFFLOAD_COUNT_BYTES:
        return fn(*args, **kwargs)
    return await asyncio.to_thread(fn, *args, **kwargs)


def scope_name(request: web.Request) -> str | None:
    """The request's scope from `x-mockclaude-scope` (None: the default scope); 400 for a bad name."""
    name = request.headers.get(SCOPE_HEADER)
    if not name:
        return None
    try:
        return check_name(name)
    except ValueError as exc:
        raise ApiError(400, f"{SCOPE_HEADER}: {exc}") from None


def scoped_key(request: web.Request, scope: str | None) -> str:
    """The caller's identity for per-key state (rate-limit buckets, caches): its API key within its
    scope (`scope_name(request)`).

    The one place that joins the two, so every per-key store keeps scopes apart the same way.
    """
    key = api_key(request)
    return key if scope is None else f"{scope}\x00{key}"
