"""The aiohttp application: routes, each handler wrapped in what gives every answer the API's shape."""

import asyncio
import functools
import logging

from aiohttp import web

from mockclaude.server import admin, batches, messages_handler, models_handler
from mockclaude.server.common import (
    COMMON_HEADERS,
    MAX_BODY_BYTES,
    STATE,
    Handler,
    common_headers,
    error_response,
)
from mockclaude.server.identity import SCOPE_HEADER
from mockclaude.server.request_keys import REQUEST_ID
from mockclaude.server.state import MockState
from mockclaude.wire import ids
from mockclaude.wire.errors import ApiError

log = logging.getLogger("mockclaude.server")

# aiohttp's own HTTP errors (no route, wrong method, body too large) mapped to the API's words.
_HTTP_ERRORS: dict[int, tuple[int, str]] = {
    404: (404, "Not Found"),
    405: (405, "Method Not Allowed"),
    413: (413, "Request exceeds the maximum allowed number of bytes."),
}


async def api_shape(request: web.Request, handler: Handler, endpoint: str) -> web.StreamResponse:
    """Give each request an id and turn every failure into the API's error envelope (around every route's
    handler, `endpoint` its route's path: make_app registers each one wrapped in it)."""
    request[REQUEST_ID] = ids.request_id()
    state = request.app[STATE]
    arrival = state.watch.arrive(request, endpoint)
    try:
        resp = await handler(request)
    except ApiError as err:
        resp = error_response(request, err)
    except web.HTTPException as exc:
        status, message = _HTTP_ERRORS.get(exc.status, (exc.status, exc.reason))
        resp = error_response(request, ApiError(status, message))
    except (ConnectionResetError, asyncio.CancelledError):
        # The client went away mid-answer (aiohttp cancels the handler): nobody to answer, and not a
        # bug of ours to log.
        if arrival is not None:
            state.watch.finish(request, arrival, 0, {}, None)
        raise
    except Exception:
        # A bug of ours, never the client's fault: log it and answer like the API's own 500.
        log.exception("internal error on %s %s", request.method, request.path)
        resp = error_response(request, ApiError(500, "Internal server error"))
    # Most handlers added them already; checking first is cheaper than setting them again.
    if not resp.prepared and any([k not in resp.headers for k in COMMON_HEADERS]):  # a list: 3.12 inlines it
        for k, v in common_headers(request).items():
            resp.headers.setdefault(k, v)
    # A scoped request counts in its scope's stats (the default scope's are the server's /stats).
    sc = state.scopes.get(request.headers.get(SCOPE_HEADER, ""), state.default)
    sc.stats.answered(endpoint, resp.status)
    if arrival is not None:
        limits = sc.settings.rate_limit
        state.watch.finish(request, arrival, resp.status, resp.headers, limits.rpm if limits else None)
    return resp


async def _not_found(request: web.Request) -> web.Response:
    raise ApiError(404, "Not Found")


async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition of the mock's own metrics (built in a thread: counting the prompt cache's
    entries scans its table, ~15 ms, which would stall every stream's schedule)."""
    body = await asyncio.to_thread(request.app[STATE].stats.prometheus)
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


def make_app(state: MockState) -> web.Application:
    """The mock's aiohttp application."""
    # keepalive_timeout also bounds a connection that never completes its request headers (slowloris);
    # lingering_time bounds how long the unread rest of a timed-out body is drained before closing.
    idle = state.options.idle_timeout_s
    handler_args = {"max_field_size": 65536, "keepalive_timeout": idle, "lingering_time": min(idle, 10.0)}
    app = web.Application(client_max_size=MAX_BODY_BYTES, handler_args=handler_args)
    app[STATE] = state
    routes: list[tuple[str, str, Handler]] = [
        ("POST", "/v1/messages", messages_handler.create),
        ("POST", "/v1/messages/count_tokens", messages_handler.count_tokens),
        ("GET", "/v1/models", models_handler.list_models),
        ("GET", "/v1/models/{model_id}", models_handler.get_model),
        ("GET", "/metrics", metrics),
        *batches.ROUTES,
        *(admin.ROUTES if state.options.admin else ()),
        ("*", "/{tail:.*}", _not_found),  # last: whatever no route above matched
    ]
    for method, path, handler in routes:
        # Every handler is wrapped in api_shape here rather than run through a middleware: aiohttp's
        # middleware chain (a wrapper per app, a cached chain lookup) cost ~2 us a request. The routing
        # catch-all makes sure every request reaches a wrapped handler (no 404 or 405 from the router).
        # The route's name for stats and the verdict is fixed here rather than looked up per request.
        resource = app.router.add_resource(path)
        shaped = functools.partial(api_shape, handler=handler, endpoint=resource.canonical)
        for verb in ("GET", "HEAD") if method == "GET" else (method,):  # HEAD too, as aiohttp's add_get does
            resource.add_route(verb, shaped)
    if state.upstream is not None:
        app.on_cleanup.append(state.upstream.close)
    return app
