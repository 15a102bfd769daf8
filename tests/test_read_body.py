"""read_body: a fully buffered body is taken at once, with request.read()'s result and size limit."""

import asyncio
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.test_utils import make_mocked_request

from mockclaude.server import common
from mockclaude.server.request_keys import BODY
from mockclaude.wire.errors import ApiError


def request_with(chunks: list[bytes], error: Exception | None = None) -> web.Request:
    payload = StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=asyncio.get_running_loop())
    for chunk in chunks:
        payload.feed_data(chunk)
    if error is not None:
        payload.set_exception(error)
    payload.feed_eof()
    return make_mocked_request("POST", "/v1/messages", payload=payload)


def test_a_buffered_body_in_chunks_is_read_whole() -> None:
    async def go() -> None:
        request = request_with([b'{"a":', b" 1", b"}"])
        assert await common.read_body(request) == b'{"a": 1}'
        assert request[BODY] == b'{"a": 1}'
        assert await common.read_body(request_with([])) == b""

    asyncio.run(go())


def test_a_buffered_body_over_the_limit_is_413(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "MAX_BODY_BYTES", 8)

    async def go() -> None:
        assert await common.read_body(request_with([b"12345", b"678"])) == b"12345678"
        with pytest.raises(web.HTTPRequestEntityTooLarge):
            await common.read_body(request_with([b"12345", b"6789"]))

    asyncio.run(go())


def test_a_broken_payload_is_400() -> None:
    async def go() -> None:
        error = web.RequestPayloadError("bad chunk")
        with pytest.raises(ApiError) as exc:
            await common.read_body(request_with([b"x"], error=error))
        assert exc.value.status == 400

    asyncio.run(go())
