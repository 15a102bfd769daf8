"""Requests aiohttp cannot parse (unknown method tokens, oversized headers, garbage bytes) answered
in the API's error shape instead of aiohttp's plain text.

aiohttp answers these from `RequestHandler.handle_error`, before any middleware runs, and offers no
public hook for it; the pinned aiohttp version is subclassed here, and
tests/test_reliability_hostile.py fails if an upgrade changes that.
"""

from typing import Any

from aiohttp import web, web_protocol, web_server

from mockclaude.server.arrival import ArrivalStamps
from mockclaude.wire import ids
from mockclaude.wire.errors import ERROR_TYPES, error_bytes, should_retry


class _ApiRequestHandler(ArrivalStamps):
    def handle_error(
        self, request: Any, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ):
        # The parent logs, and raises if part of a response already went out; keep both.
        super().handle_error(request, status, exc, message)
        reason = str(getattr(exc, "message", "") or message or "").strip() or "Bad Request"
        text = "Internal server error" if status >= 500 else f"Malformed HTTP request: {reason}"
        rid = ids.request_id()
        resp = web.Response(
            status=status,
            body=error_bytes(ERROR_TYPES.get(status, "invalid_request_error"), text, rid),
            content_type="application/json",
            headers={"request-id": rid, "x-should-retry": "true" if should_retry(status) else "false"},
        )
        resp.force_close()
        return resp


class _ApiServer(web_server.Server):
    def __call__(self) -> web_protocol.RequestHandler:
        return _ApiRequestHandler(self, loop=self._loop, **self._kwargs)


class ApiAppRunner(web.AppRunner):
    """An AppRunner whose connections answer parse errors in the API's shape."""

    async def _make_server(self) -> web_server.Server:
        server = await super()._make_server()
        server.__class__ = _ApiServer  # same state, our handler factory
        return server
