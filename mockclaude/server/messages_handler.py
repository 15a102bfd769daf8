"""POST /v1/messages (JSON and SSE) and POST /v1/messages/count_tokens."""

import random
from typing import Any

from aiohttp import web

from mockclaude import models, tokens
from mockclaude.content import plan_response
from mockclaude.faults import FAULT_HEADER
from mockclaude.pacing import Timing, stream_frames
from mockclaude.server.common import STATE, api_key, common_headers, dumps, read_body, require_version
from mockclaude.server.sender import Answer, Progress, send_json, send_stream
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
    return parse_json(await read_body(request))


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
    answer = _synthetic(request, state, body, info, input_tokens, fault)
    headers = {**common_headers(request), **admission.headers}
    progress = Progress()
    state.stats.stream_started(answer.ttft_s)
    try:
        if body.get("stream"):
            return await send_stream(request, answer.frames, headers, state.stats, progress)
        return await send_json(request, answer, headers, state.rng, progress)
    finally:
        # A cut or abandoned response is charged the output it actually delivered.
        state.limiter.settle(admission, progress.tokens)
        state.stats.stream_ended(progress.tokens)


def _synthetic(
    request: web.Request,
    state: MockState,
    body: dict[str, Any],
    info: models.ModelInfo,
    input_tokens: int,
    fault: str | None,
) -> Answer:
    """A made-up answer: planned content, timed by the settings or the model's profile."""
    rng = state.rng
    limit = min(body["max_tokens"], info.max_output_tokens)
    plan = plan_response(body, limit, state.settings.content, state.source, rng)
    timing = _timing(state, info, input_tokens, rng)
    msg_id = ids.message_id(rng)
    if body.get("stream"):
        chunk = timing.chunk_tokens
        n_deltas = round(plan.output_tokens / ((chunk.lo + chunk.hi) / 2))
        frames = stream_frames(
            plan,
            msg_id=msg_id,
            model=body["model"],
            input_tokens=input_tokens,
            timing=timing,
            rng=rng,
            fault=fault,
            fault_after=state.faults.cut_point(n_deltas) if fault else 0,
            request_id=request["request_id"],
        )
        return Answer(ttft_s=timing.ttft_s, frames=frames, output_tokens=plan.output_tokens)
    msg = wm.message(
        msg_id=msg_id,
        model=body["model"],
        content=[b.api_block() for b in plan.blocks],
        stop_reason=plan.stop_reason,
        stop_sequence=plan.stop_sequence,
        input_tokens=input_tokens,
        output_tokens=plan.output_tokens,
    )
    return Answer(
        ttft_s=timing.ttft_s,
        body=dumps(msg),
        at_s=timing.total_s(plan.output_tokens),
        output_tokens=plan.output_tokens,
        fault=fault,
    )
