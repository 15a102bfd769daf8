"""Sends a prepared answer on schedule: SSE frames at their deadlines, or a JSON body when it is due."""

import asyncio
import contextlib
import random
from dataclasses import dataclass

from aiohttp import web

from mockclaude.pacing import Frame
from mockclaude.server.stats import Stats
from mockclaude.wire.errors import ApiError

# Frames due within this window are written together: fewer syscalls, same timing to the eye.
COALESCE_S = 0.002


@dataclass
class Answer:
    """What to send: SSE `frames`, or a JSON `body` due `at_s` after the request started."""

    ttft_s: float
    output_tokens: int
    frames: list[Frame] | None = None
    body: bytes | None = None
    at_s: float = 0.0
    fault: str | None = None  # for JSON answers: "midstream" or "disconnect"


class Progress:
    """Output tokens delivered so far by one response."""

    tokens = 0


def drop(request: web.Request) -> None:
    """Cut the connection without a response (a `disconnect` fault)."""
    if request.transport is not None:
        request.transport.abort()


async def send_json(
    request: web.Request, answer: Answer, headers: dict[str, str], rng: random.Random, progress: Progress
) -> web.Response:
    """A non-streaming answer, after as long as the whole generation would take."""
    if answer.fault:
        # Mid-generation failure of a non-streamed call: an overloaded error or a dropped line.
        await asyncio.sleep(answer.at_s * rng.uniform(0.2, 0.8))
        if answer.fault == "disconnect":
            drop(request)
        raise ApiError(529, "Overloaded", headers=headers)
    await asyncio.sleep(answer.at_s)
    progress.tokens = answer.output_tokens
    return web.Response(body=answer.body, content_type="application/json", headers=headers)


async def send_stream(
    request: web.Request, frames: list[Frame], headers: dict[str, str], stats: Stats, progress: Progress
) -> web.StreamResponse:
    """Send SSE frames at their deadlines on the loop's monotonic clock; `progress` counts tokens out."""
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
            stats.frame_sent(max(0.0, now - due))
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
                drop(request)
                return resp
        await resp.write_eof()
    except (ConnectionResetError, asyncio.CancelledError):
        stats.client_disconnects += 1
        with contextlib.suppress(Exception):
            drop(request)
        raise
    return resp
