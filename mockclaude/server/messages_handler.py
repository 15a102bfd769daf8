"""POST /v1/messages (JSON and SSE) and POST /v1/messages/count_tokens."""

import asyncio
import random
from typing import Any

from aiohttp import web

from mockclaude import models, tokens
from mockclaude.fixtures import recorded_answer
from mockclaude.fixtures.recorded import Entry
from mockclaude.limits import prompt_cache
from mockclaude.limits.faults import FAULT_HEADER, STREAM_CUTS
from mockclaude.limits.prompt_cache import Prefix
from mockclaude.server import caching, scripted
from mockclaude.server.arrival import arrival
from mockclaude.server.common import (
    STATE,
    api_key,
    common_headers,
    offloaded,
    read_body,
    require_version,
    scope_name,
    scoped_key,
)
from mockclaude.server.passed import Passed
from mockclaude.server.request_keys import BODY_JSON, FAULT, REQUEST_ID
from mockclaude.server.scopes import Scope
from mockclaude.server.sender import Progress, drop, send_json, send_stream
from mockclaude.server.state import MockState
from mockclaude.synth.content import ContentSettings, ResponsePlan, plan_response
from mockclaude.synth.pacing import TTFB_FRACTION, Answer, Timing, stream_frames
from mockclaude.wire import ids
from mockclaude.wire import messages as wm
from mockclaude.wire.errors import ApiError
from mockclaude.wire.messages import dumps
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


def _timing(sc: Scope, info: models.ModelInfo, body: dict[str, Any], input_tokens: int, rng: random.Random) -> Timing:
    s = sc.settings
    ttft = s.ttft.draw(rng) if s.ttft else info.ttft_s * rng.uniform(1 - PROFILE_JITTER, 1 + PROFILE_JITTER)
    # `speed: "fast"` speeds up a model that offers it (the profile's tokens/s); --tps is taken as given.
    if s.tps:
        tps = s.tps.draw(rng)
    else:
        tps = info.output_tps(body.get("speed")) * rng.uniform(1 - PROFILE_JITTER, 1 + PROFILE_JITTER)
    return Timing(ttft_s=ttft + input_tokens / s.prefill_tps, tps=tps, chunk_tokens=s.chunk_tokens)


async def _body(request: web.Request) -> tuple[Any, bytes]:
    """The parsed JSON body and its bytes."""
    raw = await read_body(request)
    return parse_json(raw), raw


async def _count(body: dict[str, Any], size: int, info: models.ModelInfo) -> int:
    """Input tokens as `info`'s tokenizer counts them (an estimate: tiktoken × the model's factor)."""
    return round(await offloaded(size, tokens.count_request, body) * info.tokenizer_factor)


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
    body, raw = await _body(request)
    validate_count_tokens(body)
    info = models.lookup(body["model"], any_model=state.options.any_model)
    return web.json_response({"input_tokens": await _count(body, len(raw), info)}, dumps=lambda o: dumps(o).decode())


async def checked(
    state: MockState, body: Any, size: int, cache_scope: str | None = None, raw: bytes | None = None
) -> tuple[models.ModelInfo, int, Prefix | None]:
    """Validate a create body as the API does (shape, model, the model's limits, cache_control, the
    context window); its model, input tokens and, given a `cache_scope`, its prompt-cache prefix
    (None when nothing can be cached). `size` is the body's size in bytes; given its bytes `raw`, a
    body that passed lately is not checked again (server.passed)."""
    passed = state.passed.get(raw) if raw is not None else None
    if passed is None:
        validate_create(body)
        info = models.lookup(body["model"], any_model=state.options.any_model)
        check_model_limits(body, info)
        marks = tuple(prompt_cache.breakpoints(body)) if raw is None or prompt_cache.may_mark(raw) else ()
        counted = None
    else:
        info, marks, counted = passed.info, passed.breakpoints, passed.input_tokens
    prefix = await caching.prefix(state, cache_scope, body, size, info, marks) if marks else None
    if prefix is not None:
        input_tokens = prefix.total
    elif counted is not None:
        input_tokens = counted
    else:
        input_tokens = counted = await _count(body, size, info)
    check_context(input_tokens, body["max_tokens"], info)
    if raw is not None and (passed is None or passed.input_tokens != counted):
        state.passed.keep(raw, Passed(info, marks, counted))
    return info, input_tokens, prefix


async def create(request: web.Request) -> web.StreamResponse:
    """Create a message: validate, rate-limit, maybe inject a fault, then answer on schedule."""
    # A synthetic stream's schedule counts from the request's arrival, so the mock's own work on the
    # request (and any wait for the loop, or for the handlers of a burst) is inside the TTFT it promised.
    arrived = arrival(request)
    state = request.app[STATE]
    name = scope_name(request)
    key = scoped_key(request, name)
    sc = state.scope(name)
    require_version(request)
    body, raw = await _body(request)
    info, input_tokens, prefix = await checked(state, body, len(raw), caching.scope(request, key), raw)
    request[BODY_JSON] = body
    hit = scripted.pick(state, sc, body)
    recorded = state.recorded.find(body, sc.turns) if state.recorded and hit is None else None
    if hit is None and recorded is None and state.upstream is not None:
        return await state.upstream.forward(request)  # --record-missing
    if state.recorded and hit is None and recorded is None and state.recorded.strict:
        raise state.recorded.unmatched(body)
    if hit is None and recorded is None and state.strict_rules:
        raise scripted.unmatched(state, sc, body)
    try:
        fault = scripted.fault(hit) or sc.faults.pick(request.headers.get(FAULT_HEADER))
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    if state.recorded and hit is None and recorded is None and fault is None and FAULT_HEADER not in request.headers:
        fault = state.recorded.pick_fault()
    if fault in ("429", "500", "529"):
        sc.stats.fault(fault)
        err = _injected(fault)
        err.headers.update(sc.limiter.headers(key))
        raise err
    if hit is not None:
        scripted.raise_error(hit, sc.limiter.headers(key))
    if recorded is not None:
        await _recorded_failure(request, state, sc, key, recorded)
    # A recorded answer keeps its recorded cache usage; everything else goes through the cache.
    cached = caching.lookup(state, prefix if recorded is None else None, info, input_tokens)
    try:
        if sc.acceleration is not None:
            sc.acceleration.admit(key, asyncio.get_running_loop().time())
        admission = sc.limiter.admit(key, info.id, cached.itpm_tokens(info.id), body["max_tokens"])
    except ApiError as err:
        if err.status == 429:  # not the 529 of an unreachable store (--limits-on-store-failure closed)
            sc.stats.limited()
        raise
    request[FAULT] = fault  # None too: the client verdict reads it for every answer (a miss costs more)
    if fault:
        sc.stats.fault(fault)
    if fault == "slow-headers":
        await asyncio.sleep(sc.faults.slow_headers_s)
    if hit is not None and hit.response.blocks:
        _, timing = _content_and_timing(state, sc, body, info, cached.usage)
        plan = scripted.plan(hit, body, state.rng)
        reported = scripted.input_tokens(hit, cached.usage)
        answer = planned(request[REQUEST_ID], state, sc, body, plan, timing, reported, fault)
    elif recorded is not None:
        answer = await _recorded(request, state, sc, body, info, input_tokens, fault, recorded)
    else:
        answer = synthetic(request[REQUEST_ID], state, body, info, cached.usage, fault, sc)
    caching.commit(state, cached, answer.ttft_s * TTFB_FRACTION)
    headers = {**common_headers(request), **admission.headers}
    stall_s = sc.faults.stall_s if fault == "stall" else 0.0
    progress = Progress()
    sc.stats.stream_started(answer.ttft_s)
    try:
        # A recorded answer is timed from the end of its recorded headers delay.
        start = arrived if recorded is None else asyncio.get_running_loop().time()
        if body.get("stream"):
            return await send_stream(request, answer.take_frames(), start, headers, sc.stats, progress, stall_s)
        return await send_json(request, answer, start, headers, sc.stats, state.rng, progress, stall_s)
    finally:
        # A cut or abandoned response is charged the output it actually delivered.
        sc.limiter.settle(admission, progress.tokens)
        sc.stats.stream_ended(progress.tokens)


def synthetic(
    request_id: str | None,
    state: MockState,
    body: dict[str, Any],
    info: models.ModelInfo,
    input_tokens: int | wm.InputUsage,
    fault: str | None,
    scope: Scope | None = None,
) -> Answer:
    """A made-up answer: planned content, timed by the settings or the model's profile.

    Prefill time is charged for the tokens the model processes: cache reads are not prefilled.
    """
    sc = scope or state.default
    limit = min(body["max_tokens"], info.max_output_tokens)
    content, timing = _content_and_timing(state, sc, body, info, input_tokens)
    plan = plan_response(body, limit, content, state.source, state.rng, thinks_by_default=info.thinks_by_default)
    return planned(request_id, state, sc, body, plan, timing, input_tokens, fault)


def _content_and_timing(
    state: MockState, sc: Scope, body: dict[str, Any], info: models.ModelInfo, input_tokens: int | wm.InputUsage
) -> tuple[ContentSettings, Timing]:
    """The scope's content settings and a timing for this request (the fitted profile's, with --profile);
    prefill is timed for the tokens the model processes (cache reads are not prefilled)."""
    prefilled = wm.input_usage(input_tokens).prefilled
    content, timing = sc.settings.content, _timing(sc, info, body, prefilled, state.rng)
    if state.recorded is not None:
        content, timing = state.recorded.synthetic(body["model"], prefilled, sc.settings, timing, state.rng)
    return content, timing


def planned(
    request_id: str | None,
    state: MockState,
    sc: Scope,
    body: dict[str, Any],
    plan: ResponsePlan,
    timing: Timing,
    input_tokens: int | wm.InputUsage,
    fault: str | None,
) -> Answer:
    """A planned answer (synthetic or scripted) as SSE frames or a JSON body, paced by `timing`."""
    fault = fault if fault in STREAM_CUTS else None
    used = wm.input_usage(input_tokens)
    rng = state.rng
    # A seeded server's ids come from its seeded draws (reproducible); otherwise from the cheaper stock.
    msg_id = ids.message_id(rng if state.options.seed is not None else None)
    if body.get("stream"):
        chunk = timing.chunk_tokens
        n_deltas = round(plan.output_tokens / ((chunk.lo + chunk.hi) / 2))
        frames = stream_frames(
            plan,
            msg_id=msg_id,
            model=body["model"],
            input_tokens=used,
            timing=timing,
            rng=rng,
            fault=fault,
            fault_after=sc.faults.cut_point(n_deltas) if fault else 0,
            request_id=request_id,
            lazy=True,  # a burst's admissions build only their first frames: the scheduler builds the rest
        )
        return Answer(ttft_s=timing.ttft_s, frames=frames, output_tokens=plan.output_tokens)
    msg = wm.message(
        msg_id=msg_id,
        model=body["model"],
        content=[b.api_block() for b in plan.blocks],
        stop_reason=plan.stop_reason,
        stop_sequence=plan.stop_sequence,
        input_tokens=used,
        output_tokens=plan.output_tokens,
    )
    return Answer(
        ttft_s=timing.ttft_s,
        body=dumps(msg),  # copied to its own size if it waits (server.sender.send_json)
        at_s=timing.total_s(plan.output_tokens),
        output_tokens=plan.output_tokens,
        fault=fault,
    )


async def _recorded_failure(request: web.Request, state: MockState, sc: Scope, key: str, entry: Entry) -> None:
    """Fail like the recording did (its status, error and delay), if it failed."""
    assert state.recorded is not None
    failed = recorded_answer.failure(entry.exchange, state.recorded.scale)
    if failed is None:
        return
    await asyncio.sleep(failed.after_s)
    if failed.status is None:
        drop(request)
    failed.error.headers.update(sc.limiter.headers(key))
    raise failed.error


async def _recorded(
    request: web.Request,
    state: MockState,
    sc: Scope,
    body: dict[str, Any],
    info: models.ModelInfo,
    input_tokens: int,
    fault: str | None,
    entry: Entry,
) -> Answer:
    """The recorded answer, on the recorded clock (`--time-scale`); a stream's headers when they came."""
    assert state.recorded is not None
    fault = fault if fault in STREAM_CUTS else None
    if body.get("stream"):
        await asyncio.sleep(recorded_answer.headers_delay(entry.exchange, state.recorded.scale))
    rng = state.rng
    _, timing = _content_and_timing(state, sc, body, info, input_tokens)
    events = entry.exchange["response"].get("events") or []
    n_deltas = sum(e.get("event") == "content_block_delta" for e in events)
    rendering = recorded_answer.Rendering(
        request_body=body,
        request_id=request[REQUEST_ID],
        rng=rng,
        tokens_of=lambda n: state.source.tokens(n, rng),
        scale=state.recorded.scale,
        fallback_timing=timing,
        fault=fault,
        fault_after=sc.faults.cut_point(n_deltas) if fault else 0,
    )
    return recorded_answer.answer(entry.exchange, entry.shape, rendering)
