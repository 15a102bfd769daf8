"""When a request arrived: the loop time at which aiohttp parsed its headers, before any handler ran.

Under a burst, hundreds of requests are read and parsed before the first handler runs, and each
handler then waits for all the handlers before it. A synthetic answer's schedule (TTFT, tokens/s)
counts from this stamp, so that wait is inside the TTFT the mock promised and, when the mock cannot
keep up, shows as late frames in its own report instead of as an unseen delay. A request already
waiting in the socket when its connection is accepted counts from the accept: in a burst the loop
accepts a wave of connections and then runs the handlers of the wave before, and only then reads
them. What happens before the accept (the kernel's accept queue) stays invisible here;
bench.streams measures it from the client.

aiohttp has no public hook for this: the pinned version's RequestHandler is subclassed (as in
server.protocol_errors), and tests/test_arrival.py fails if an upgrade changes what it relies on.
"""

import asyncio
import functools
import struct
from typing import Any

try:
    from fcntl import ioctl
    from termios import FIONREAD
except ImportError:  # Windows: requests count from when they are parsed
    ioctl = None  # type: ignore[assignment]

from aiohttp import web, web_protocol
from aiohttp.http_parser import RawRequestMessage

ARRIVED: web.RequestKey[float] = web.RequestKey("arrived", float)  # the request's key for its stamp


class ArrivalStamps(web_protocol.RequestHandler):
    """A connection's protocol that stamps each request it parses with the loop time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Parsed requests waiting for their handler, by id of their message: aiohttp keeps each
        # message alive until the request made from it is done, so an id is never reused meanwhile.
        self.arrivals: dict[int, float] = {}
        # The factory gets the protocol as an argument: a partial, not a closure over self (no cycle).
        assert self._request_factory is not None
        self._request_factory = functools.partial(_stamped_request, self._request_factory)
        # When the connection was accepted, if its first request was already waiting to be read.
        self.accepted_with_data: float | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Set up as aiohttp does; note the time if the client's request is already waiting to be read."""
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if ioctl is not None and sock is not None:
            try:
                unread = struct.unpack("i", ioctl(sock.fileno(), FIONREAD, b"\0\0\0\0"))[0]
            except OSError:
                unread = 0
            if unread:
                self.accepted_with_data = self._loop.time()

    def data_received(self, data: bytes) -> None:
        """Parse as aiohttp does, then stamp the request this data completed on an idle connection."""
        queue = self._messages
        # A request pipelined behind another waits for that one's whole answer (HTTP/1.1 answers in
        # order): it is not stamped, so its schedule starts when its handler does, as before.
        idle = not queue and self._current_request is None
        super().data_received(data)
        if idle and queue:
            if isinstance(queue[0][0], RawRequestMessage):  # not a parse error
                self.arrivals[id(queue[0][0])] = self.accepted_with_data or self._loop.time()
            self.accepted_with_data = None  # only the connection's first request was waiting at the accept


def _stamped_request(make: Any, message: Any, payload: Any, protocol: Any, *rest: Any) -> web.BaseRequest:
    """aiohttp's request for `message`, carrying the stamp its protocol took (which it forgets)."""
    request = make(message, payload, protocol, *rest)
    stamp = protocol.arrivals.pop(id(message), None)
    if stamp is not None:
        request[ARRIVED] = stamp
    return request


def arrival(request: web.Request) -> float:
    """The loop time `request` was parsed at (now, for a request that did not come through ArrivalStamps)."""
    stamp = request.get(ARRIVED)
    return asyncio.get_running_loop().time() if stamp is None else stamp
