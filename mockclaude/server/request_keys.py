"""What a request carries from one part of the mock to another: keys of aiohttp's typed request storage."""

from typing import Any

from aiohttp import web

REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)
BODY: web.RequestKey[bytes] = web.RequestKey("body", bytes)  # as read: the client verdict fingerprints it
BODY_JSON: web.RequestKey[Any] = web.RequestKey("body_json")  # a Messages body, parsed and checked
FAULT: web.RequestKey[str | None] = web.RequestKey("fault")  # the fault injected, if any
STALL: web.RequestKey[tuple[float, bool]] = web.RequestKey("stall")  # (s waited, whether the client gave up)
RATELIMIT_HEADERS: web.RequestKey[dict[str, str]] = web.RequestKey("ratelimit_headers", dict)  # a batch call's limits
