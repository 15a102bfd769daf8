"""The floor for bench.json_peer: a bare aiohttp handler sending one fixed answer, with no API work.

It answers POST /v1/messages with the headers and body the mock itself answered to the benchmark's
request (bench.json_peer captures them once and passes them as a JSON file), after reading the
request body: what aiohttp and the event loop cost per request on their own, without the mock's
parsing, validation, token counting, planning, limits, prompt cache, stats or verdict.

    python -m bench.bare_json --port 0 --answer answer.json
"""

import argparse
import asyncio
import json
from pathlib import Path

from aiohttp import web

from mockclaude.server.command import uvloop_factory

# aiohttp writes these itself for every response.
_OWN_HEADERS = {"content-length", "date", "server"}


def load_answer(path: Path) -> tuple[dict[str, str], bytes]:
    """The headers (without those aiohttp writes itself) and body saved in `path` by bench.json_peer."""
    saved = json.loads(path.read_text(encoding="utf-8"))
    headers = {k: v for k, v in saved["headers"].items() if k.lower() not in _OWN_HEADERS}
    return headers, saved["body"].encode()


def make_app(headers: dict[str, str], body: bytes) -> web.Application:
    """An app whose only route reads the request and sends the fixed answer."""

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=body, headers=headers)

    app = web.Application()
    app.router.add_post("/v1/messages", handler)
    return app


async def serve(port: int, headers: dict[str, str], body: bytes) -> None:
    """Serve until cancelled; print the same ready line as `mockclaude serve`."""
    runner = web.AppRunner(make_app(headers, body), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=4096).start()
    print(f"bare_json: listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    """Parse flags and serve."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--answer", type=Path, required=True, help='JSON file {"headers": {...}, "body": "..."}')
    p.add_argument("--uvloop", action="store_true")
    args = p.parse_args()
    headers, body = load_answer(args.answer)
    asyncio.run(serve(args.port, headers, body), loop_factory=uvloop_factory(args.uvloop))


if __name__ == "__main__":
    main()
