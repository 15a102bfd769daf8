"""Requests carry the loop time they were parsed at, however long they then wait for their handler.

A real aiohttp server with the mock's runner (server.protocol_errors.ApiAppRunner) and blocking
handlers: requests sent while the loop is busy are parsed together, then handled one after another.
Also guards the aiohttp internals server.arrival relies on (fails if an upgrade changes them).
"""

import asyncio
import socket
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from aiohttp import web

from mockclaude.server.arrival import arrival
from mockclaude.server.protocol_errors import ApiAppRunner
from mockclaude.server.stats import ACCEPT_QUEUE

BLOCK_S = 0.15
SEEN: web.AppKey[list[tuple[float, float]]] = web.AppKey("seen", list)


async def _block(request: web.Request) -> web.Response:
    """Record when this request arrived and when its handler ran, then hold the loop."""
    loop = asyncio.get_running_loop()
    request.app[SEEN].append((arrival(request), loop.time()))
    time.sleep(BLOCK_S)  # the point: the loop is busy, the next requests wait
    return web.Response(text="ok")


@pytest.fixture
def server() -> Iterator[tuple[int, list[tuple[float, float]]]]:
    """The app on 127.0.0.1 in a thread of its own; its port and the (arrival, handler start) pairs."""
    seen: list[tuple[float, float]] = []
    ready = threading.Event()
    port: list[int] = []
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def run() -> None:
        app = web.Application()
        app[SEEN] = seen
        app.router.add_get("/block", _block)
        runner = ApiAppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port.append(runner.addresses[0][1])
        ready.set()
        await stop.wait()
        await runner.cleanup()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield port[0], seen
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    loop.close()


def _get(port: int, raw: bytes = b"GET /block HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(raw)
    return s


def _read_all(s: socket.socket) -> bytes:
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    s.close()
    return out


def test_requests_parsed_together_keep_their_arrival(server: tuple[int, list[tuple[float, float]]]) -> None:
    port, seen = server
    first = _get(port)
    time.sleep(BLOCK_S / 3)  # its handler now holds the loop; the next five queue up behind it
    rest = [_get(port) for _ in range(5)]
    for s in [first, *rest]:
        assert _read_all(s).startswith(b"HTTP/1.1 200")
    assert len(seen) == 6
    waits = sorted(start - arrived for arrived, start in seen[1:])
    # Parsed together once the first handler let go, then handled one after another: the k-th
    # waited for k-1 handlers. Without the stamp every wait would be ~0.
    assert all(w >= 0 for w in waits)
    assert waits[-1] >= 3 * BLOCK_S, waits


def test_a_pipelined_request_starts_its_clock_when_its_handler_does(
    server: tuple[int, list[tuple[float, float]]],
) -> None:
    port, seen = server
    two = b"GET /block HTTP/1.1\r\nHost: x\r\n\r\nGET /block HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert _read_all(_get(port, two)).count(b"HTTP/1.1 200") == 2
    (a1, s1), (a2, s2) = seen
    assert s1 - a1 < BLOCK_S / 2  # the first was stamped when parsed and handled at once
    assert s2 - a2 < BLOCK_S / 2  # the second waited for the first's answer, but is not charged for it
    assert s2 - s1 >= BLOCK_S * 0.9


async def _accepted_then_read_late() -> list[tuple[float, float]]:
    """A request waiting in its socket when the connection is accepted, read only 0.1 s later; then
    a second request on that connection, sent long after the accept."""
    seen: list[tuple[float, float]] = []
    app = web.Application()
    app[SEEN] = seen

    async def note(request: web.Request) -> web.Response:
        seen.append((arrival(request), asyncio.get_running_loop().time()))
        return web.Response(text="ok")

    app.router.add_get("/note", note)
    runner = ApiAppRunner(app, access_log=None)
    await runner.setup()
    ours, theirs = socket.socketpair()
    theirs.sendall(b"GET /note HTTP/1.1\r\nHost: x\r\n\r\n")
    assert runner.server is not None
    await asyncio.get_running_loop().connect_accepted_socket(runner.server, sock=ours)
    time.sleep(0.1)  # the loop runs other handlers (a burst) before it reads the new connection
    theirs.setblocking(False)
    loop = asyncio.get_running_loop()
    assert (await asyncio.wait_for(loop.sock_recv(theirs, 65536), 5)).startswith(b"HTTP/1.1 200")
    await asyncio.sleep(0.1)
    await loop.sock_sendall(theirs, b"GET /note HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (await asyncio.wait_for(loop.sock_recv(theirs, 65536), 5)).startswith(b"HTTP/1.1 200")
    theirs.close()
    await runner.cleanup()
    return seen


def test_a_request_waiting_at_the_accept_counts_from_the_accept() -> None:
    (a1, s1), (a2, s2) = asyncio.run(_accepted_then_read_late())
    assert s1 - a1 >= 0.1  # counted from the accept, not from when the loop got to read it
    assert s2 - a2 < 0.15  # a later request counts from its own parse (from the accept: >= 0.2 s)


async def _accepted_after(wait_s: float) -> tuple[float, float, float]:
    """A request sent on a TCP connection that the server accepts only `wait_s` later: when it was
    sent, its arrival stamp and when its handler ran."""
    loop = asyncio.get_running_loop()
    seen: list[tuple[float, float]] = []
    app = web.Application()

    async def note(request: web.Request) -> web.Response:
        seen.append((arrival(request), loop.time()))
        return web.Response(text="ok")

    app.router.add_get("/note", note)
    runner = ApiAppRunner(app, access_log=None)
    await runner.setup()
    assert runner.server is not None
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=10)
        client.sendall(b"GET /note HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        sent = loop.time()
        time.sleep(wait_s)  # nobody accepts: the connection and its request wait in the kernel's queue
        accepted, _ = listener.accept()
    accepted.setblocking(False)
    await loop.connect_accepted_socket(runner.server, sock=accepted)
    client.setblocking(False)
    assert (await asyncio.wait_for(loop.sock_recv(client, 65536), 5)).startswith(b"HTTP/1.1 200")
    client.close()
    await runner.cleanup()
    ((arrived, started),) = seen
    return sent, arrived, started


@pytest.mark.skipif(sys.platform != "linux", reason="the kernel says how long data waited only on Linux (TCP_INFO)")
def test_a_request_that_waited_in_the_accept_queue_counts_from_when_it_arrived() -> None:
    ACCEPT_QUEUE.reset()
    sent, arrived, started = asyncio.run(_accepted_after(0.2))
    # The kernel counts in ticks of 1-4 ms: the stamp is the send, give or take a tick, not the accept.
    assert abs(arrived - sent) < 0.02, arrived - sent
    assert started - arrived >= 0.18
    assert ACCEPT_QUEUE.requests == 1 and 0.18 <= ACCEPT_QUEUE.max_wait_s < 0.5, ACCEPT_QUEUE.to_json()
