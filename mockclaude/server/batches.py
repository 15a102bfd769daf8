"""The Message Batches endpoints under /v1/messages/batches: create, list, retrieve, cancel, delete, results.

Each request inside a batch goes through the same validation and answer planning as POST
/v1/messages (`messages_handler.checked` and `messages_handler.synthetic`); the batch store
(`batch_store`) keeps the batches and their simulated clock. Choices where the API is silent are in
README ("Message Batches").
"""

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from mockclaude.limits.faults import FAULT_HEADER
from mockclaude.server import messages_handler
from mockclaude.server.batch_store import Batch, BatchStore, Planned, Planner
from mockclaude.server.common import STATE, Handler, api_key, common_headers, read_body, require_version
from mockclaude.server.request_keys import RATELIMIT_HEADERS
from mockclaude.server.state import MockState
from mockclaude.wire import batches as wb
from mockclaude.wire import pages
from mockclaude.wire.errors import ApiError
from mockclaude.wire.messages import dumps
from mockclaude.wire.validation import parse_json

# Bodies from this size on are parsed in a thread, so a 256 MB batch does not stall other streams.
OFFLOAD_PARSE_BYTES = 1024 * 1024
# Injected faults as they show in a batch result: the error a failed generation reports.
_FAULT_ERRORS = {
    "500": ("api_error", "Internal server error"),
    "529": ("overloaded_error", "Overloaded"),
    "midstream": ("overloaded_error", "Overloaded"),
    "disconnect": ("overloaded_error", "Overloaded"),
    "truncate": ("overloaded_error", "Overloaded"),
    "stall": ("overloaded_error", "Overloaded"),
}
RESULTS_CHUNK_BYTES = 64 * 1024
# Rate-limit headers of the batch endpoints: requests only (they take no tokens).
_HEADER_PREFIX = "anthropic-ratelimit-requests-"
SINGLE_PROCESS = (
    "mockclaude: the Message Batches API needs a single server process (batches live in its memory); "
    "start `mockclaude serve` without --workers to use it"
)


def _batch_header(name: str) -> bool:
    """Whether a rate-limit answer's header belongs on a batch endpoint (not the token buckets')."""
    return not name.startswith("anthropic-ratelimit-") or name.startswith(_HEADER_PREFIX)


def _store(request: web.Request) -> tuple[MockState, BatchStore, str]:
    """The state, the batch store and the caller's key, after auth, version and the batch RPM bucket."""
    state = request.app[STATE]
    key = api_key(request)
    require_version(request)
    if state.batches is None:
        raise ApiError(400, SINGLE_PROCESS)
    limiter = state.batches.limiter(state.settings.rate_limit, state.options.org_id)
    # A key of its own, so a shared bucket store (--redis) never mixes it with the Messages buckets.
    try:
        admission = limiter.admit(f"batches:{key}", "message-batches", 0, 0)
    except ApiError as err:
        state.stats.limited()
        err.headers = {k: v for k, v in err.headers.items() if _batch_header(k)}
        raise
    request[RATELIMIT_HEADERS] = {k: v for k, v in admission.headers.items() if _batch_header(k)}
    return state, state.batches, key


def _json(request: web.Request, obj: object) -> web.Response:
    headers = {**common_headers(request), **request.get(RATELIMIT_HEADERS, {})}
    return web.Response(body=dumps(obj), content_type="application/json", headers=headers)


def _base_url(request: web.Request) -> str:
    """The mock's base URL as this client reached it, for `results_url` (the SDK GETs it as given)."""
    return f"{request.scheme}://{request.host}"


def _planner_for(state: MockState, fault_header: str | None) -> Planner:
    """A Planner that answers one request's params the way POST /v1/messages would, non-streaming."""

    async def plan(params: Any) -> Planned:
        size = len(orjson.dumps(params))
        info, input_tokens, _ = await messages_handler.checked(state, params, size)  # batches: no prompt cache
        if params.get("stream"):
            # [EST] wording: the SDK types batch params as MessageCreateParamsNonStreaming (stream: False).
            raise ApiError(400, "stream: Input should be False")
        fault = state.faults.pick(fault_header)
        answer = messages_handler.synthetic(None, state, params, info, input_tokens, None)
        assert answer.body is not None
        if fault in _FAULT_ERRORS:
            state.stats.fault(fault)
            error_type, message = _FAULT_ERRORS[fault]
            # It fails part-way through its generation, as a non-streamed call does.
            return Planned(wb.errored(error_type, message), answer.at_s * state.rng.uniform(0.2, 0.8))
        message = orjson.loads(answer.body)
        message["usage"]["service_tier"] = "batch"
        return Planned(wb.succeeded(message), answer.at_s)

    return plan


async def create(request: web.Request) -> web.Response:
    """POST /v1/messages/batches: check the envelope now, answer the requests over simulated time."""
    state, store, key = _store(request)
    fault_header = request.headers.get(FAULT_HEADER)
    try:
        # The header's kind goes to every request of the batch; checked once here.
        header_fault = state.faults.pick(fault_header) if fault_header else None
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    if header_fault == "429":
        # 429 is about the call itself (a refused create, as the batch queue limit answers).
        state.stats.fault("429")
        raise ApiError(429, "Rate limited", headers={"retry-after": messages_handler.INJECTED_RETRY_AFTER})
    # The batch endpoint takes up to 256 MB, more than the app-wide limit for Messages.
    raw = await read_body(request.clone(client_max_size=wb.MAX_BATCH_BYTES))
    body = await asyncio.to_thread(parse_json, raw) if len(raw) >= OFFLOAD_PARSE_BYTES else parse_json(raw)
    del raw
    requests = wb.parse_create(body)
    batch = store.create(key, requests, _planner_for(state, fault_header))
    return _json(request, store.to_json(batch, _base_url(request)))


def _one(request: web.Request, action: Callable[[BatchStore, str, str], Batch]) -> web.Response:
    """`action(store, key, batch_id)` for the batch in the path, answered with the batch as of now."""
    _, store, key = _store(request)
    batch = action(store, key, request.match_info["batch_id"])
    return _json(request, store.to_json(batch, _base_url(request)))


async def retrieve(request: web.Request) -> web.Response:
    """GET /v1/messages/batches/{id}: the batch as of now (poll it until `processing_status` is ended)."""
    return _one(request, BatchStore.get)


async def list_batches(request: web.Request) -> web.Response:
    """GET /v1/messages/batches: a page of the key's batches, newest first."""
    _, store, key = _store(request)
    q = request.query
    base = _base_url(request)
    result = pages.page(
        store.newest_first(key),
        lambda b: b.id,
        lambda b: store.to_json(b, base),
        limit=q.get("limit"),
        after_id=q.get("after_id"),
        before_id=q.get("before_id"),
        noun="message batch",
    )
    return _json(request, result)


async def cancel(request: web.Request) -> web.Response:
    """POST /v1/messages/batches/{id}/cancel: `canceling` until the started requests are done."""
    return _one(request, BatchStore.cancel)


async def delete(request: web.Request) -> web.Response:
    """DELETE /v1/messages/batches/{id}: only once it has ended."""
    _, store, key = _store(request)
    batch_id = request.match_info["batch_id"]
    store.delete(key, batch_id)
    return _json(request, wb.deleted(batch_id))


async def results(request: web.Request) -> web.StreamResponse:
    """GET /v1/messages/batches/{id}/results: the JSONL stream, one result per line, no blank lines."""
    _, store, key = _store(request)
    lines = store.results(key, request.match_info["batch_id"])
    headers = {**common_headers(request), **request.get(RATELIMIT_HEADERS, {})}
    # [REF §6] the API serves `application/x-jsonl`; the SDK reads it as a byte stream.
    resp = web.StreamResponse(status=200, headers={**headers, "Content-Type": "application/x-jsonl"})
    await resp.prepare(request)
    chunk: list[bytes] = []
    size = 0
    for line in lines:
        chunk.append(line)
        size += len(line)
        if size >= RESULTS_CHUNK_BYTES:
            await resp.write(b"".join(chunk))
            chunk, size = [], 0
    if chunk:
        await resp.write(b"".join(chunk))
    await resp.write_eof()
    return resp


# The batch routes as (method, path, handler), registered by server.app before the catch-all 404.
ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/v1/messages/batches", create),
    ("GET", "/v1/messages/batches", list_batches),
    ("GET", "/v1/messages/batches/{batch_id}", retrieve),
    ("DELETE", "/v1/messages/batches/{batch_id}", delete),
    ("POST", "/v1/messages/batches/{batch_id}/cancel", cancel),
    ("GET", "/v1/messages/batches/{batch_id}/results", results),
]
