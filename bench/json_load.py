"""A closed-loop load generator for non-streaming requests over keep-alive connections, in its own process.

Each of `conns` connections sends one request, reads the whole response (Content-Length or
chunked), and sends the next, as an SDK client with a connection pool does. The response is
not parsed beyond its status line and framing, so the client costs far less than the servers it
compares. Responses completed in the first `warmup_s` seconds are not counted. With `"distinct":
true` every request's last message (a string) ends in a number no other request has (in this run
or another), so a server sees every prompt once (the mock's checks of a body seen lately,
server.passed, never apply).
Run as `python -m bench.json_load SPEC_JSON`; prints one JSON object:
`{"ok", "bad", "statuses", "seconds", "latency_ms": {"p50", "p99"}, "client_cpu_s"}`.
"""

import asyncio
import copy
import itertools
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.sse_load import client_loop, request_bytes
from replay.summary import percentile

_HEAD_END = b"\r\n\r\n"
_CHUNKED_END = b"\r\n0\r\n\r\n"  # a JSON body holds no raw CR/LF, so this only ends the last chunk
_MARK = "@@n@@"  # where a distinct request's number goes (JSON-encodes as itself)


@dataclass
class Tally:
    """What every connection adds to: counted responses and their latencies."""

    count_from: float
    count_until: float
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)


def response_end(buf: bytes | bytearray) -> tuple[int, int] | None:
    """(status, bytes taken) of the first complete HTTP/1.1 response in `buf`, or None if it is incomplete."""
    head_end = buf.find(_HEAD_END)
    if head_end < 0:
        return None
    status = int(buf[9:12])
    head = bytes(buf[:head_end]).lower()
    at = head.find(b"\r\ncontent-length:")
    if at >= 0:
        line_end = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : line_end if line_end >= 0 else len(head)])
        end = head_end + 4 + length
        return (status, end) if len(buf) >= end else None
    if b"\r\ntransfer-encoding: chunked" in head:
        tail = buf.find(_CHUNKED_END, head_end + 2)
        return (status, tail + len(_CHUNKED_END)) if tail >= 0 else None
    raise ValueError(f"a response with neither Content-Length nor chunked framing: {bytes(buf[:head_end])!r}")


def requests(spec: dict[str, Any]) -> Callable[[], bytes]:
    """What each send sends: the spec's request every time, or with `distinct` one whose last message
    ends in a number of its own (the head's Content-Length follows the body)."""
    host, port, path = spec["host"], spec["port"], spec.get("path", "/v1/messages")
    if not spec.get("distinct"):
        same = request_bytes(host, port, path, spec["body"], keepalive=True)
        return lambda: same
    body = copy.deepcopy(spec["body"])
    last = body["messages"][-1]
    if not isinstance(last.get("content"), str):
        raise ValueError("distinct: the body's last message needs string content")
    # A number of this run's own too: a server kept running for several runs sees no prompt twice.
    last["content"] += f" {uuid.uuid4().hex[:12]}-{_MARK}"
    head, _, tail = json.dumps(body).encode().partition(_MARK.encode())
    numbers = itertools.count()

    def distinct() -> bytes:
        raw = head + str(next(numbers)).encode() + tail
        return request_bytes(host, port, path, raw, keepalive=True)

    return distinct


class _KeepAlive(asyncio.Protocol):
    def __init__(self, request: Callable[[], bytes], tally: Tally, done: asyncio.Future[None]) -> None:
        self.request = request
        self.tally = tally
        self.done = done
        self.buf = bytearray()
        self.sent = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        request = self.request()
        self.sent = time.monotonic()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = response_end(self.buf)
        if end is None:
            return
        status, taken = end
        del self.buf[:taken]
        now = time.monotonic()
        tally = self.tally
        if tally.count_from <= now < tally.count_until:
            tally.statuses[status] += 1
            tally.latencies.append(now - self.sent)
        if now < tally.count_until:
            self._send()
        elif not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(exc or ConnectionError("the server closed a keep-alive connection"))


async def _connection(host: str, port: int, request: Callable[[], bytes], tally: Tally) -> None:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    transport, _ = await loop.create_connection(lambda: _KeepAlive(request, tally, done), host, port)
    try:
        # Bounded: a response still missing 10 s after the end of the run fails the run.
        await asyncio.wait_for(done, tally.count_until - time.monotonic() + 10.0)
    finally:
        transport.close()


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Drive `conns` keep-alive connections for `warmup_s` + `seconds`; the counted responses."""
    request = requests(spec)
    start = time.monotonic()
    tally = Tally(count_from=start + spec["warmup_s"], count_until=start + spec["warmup_s"] + spec["seconds"])
    await asyncio.gather(*(_connection(spec["host"], spec["port"], request, tally) for _ in range(spec["conns"])))
    lat = sorted(tally.latencies)
    ok = tally.statuses[200]
    return {
        "ok": ok,
        "bad": sum(tally.statuses.values()) - ok,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "seconds": spec["seconds"],
        "latency_ms": {"p50": percentile(lat, 50) * 1000, "p99": percentile(lat, 99) * 1000},
    }


def main() -> None:
    """Run the spec given as JSON in argv[1]; print the result as one JSON line."""
    result = asyncio.run(run(json.loads(sys.argv[1])), loop_factory=client_loop())
    result["client_cpu_s"] = time.process_time()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
