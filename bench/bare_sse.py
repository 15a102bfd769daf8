"""The baseline for bench.event_throughput: a bare aiohttp handler writing pre-encoded SSE, unpaced.

It answers POST /v1/messages with the frames the mock itself would send for one fixed answer
(encoded once at start-up by mockclaude.synth.pacing), one `await resp.write()` per frame and no timing:
the cheapest honest way to stream the same bytes with aiohttp.

    python -m bench.bare_sse --port 0 --tokens 200 --chunk 1
"""

import random

from aiohttp import web

from bench import bare
from bench.harness import message_body
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


def streaming(frames: list[bytes]) -> bare.Handler:
    """A handler that reads the request and streams `frames`."""

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
        await resp.prepare(request)
        for data in frames:
            await resp.write(data)
        await resp.write_eof()
        return resp

    return handler


def main() -> None:
    """Parse flags and serve."""
    p = bare.arguments(__doc__)
    p.add_argument("--tokens", type=int, default=200)
    p.add_argument("--chunk", type=int, default=1)
    args = p.parse_args()
    bare.run("bare_sse", streaming(frames_bytes(args.tokens, args.chunk)), args)


if __name__ == "__main__":
    main()
