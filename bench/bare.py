"""What the bare floor servers (bench.bare_sse, bench.bare_json) share: their flags, and serving
their one handler on POST /v1/messages."""

import argparse
import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from mockclaude.server.command import uvloop_factory

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def arguments(description: str | None) -> argparse.ArgumentParser:
    """The flags every floor server takes (--port, --uvloop); each adds its own."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--uvloop", action="store_true")
    return p


def run(name: str, handler: Handler, args: argparse.Namespace) -> None:
    """Serve `handler` on POST /v1/messages at 127.0.0.1:`args.port` until killed, on asyncio or
    uvloop; print the same ready line as `mockclaude serve`, with `name` in front."""
    asyncio.run(_serve(name, handler, args.port), loop_factory=uvloop_factory(args.uvloop))


async def _serve(name: str, handler: Handler, port: int) -> None:
    app = web.Application()
    app.router.add_post("/v1/messages", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=4096).start()
    print(f"{name}: listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()
