"""The floor for bench.json_peer: a bare aiohttp handler sending one fixed answer, with no API work.

It answers POST /v1/messages with the headers and body the mock itself answered to the benchmark's
request (bench.json_peer captures them once and passes them as a JSON file), after reading the
request body: what aiohttp and the event loop cost per request on their own, without the mock's
parsing, validation, token counting, planning, limits, prompt cache, stats or verdict.

    python -m bench.bare_json --port 0 --answer answer.json
"""

import json
from pathlib import Path

from aiohttp import web

from bench import bare

# aiohttp writes these itself for every response.
_OWN_HEADERS = {"content-length", "date", "server"}


def load_answer(path: Path) -> tuple[dict[str, str], bytes]:
    """The headers (without those aiohttp writes itself) and body saved in `path` by bench.json_peer."""
    saved = json.loads(path.read_text(encoding="utf-8"))
    headers = {k: v for k, v in saved["headers"].items() if k.lower() not in _OWN_HEADERS}
    return headers, saved["body"].encode()


def answering(headers: dict[str, str], body: bytes) -> bare.Handler:
    """A handler that reads the request and sends the fixed answer."""

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=body, headers=headers)

    return handler


def main() -> None:
    """Parse flags and serve."""
    p = bare.arguments(__doc__)
    p.add_argument("--answer", type=Path, required=True, help='JSON file {"headers": {...}, "body": "..."}')
    args = p.parse_args()
    bare.run("bare_json", answering(*load_answer(args.answer)), args)


if __name__ == "__main__":
    main()
