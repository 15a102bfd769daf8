"""A load generator for SSE streams on raw asyncio sockets, run in its own process.

Each stream is one HTTP/1.1 request with `Connection: close`; the reader times the first byte,
the first and last `content_block_delta` and takes output tokens from the final `usage`, with no
JSON parsing on the hot path so that the client costs far less than the server it measures.
Run as `python -m bench.sse_load SPEC_JSON` (SPEC on argv; records as JSON lines on stdout, then
`{"client_cpu_s": ...}`).
"""

import asyncio
import json
import random
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from mockclaude.server.command import uvloop_factory

DELTA = b"event: content_block_delta"
_OUTPUT_TOKENS = re.compile(rb'"output_tokens":\s*(\d+)')
_TAIL = 64  # bytes kept from the previous read so markers split across reads are still found


@dataclass
class StreamRecord:
    """One stream's timings (time.monotonic seconds, the same clock in every process on Linux)."""

    start: float
    connected: float = 0.0
    first_byte: float = 0.0
    first_delta: float = 0.0
    last_delta: float = 0.0
    deltas: int = 0
    output_tokens: int = 0
    status: int = 0
    error: str = ""
    complete: bool = False


class _SSEReader(asyncio.Protocol):
    def __init__(self, request: bytes, record: StreamRecord, done: asyncio.Future[None]) -> None:
        self.request = request
        self.record = record
        self.done = done
        self.tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.record.connected = time.monotonic()
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        rec = self.record
        if not rec.first_byte:
            rec.first_byte = now
            rec.status = int(data[9:12]) if data.startswith(b"HTTP/1.1 ") else -1
        window = self.tail + data
        n = window.count(DELTA) - self.tail.count(DELTA)
        if n:
            rec.deltas += n
            rec.last_delta = now
            if not rec.first_delta:
                rec.first_delta = now
        # message_stop ends a stream; a JSON message's stop_reason is a string only in the final answer.
        if b"message_stop" in window or (rec.status == 200 and b'"stop_reason":"' in window):
            rec.complete = True
        for m in _OUTPUT_TOKENS.finditer(window):
            rec.output_tokens = int(m.group(1))
        self.tail = window[-_TAIL:]

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self.record.error = type(exc).__name__
        if not self.done.done():
            self.done.set_result(None)


def request_bytes(
    host: str, port: int, path: str, body: dict[str, Any] | bytes, *, keepalive: bool = False
) -> bytes:
    """A complete HTTP/1.1 POST of `body` (JSON, or already encoded) with the headers the mock requires
    (`Connection: close` unless `keepalive`)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    connection = "keep-alive" if keepalive else "close"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"x-api-key: sk-ant-bench\r\nanthropic-version: 2023-06-01\r\nConnection: {connection}\r\n"
        f"Content-Length: {len(raw)}\r\n\r\n"
    )
    return head.encode() + raw


async def one_stream(host: str, port: int, request: bytes, delay: float, timeout: float) -> StreamRecord:
    """Open a connection after `delay` seconds, send `request`, read the stream until the server closes."""
    await asyncio.sleep(delay)
    loop = asyncio.get_running_loop()
    rec = StreamRecord(start=time.monotonic())
    done: asyncio.Future[None] = loop.create_future()
    try:
        transport, _ = await loop.create_connection(lambda: _SSEReader(request, rec, done), host, port)
    except OSError as exc:
        rec.error = type(exc).__name__
        return rec
    try:
        await asyncio.wait_for(done, timeout)
    except TimeoutError:
        rec.error = "timeout"
    finally:
        transport.close()
    return rec


async def _repeat(
    host: str, port: int, request: bytes, delay: float, spec: dict[str, Any], budget: list[int]
) -> list[StreamRecord]:
    """Streams one after another on one slot for `loop_s` seconds, or until `budget` is spent."""
    records = [await one_stream(host, port, request, delay, spec["timeout_s"])]
    end = records[0].start + spec.get("loop_s", float("inf"))
    while time.monotonic() < end and budget[0] > 0:
        budget[0] -= 1
        records.append(await one_stream(host, port, request, 0.0, spec["timeout_s"]))
    return records


async def run(spec: dict[str, Any]) -> list[StreamRecord]:
    """Start `streams` streams spread uniformly over `ramp_s` seconds and wait for all of them.

    With `loop_s` or `requests`, each of the `streams` slots starts a new stream whenever its last one
    ends (a closed loop, for throughput), for `loop_s` seconds or until `requests` were sent in all.
    """
    host, port = spec["host"], spec["port"]
    request = request_bytes(host, port, spec.get("path", "/v1/messages"), spec["body"])
    rng = random.Random(spec.get("seed", 0))
    delays = [rng.uniform(0, spec["ramp_s"]) for _ in range(spec["streams"])]
    if spec.get("loop_s") or spec.get("requests"):
        budget = [spec.get("requests", 1 << 62) - len(delays)]
        slots = await asyncio.gather(*(_repeat(host, port, request, d, spec, budget) for d in delays))
        return [r for slot in slots for r in slot]
    return await asyncio.gather(*(one_stream(host, port, request, d, spec["timeout_s"]) for d in delays))


def client_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory when it is installed: a load generator is cheaper on it (it is not the server measured)."""
    try:
        return uvloop_factory(True)
    except ValueError:
        return None


def main() -> None:
    """Run the spec given as JSON in argv[1]; print one JSON record per stream."""
    spec = json.loads(sys.argv[1])
    records = asyncio.run(run(spec), loop_factory=client_loop())
    out = sys.stdout
    for rec in records:
        out.write(json.dumps(asdict(rec)) + "\n")
    out.write(json.dumps({"client_cpu_s": time.process_time()}) + "\n")


if __name__ == "__main__":
    main()
