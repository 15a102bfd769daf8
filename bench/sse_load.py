"""A load generator for SSE streams on raw asyncio sockets, run in its own process.

Each stream is one HTTP/1.1 request with `Connection: close`; the reader times the first byte,
the first and last `content_block_delta` and takes output tokens from the final `usage`, with no
JSON parsing on the hot path so that the client costs far less than the server it measures.

A busy client reads late: a stream whose first delta arrives while the client's loop is running
other streams' callbacks is timed when the client gets to it, and the server is charged for the
client's delay. So the first byte and the first delta are timed twice: when the client read them
(loop time), and, on Linux, when their data reached the client's socket, as the kernel stamped it
(SO_TIMESTAMPNS; the `_k` fields: what the client's own lag cannot move). The process also measures
its loop's lag (a 5 ms timer's overshoot) and reports the largest beside its CPU time.

Run as `python -m bench.sse_load SPEC_JSON` (SPEC on argv; records as JSON lines on stdout, then
`{"client_cpu_s": ..., "client_lag_max_s": ...}`).
"""

import asyncio
import contextlib
import errno
import json
import os
import random
import re
import socket
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from mockclaude.server.command import uvloop_factory

DELTA = b"event: content_block_delta"
_OUTPUT_TOKENS = re.compile(rb'"output_tokens":\s*(\d+)')
_TAIL = 64  # bytes kept from the previous read so markers split across reads are still found
# Linux's SO_TIMESTAMPNS, also the type of the control message it adds to each read (SCM_TIMESTAMPNS;
# the same number on x86-64 and arm64). Python's socket module has no name for it.
SO_TIMESTAMPNS = 35
_STAMP = struct.Struct("@qq")  # struct timespec: seconds, nanoseconds (CLOCK_REALTIME)
_ANCILLARY = socket.CMSG_SPACE(_STAMP.size)
READ_SIZE = 262144  # as asyncio's socket transports read
LAG_TICK_S = 0.005


@dataclass
class StreamRecord:
    """One stream's timings (time.monotonic seconds, the same clock in every process on Linux).

    `first_byte`, `first_delta` and `last_delta` are when the client read them; `first_byte_k` and
    `first_delta_k` are when their data reached the socket, by the kernel's stamp (0.0 where the
    kernel stamps nothing).
    """

    start: float
    connected: float = 0.0  # connected, and the request written
    first_byte: float = 0.0
    first_delta: float = 0.0
    last_delta: float = 0.0
    first_byte_k: float = 0.0
    first_delta_k: float = 0.0
    deltas: int = 0
    output_tokens: int = 0
    status: int = 0
    error: str = ""
    complete: bool = False


class _Stream(asyncio.Protocol):
    """Times one stream's data: read with the kernel's stamps (`readable`, the loop's reader callback)
    until its first delta, then as a protocol on the loop's own transport (`data_received`), which
    costs the client less per read."""

    def __init__(self, sock: socket.socket, record: StreamRecord, done: asyncio.Future[None], offset: float) -> None:
        self.sock = sock
        self.record = record
        self.done = done  # set when the stream ends, or (first) when its first delta was stamped
        self.offset = offset  # CLOCK_REALTIME minus time.monotonic, for the kernel's stamps
        self.tail = b""
        self.ended = False

    def readable(self) -> None:
        """Take what arrived, with the kernel's stamp of it, or the end of the stream."""
        try:
            data, ancillary, _, _ = self.sock.recvmsg(READ_SIZE, _ANCILLARY)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.connection_lost(exc)
            return
        if not data:
            self.connection_lost(None)
            return
        stamped = 0.0
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= _STAMP.size:
                sec, nsec = _STAMP.unpack_from(payload)
                stamped = sec + nsec * 1e-9 - self.offset
        self._feed(data, time.monotonic(), stamped)
        if self.record.first_delta and not self.done.done():
            self.done.set_result(None)

    def data_received(self, data: bytes) -> None:
        """Take what arrived (after the first delta: no stamp needed)."""
        self._feed(data, time.monotonic(), 0.0)

    def _feed(self, data: bytes, now: float, stamped: float) -> None:
        rec = self.record
        if not rec.first_byte:
            rec.first_byte, rec.first_byte_k = now, stamped
            rec.status = int(data[9:12]) if data.startswith(b"HTTP/1.1 ") else -1
        window = self.tail + data
        n = window.count(DELTA) - self.tail.count(DELTA)
        if n:
            rec.deltas += n
            rec.last_delta = now
            if not rec.first_delta:
                rec.first_delta, rec.first_delta_k = now, stamped
        # message_stop ends a stream; a JSON message's stop_reason is a string only in the final answer.
        if b"message_stop" in window or (rec.status == 200 and b'"stop_reason":"' in window):
            rec.complete = True
        for m in _OUTPUT_TOKENS.finditer(window):
            rec.output_tokens = int(m.group(1))
        self.tail = window[-_TAIL:]

    def connection_lost(self, exc: Exception | None) -> None:
        """The stream ended (the server closes after the last event)."""
        if exc is not None:
            self.record.error = type(exc).__name__
        self.ended = True
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


def realtime_offset() -> float:
    """CLOCK_REALTIME minus time.monotonic: turns the kernel's stamps into the records' clock."""
    return time.time() - time.monotonic()


def _socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with contextlib.suppress(OSError):  # not Linux: the `_k` fields stay 0.0
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    return sock


async def _connect(loop: asyncio.AbstractEventLoop, sock: socket.socket, address: tuple[str, int]) -> None:
    """Connect the non-blocking `sock` to a numeric `address` as asyncio's own transports do, without
    the name lookup of loop.sock_connect (uvloop's goes through its resolver for every connect, which
    slowed a burst of a thousand connects by ~100 ms)."""
    err = sock.connect_ex(address)
    if err in (errno.EINPROGRESS, errno.EAGAIN):
        writable: asyncio.Future[None] = loop.create_future()
        loop.add_writer(sock.fileno(), lambda: writable.done() or writable.set_result(None))
        try:
            await writable
        finally:
            loop.remove_writer(sock.fileno())
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if err:
        raise OSError(err, os.strerror(err))


async def one_stream(host: str, port: int, request: bytes, delay: float, timeout: float, offset: float) -> StreamRecord:
    """Open a connection after `delay` seconds, send `request`, read the stream until the server closes
    (`offset`: realtime_offset(), for the kernel's stamps)."""
    await asyncio.sleep(delay)
    loop = asyncio.get_running_loop()
    rec = StreamRecord(start=time.monotonic())
    sock = _socket()
    try:
        try:
            await _connect(loop, sock, (host, port))
            rec.connected = time.monotonic()
            sent = sock.send(request)  # a few hundred bytes: an empty socket buffer takes them at once
            if sent < len(request):
                await loop.sock_sendall(sock, request[sent:])
        except OSError as exc:
            rec.error = type(exc).__name__
            return rec
        stream = _Stream(sock, rec, loop.create_future(), offset)
        deadline = loop.time() + timeout
        loop.add_reader(sock.fileno(), stream.readable)
        try:
            await asyncio.wait_for(stream.done, timeout)
        except TimeoutError:
            rec.error = "timeout"
        finally:
            loop.remove_reader(sock.fileno())
        if stream.ended or rec.error:
            return rec
        # The first delta is stamped: the rest goes through the loop's transport.
        stream.done = loop.create_future()
        transport, _ = await loop.create_connection(lambda: stream, sock=sock)
        try:
            await asyncio.wait_for(stream.done, max(deadline - loop.time(), 0.0))
        except TimeoutError:
            rec.error = "timeout"
        finally:
            transport.close()
    finally:
        sock.close()
    return rec


async def _repeat(
    host: str, port: int, request: bytes, delay: float, spec: dict[str, Any], budget: list[int], offset: float
) -> list[StreamRecord]:
    """Streams one after another on one slot for `loop_s` seconds, or until `budget` is spent."""
    records = [await one_stream(host, port, request, delay, spec["timeout_s"], offset)]
    end = records[0].start + spec.get("loop_s", float("inf"))
    while time.monotonic() < end and budget[0] > 0:
        budget[0] -= 1
        records.append(await one_stream(host, port, request, 0.0, spec["timeout_s"], offset))
    return records


async def _lag(largest: list[float]) -> None:
    """Keep in `largest[0]` the most a 5 ms timer of this loop overshot (cancelled when the streams end)."""
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time()
        await asyncio.sleep(LAG_TICK_S)
        largest[0] = max(largest[0], loop.time() - asked - LAG_TICK_S)


async def run(spec: dict[str, Any], lag: list[float] | None = None) -> list[StreamRecord]:
    """Start `streams` streams spread uniformly over `ramp_s` seconds and wait for all of them (with
    `lag`, a one-item list: the client loop's largest lag meanwhile, in seconds, goes into it).

    With `loop_s` or `requests`, each of the `streams` slots starts a new stream whenever its last one
    ends (a closed loop, for throughput), for `loop_s` seconds or until `requests` were sent in all.
    """
    host, port = spec["host"], spec["port"]
    request = request_bytes(host, port, spec.get("path", "/v1/messages"), spec["body"])
    rng = random.Random(spec.get("seed", 0))
    delays = [rng.uniform(0, spec["ramp_s"]) for _ in range(spec["streams"])]
    offset = realtime_offset()
    watch = asyncio.create_task(_lag(lag if lag is not None else [0.0]))
    try:
        if spec.get("loop_s") or spec.get("requests"):
            budget = [spec.get("requests", 1 << 62) - len(delays)]
            slots = await asyncio.gather(*(_repeat(host, port, request, d, spec, budget, offset) for d in delays))
            return [r for slot in slots for r in slot]
        return await asyncio.gather(*(one_stream(host, port, request, d, spec["timeout_s"], offset) for d in delays))
    finally:
        watch.cancel()


def client_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory when it is installed: a load generator is cheaper on it (it is not the server measured)."""
    try:
        return uvloop_factory(True)
    except ValueError:
        return None


def main() -> None:
    """Run the spec given as JSON in argv[1]; print one JSON record per stream, then the client's
    CPU seconds and its loop's largest lag."""
    spec = json.loads(sys.argv[1])
    lag = [0.0]
    records = asyncio.run(run(spec, lag), loop_factory=client_loop())
    out = sys.stdout
    for rec in records:
        out.write(json.dumps(asdict(rec)) + "\n")
    out.write(json.dumps({"client_cpu_s": time.process_time(), "client_lag_max_s": lag[0]}) + "\n")


if __name__ == "__main__":
    main()
