"""The baseline for bench.event_throughput: a bare aiohttp handler writing pre-encoded SSE, unpaced.

It answers POST /v1/messages with the frames the mock itself would send for one fixed answer
(encoded once at start-up by mockclaude.synth.pacing), one `await resp.write()` per frame and no timing:
the cheapest honest way to stream the same bytes with aiohttp.

    python -m bench.bare_sse --port 0 --tokens 200 --chunk 1
"""

import argparse
import asyncio
import random

from aiohttp import web

from bench.harness import message_body
from mockclaude.server.command import uvloop_factory
from mockclaude.synth.content import ContentSettings, OutputLength, TokenSource, plan_response
from mockclaude.synth.pacing import Range, Timing, stream_frames


def frames_bytes(tokens: int, chunk: int, seed: int = 1) -> list[bytes]:
    """The SSE frames of one `tokens`-token answer, as the mock encodes them."""
    rng = random.Random(seed)
    body = message_body(tokens, stream=True)
    plan = plan_response(
        body, tokens, ContentSettings(output_length=OutputLength.parse(str(tokens))), TokenSource(seed), rng
    )
    frames = stream_frames(
        plan,
        msg_id="msg_01" + "x" * 22,
        model=body["model"],
        input_tokens=8,
        timing=Timing(0.0, 1e9, Range(chunk, chunk)),
        rng=rng,
    )
    return [data for data in frames.data if data is not None]


def make_app(frames: list[bytes]) -> web.Application:
    """An app whose only route streams `frames`."""

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
        await resp.prepare(request)
        for data in frames:
            await resp.write(data)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_post("/v1/messages", handler)
    return app


async def serve(port: int, frames: list[bytes]) -> None:
    """Serve until cancelled; print the same ready line as `mockclaude serve`."""
    runner = web.AppRunner(make_app(frames), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=4096)
    await site.start()
    print(f"bare_sse: listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    """Parse flags and serve."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tokens", type=int, default=200)
    p.add_argument("--chunk", type=int, default=1)
    p.add_argument("--uvloop", action="store_true")
    args = p.parse_args()
    loop_factory = uvloop_factory(args.uvloop)
    asyncio.run(serve(args.port, frames_bytes(args.tokens, args.chunk)), loop_factory=loop_factory)


if __name__ == "__main__":
    main()
