"""POST /v1/messages (JSON and SSE) and POST /v1/messages/count_tokens."""

import asyncio
import contextlib
import random
from typing import Any

from aiohttp import web

from mockclaude import models, tokens
from mockclaude.content import ResponsePlan, plan_response
from mockclaude.faults import FAULT_HEADER
from mockclaude.pacing import Frame, Timing, stream_frames
from mockclaude.server.common import STATE, api_key, common_headers, dumps, require_version
from mockclaude.server.state import MockState
from mockclaude.wire import ids
from mockclaude.wire import messages as wm
from mockclaude.wire.errors import ApiError
from mockclaude.wire.validation import (
    check_context,
    check_model_limits,
    parse_json,
    validate_count_tokens,
    validate_create,
)

# A model's default profile varies per request by this much either way (explicit flags don't).
PROFILE_JITTER = 0.15
# Frames due within this window are written together: fewer syscalls, same timing to the eye.
COALESCE_S = 0.002
# retry-after for injected 429s: the real API asks for whole seconds.
INJECTED_RETRY_AFTER = "1"


def _model_info(state: MockState, name: str) -> models.ModelInfo:
    info = models.resolve_or_generic(name) if state.options.any_model else models.resolve(name)
    if info is None:
        raise models.unknown_model(name)
    return info


def _timing(state: MockState, info: models.ModelInfo, input_tokens: int, rng: random.Random) -> Timing:
    s = state.settings
    ttft = s.ttft.draw(rng) if s.ttft else info.ttft_s * rng.uniform(1 - PROFILE_JITTER, 1 + PROFILE_JITTER)
    tps = s.tps.draw(rng) if s.tps else info.tps * rng.uniform(1 - PROFILE_JITTER, 1 + PROFILE_JITTER)
    return Timing(ttft_s=ttft + input_tokens / s.prefill_tps, tps=tps, chunk_tokens=s.chunk_tokens)


async def _body(request: web.Request) -> Any:
    return parse_json(await request.read())


def _injected(kind: str) -> ApiError:
    if kind == "429":
        return ApiError(429, "Rate limited", headers={"retry-after": INJECTED_RETRY_AFTER})
    if kind == "500":
        return ApiError(500, "Internal server error")
    return ApiError(529, "Overloaded")


async def count_tokens(request: web.Request) -> web.Response:
    """`{"input_tokens": N}`, the same count `usage.input_tokens` reports for the same request."""
    state = request.app[STATE]
    api_key(request)
    require_version(request)
    body = await _body(request)
    validate_count_tokens(body)
    _model_info(state, body["model"])
    return web.json_response({"input_tokens": tokens.count_request(body)}, dumps=lambda o: dumps(o).decode())


async def create(request: web.Request) -> web.StreamResponse:
    """Create a message: validate, rate-limit, maybe inject a fault, then answer on schedule."""
    state = request.app[STATE]
    key = api_key(request)
    require_version(request)
    body = await _body(request)
    validate_create(body)
    info = _model_info(state, body["model"])
    check_model_limits(body, info)
    input_tokens = tokens.count_request(body)
    check_context(input_tokens, body["max_tokens"], info)
    try:
        fault = state.faults.pick(request.headers.get(FAULT_HEADER))
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    if fault in ("429", "500", "529"):
        state.stats.fault(fault)
        err = _injected(fault)
        err.headers.update(state.limiter.headers(key))
        raise err
    try:
        admission = state.limiter.admit(key, info.id, input_tokens, body["max_tokens"])
    except ApiError:
        state.stats.limited()
        raise
    if fault:
        state.stats.fault(fault)
    rng = state.rng
    plan = plan_response(body, info.max_output_tokens, state.settings.content, state.source, rng)
    timing = _timing(state, info, input_tokens, rng)
    headers = {**common_headers(request), **admission.headers}
    progress = _Progress()
    state.stats.stream_started(timing.ttft_s)
    try:
        if body.get("stream"):
            return await _stream(request, state, plan, body["model"], input_tokens, timing, fault, headers, progress)
        return await _respond(request, state, plan, body, input_tokens, timing, fault, headers, progress)
    finally:
        # A cut or abandoned response is charged the output it actually delivered.
        state.limiter.settle(admission, progress.tokens)
        state.stats.stream_ended(progress.tokens)


class _Progress:
    """Output tokens delivered so far by one response."""

    tokens = 0


async def _respond(
    request: web.Request,
    state: MockState,
    plan: ResponsePlan,
    body: dict[str, Any],
    input_tokens: int,
    timing: Timing,
    fault: str | None,
    headers: dict[str, str],
    progress: _Progress,
) -> web.Response:
    """A non-streaming answer, after as long as the whole generation would take."""
    total = timing.total_s(plan.output_tokens)
    if fault:
        # Mid-generation failure of a non-streamed call: an overloaded error or a dropped line.
        await asyncio.sleep(total * state.rng.uniform(0.2, 0.8))
        if fault == "disconnect":
            _drop(request)
            raise ApiError(500, "connection dropped")  # never reaches the client
        raise ApiError(529, "Overloaded", headers=headers)
    await asyncio.sleep(total)
    progress.tokens = plan.output_tokens
    msg = wm.message(
        msg_id=ids.message_id(state.rng),
        model=body["model"],
        content=[b.api_block() for b in plan.blocks],
        stop_reason=plan.stop_reason,
        stop_sequence=plan.stop_sequence,
        input_tokens=input_tokens,
        output_tokens=plan.output_tokens,
    )
    return web.Response(body=dumps(msg), content_type="application/json", headers=headers)


def _drop(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()


async def _stream(
    request: web.Request,
    state: MockState,
    plan: ResponsePlan,
    model: str,
    input_tokens: int,
    timing: Timing,
    fault: str | None,
    headers: dict[str, str],
    progress: _Progress,
) -> web.StreamResponse:
    """Send the SSE stream on schedule, recording in `progress` the output tokens that went out."""
    rng = state.rng
    chunk = timing.chunk_tokens
    n_deltas = round(plan.output_tokens / ((chunk.lo + chunk.hi) / 2))
    frames = stream_frames(
        plan,
        msg_id=ids.message_id(rng),
        model=model,
        input_tokens=input_tokens,
        timing=timing,
        rng=rng,
        fault=fault,
        fault_after=state.faults.cut_point(n_deltas) if fault else 0,
        request_id=request["request_id"],
    )
    resp = web.StreamResponse(
        status=200,
        headers={**headers, "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"},
    )
    await resp.prepare(request)
    loop = asyncio.get_running_loop()
    start = loop.time()
    i = 0
    try:
        while i < len(frames):
            due = start + frames[i].t
            now = loop.time()
            if due > now:
                await asyncio.sleep(due - now)
                now = loop.time()
            state.stats.frame_sent(max(0.0, now - due))
            # Everything already due goes out in one write.
            batch: list[Frame] = []
            while i < len(frames) and start + frames[i].t <= now + COALESCE_S:
                batch.append(frames[i])
                i += 1
            chunk = b"".join(f.data for f in batch if f.data is not None)
            if chunk:
                await resp.write(chunk)
            progress.tokens = batch[-1].tokens_out
            if batch[-1].data is None:
                _drop(request)
                return resp
        await resp.write_eof()
    except (ConnectionResetError, asyncio.CancelledError):
        state.stats.client_disconnects += 1
        with contextlib.suppress(Exception):
            _drop(request)
        raise
    return resp
