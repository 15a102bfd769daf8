"""Sends a prepared answer on schedule: SSE frames at their deadlines, or a JSON body when it is due.

`Progress` is re-exported for the handler, which settles rate limits with it.
"""

import asyncio
import contextlib
import random

from aiohttp import web

from mockclaude.recent import own_size
from mockclaude.server.request_keys import STALL
from mockclaude.server.scheduler import Progress, StreamDropped, scheduler
from mockclaude.server.stats import Stats
from mockclaude.synth.pacing import Answer, Frames
from mockclaude.wire.errors import ApiError

# How often a held (stalled) connection is checked for the client giving up.
STALL_POLL_S = 0.05


def drop(request: web.Request) -> None:
    """Cut the connection without a response (a `disconnect` fault)."""
    if request.transport is not None:
        request.transport.abort()


async def send_json(
    request: web.Request,
    answer: Answer,
    start: float,
    headers: dict[str, str],
    stats: Stats,
    rng: random.Random,
    progress: Progress,
    stall_s: float = 0.0,
) -> web.Response:
    """A non-streaming answer, when the whole generation would be done (`answer.at_s` after `start`, loop
    time); how late it went out counts in `stats` as a frame's lateness does."""
    loop = asyncio.get_running_loop()
    due = start + answer.at_s
    if answer.body is not None and due > loop.time():
        # Held until it is due, often seconds: orjson's output reserves far more than its length. An
        # answer due already goes out as it was made.
        answer.body = own_size(answer.body)
    if answer.fault:
        # Mid-generation failure of a non-streamed call: an overloaded error, a dropped line, half
        # the body with a clean end (truncate), or a hold with nothing sent (stall).
        await asyncio.sleep(answer.at_s * rng.uniform(0.2, 0.8))
        if answer.fault == "truncate" and answer.body is not None:
            half = answer.body[: len(answer.body) // 2]
            return web.Response(body=half, content_type="application/json", headers=headers)
        if answer.fault == "stall":
            await hold(request, stall_s)
        if answer.fault in ("disconnect", "stall"):
            drop(request)
        raise ApiError(529, "Overloaded", headers=headers)
    # Counted from the request's arrival, as a stream's frames are: the mock's own work is inside
    # the time it promised. An answer already due goes out without a timer.
    wait = due - loop.time()
    if wait > 0:
        await asyncio.sleep(wait)
    # The body is one timed write: an overloaded mock reports late answers as it reports late frames.
    stats.frame_sent(loop.time() - due)
    progress.tokens = answer.output_tokens
    return web.Response(body=answer.body, content_type="application/json", headers=headers)


async def hold(request: web.Request, seconds: float) -> None:
    """Keep the connection open and silent for `seconds` or until the client gives up; record which
    (request[STALL] = (waited_s, client_gave_up)) for the client verdict."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    transport = request.transport
    try:
        while loop.time() - start < seconds and transport is not None and not transport.is_closing():
            await asyncio.sleep(min(STALL_POLL_S, seconds))
    except asyncio.CancelledError:  # aiohttp cancels the handler when the client hangs up
        request[STALL] = (loop.time() - start, True)
        raise
    request[STALL] = (loop.time() - start, transport is None or transport.is_closing())


async def send_stream(
    request: web.Request,
    frames: Frames,
    start: float,
    headers: dict[str, str],
    stats: Stats,
    progress: Progress,
    stall_s: float = 0.0,
) -> web.StreamResponse:
    """Send SSE frames at their deadlines after `start` (loop time; the loop's FrameScheduler);
    `progress` counts tokens out. With `stall_s`, the connection is then held silent that long (or
    until the client gives up) and cut."""
    resp = web.StreamResponse(
        status=200,
        headers={**headers, "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"},
    )
    await resp.prepare(request)
    transport = request.transport
    if transport is None or transport.is_closing():
        stats.client_disconnects += 1
        return resp
    done = scheduler().send(transport, frames, start, stats, progress)
    del frames  # the scheduler keeps tuples of it, which the garbage collector soon stops walking
    try:
        await done
        if stall_s:
            await hold(request, stall_s)
            drop(request)
            return resp
    except StreamDropped:
        return resp
    except (ConnectionResetError, asyncio.CancelledError) as exc:
        stats.client_disconnects += 1
        done.cancel()
        with contextlib.suppress(Exception):
            drop(request)
        if isinstance(exc, asyncio.CancelledError):
            raise
        # The client hung up: aiohttp closes a prepared response quietly, whereas raising would
        # log an "Error handling request" traceback for every client that leaves mid-stream.
        return resp
    with contextlib.suppress(ConnectionResetError):  # every event went out; the client left before the end
        await resp.write_eof()
    return resp
