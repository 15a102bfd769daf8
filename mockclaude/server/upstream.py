"""`serve --record-missing`: a request nothing answers goes to the upstream (the real API, or another
mock), is streamed back to the client as it arrives, and is appended to the fixture, anonymized, so
the next run answers it offline."""

import asyncio
import time

import aiohttp
from aiohttp import web

from mockclaude.fixtures.appender import Appender
from mockclaude.fixtures.capture import Capture
from mockclaude.fixtures.headers import response_headers
from mockclaude.server.request_keys import BODY
from mockclaude.wire.errors import ApiError

# The client's headers the upstream needs; its key never goes on (the upstream gets ours).
FORWARDED = ("anthropic-version", "anthropic-beta", "content-type")
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 600.0  # a long generation may go quiet between events, never this long


class Upstream:
    """The upstream API and the fixture the answers it gives are appended to."""

    def __init__(self, url: str, key: str, appender: Appender) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self.appender = appender
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            # auto_decompress off: the bytes go on to the client as they came, and the capture
            # undoes the content-encoding itself, as the recorder's does.
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S, sock_read=READ_TIMEOUT_S)
            self._session = aiohttp.ClientSession(timeout=timeout, auto_decompress=False)
        return self._session

    async def forward(self, request: web.Request) -> web.StreamResponse:
        """Answer `request` from the upstream, streaming; append the exchange when it succeeded."""
        raw: bytes = request[BODY]
        headers = {k: request.headers[k] for k in FORWARDED if k in request.headers}
        headers["x-api-key"] = self.key
        cap = Capture("POST", "/v1/messages", list(request.headers.items()), time.monotonic(), time.time(), raw)
        try:
            async with self._client().post(f"{self.url}/v1/messages", data=raw, headers=headers) as up:
                cap.status, cap.t_headers = up.status, time.monotonic()
                cap.response_headers = list(up.headers.items())
                passed = response_headers(cap.response_headers)
                if "content-encoding" in up.headers:
                    passed["content-encoding"] = up.headers["content-encoding"]
                resp = web.StreamResponse(status=up.status, headers=passed)
                await resp.prepare(request)
                async for chunk in up.content.iter_any():
                    await resp.write(cap.tee(chunk))
                cap.t_end = time.monotonic()
        except (aiohttp.ClientError, TimeoutError) as exc:
            if cap.status is not None:
                raise  # the client already has the upstream's status line: nothing else to say
            raise ApiError(502, f"mockclaude --record-missing: the upstream {self.url} failed: {exc}") from None
        await resp.write_eof()
        if 200 <= up.status < 300:
            exchange = await asyncio.to_thread(self.appender.append, cap)
            usage = exchange.get("usage") or {}
            print(
                f"mockclaude: recorded a missing exchange to {self.appender.path} "
                f"(model {(exchange['request']['body'] or {}).get('model')!r}, "
                f"{usage.get('input_tokens')} input / {usage.get('output_tokens')} output tokens)",
                flush=True,
            )
        return resp

    async def close(self, _app: web.Application | None = None) -> None:
        """Close the connection pool and the fixture (an aiohttp on_cleanup hook)."""
        if self._session is not None:
            await self._session.close()
        self.appender.close()
