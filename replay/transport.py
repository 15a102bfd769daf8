"""HTTP/1.1 for replay users: one keep-alive connection per user on a gevent socket, responses read by
geventhttpclient's C parser (the client under Locust's FastHttpUser), the body handed over block by
block as it arrives.

python-requests went through ~10 Python layers per request and dropped the connection after every
stream it did not read to the end, so each request paid a new connection (and a DNS lookup in
gevent's thread pool); at 500 streams that kept one Locust process busy and its TTFT late.
geventhttpclient's own HTTPClient (and Locust's FastHttpSession with stream=True, built on it)
cannot be used as it is: its response's read(n) waits until n bytes have arrived, so a stream's
events would reach us in 4 KiB batches, and readline() costs a Python loop per SSE line. What we
need is "whatever has arrived" per recv, with its arrival time: that is the loop below, around
geventhttpclient's parser. Proxy variables (HTTPS_PROXY) are not used: the replayer connects
directly to its target.
An exchange runs from `send` (which arms one timer for its deadline: one per request, not one per
recv) to `done` or `close`. Errors are the built-in exceptions the caller classifies: TimeoutError
(the exchange outlasted its deadline), ConnectionError (refused, reset, closed early or not HTTP),
other OSError.
"""

import functools
import socket
import time
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

import gevent
from gevent import socket as gsocket
from gevent import ssl as gssl
from geventhttpclient.header import Headers
from geventhttpclient.response import HTTPParseError, HTTPResponse

BLOCK_SIZE = 256 * 1024  # everything that has arrived, in one recv
CONNECT_TIMEOUT_S = 10.0
USER_AGENT = "mockclaude-replay"


@functools.cache
def _resolve(host: str, port: int) -> tuple[int, tuple[str, int]]:
    """Address family and address of host:port, looked up once per process (not once per connection)."""
    family, _, _, _, address = gsocket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    return family, address


class Response(HTTPResponse):
    """Status and headers once parsed, then the body in the blocks the parser has decoded so far."""

    def __init__(self) -> None:
        super().__init__(method="POST")
        self.blocks: list[bytes] = []
        self.received = 0  # bytes read from the socket

    def _on_body(self, buf: bytearray) -> None:
        self.blocks.append(bytes(buf))

    def fields(self) -> Headers:
        """The response headers (names case-insensitive)."""
        return self.info()


class Connection:
    """One persistent HTTP/1.1 connection to the target of `url` (http or https), opened on demand."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the host must be an http:// or https:// URL, got {url!r}")
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.base_path = parts.path.rstrip("/")
        default_port = self.port == (443 if self.tls else 80)
        self.authority = parts.netloc.rpartition("@")[2] if not default_port else self.host
        self.sock: socket.socket | None = None
        self._timer: gevent.Timeout | None = None
        self._heads: dict[tuple[str, tuple[tuple[str, str], ...]], bytes] = {}

    def close(self) -> None:
        """End the exchange and close the connection (the next request opens a new one)."""
        self._disarm()
        self._drop()

    def _drop(self) -> None:
        if self.sock is not None:
            sock, self.sock = self.sock, None
            sock.close()

    def head(self, path: str, headers: Mapping[str, str]) -> bytes:
        """The request line and headers of a POST to `path` (without Content-Length), cached."""
        key = (path, tuple(headers.items()))
        head = self._heads.get(key)
        if head is None:
            fields = {"host": self.authority, "user-agent": USER_AGENT, "accept": "application/json", **headers}
            lines = [f"POST {self.base_path}{path} HTTP/1.1"]
            for name, value in fields.items():
                if not name.isascii() or any(c in f"{name}{value}" for c in "\r\n\0") or ":" in name:
                    raise ValueError(f"invalid request header {name!r}: {value!r}")
                lines.append(f"{name}: {value}")
            head = ("\r\n".join(lines) + "\r\ncontent-length: ").encode("latin-1")
            self._heads[key] = head
        return head

    def send(self, head: bytes, body: bytes, deadline: float) -> Response:
        """Start an exchange that must end by `deadline` (a perf_counter time): send one request (a
        `head` from `head()`) and read the response headers."""
        self._disarm()
        left = max(deadline - time.perf_counter(), 0.0)
        self._timer = gevent.Timeout.start_new(left, TimeoutError("the response took longer than --request-timeout"))
        data = b"%s%d\r\n\r\n%s" % (head, len(body), body)
        reused = self.sock is not None
        resp = Response()
        try:
            try:
                return self._exchange(data, resp, deadline)
            except ConnectionError:
                if not reused or resp.received:
                    raise
                self._drop()
            # The server closed the kept-alive connection while it was idle: it never saw the request.
            return self._exchange(data, Response(), deadline)
        except BaseException:
            self.close()  # no timer may outlive a failed exchange
            raise

    def _exchange(self, data: bytes, resp: Response, deadline: float) -> Response:
        if self.sock is None:
            self.sock = self._connect(deadline)
        self.sock.sendall(data)
        while not resp.headers_complete or resp.status_code < 200:  # 1xx: the real answer follows
            if not self._receive(resp):
                raise ConnectionError("the connection closed before a response")
        return resp

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.close()
            self._timer = None

    def _connect(self, deadline: float) -> socket.socket:
        family, address = _resolve(self.host, self.port)
        sock = gsocket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(max(min(CONNECT_TIMEOUT_S, deadline - time.perf_counter()), 0.001))
            sock.connect(address)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(None)  # the exchange's timer bounds every wait
            if self.tls:
                sock = gssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        return sock

    def _receive(self, resp: Response) -> bool:
        """One recv fed to the parser; False when the peer closed the connection."""
        sock = self.sock
        if sock is None:
            raise ConnectionError("the connection is closed")
        try:
            data = sock.recv(BLOCK_SIZE)
            resp.received += len(data)
            resp.feed(data)
        except HTTPParseError as exc:
            raise ConnectionError(f"not a valid HTTP response ({exc.args[0] if exc.args else exc})") from None
        return bool(data)

    def body(self, resp: Response) -> Iterator[bytes]:
        """The body, one block per recv as it arrives; ConnectionError when it ends early."""
        while True:
            if resp.blocks:
                block = resp.blocks[0] if len(resp.blocks) == 1 else b"".join(resp.blocks)
                resp.blocks.clear()
                yield block
            if resp.message_complete:
                return
            if not self._receive(resp) and not resp.message_complete:
                raise ConnectionError("the connection closed before the end of the response")

    def read(self, resp: Response) -> bytes:
        """The whole body."""
        return b"".join(self.body(resp))

    def done(self, resp: Response, drain_s: float) -> None:
        """End the exchange: keep the connection for the next request if `resp` was read to its end
        (waiting at most `drain_s` for the rest of it), else close it."""
        self._disarm()
        if not resp.message_complete and drain_s > 0:
            with gevent.Timeout(drain_s, False):
                try:
                    for _ in self.body(resp):
                        pass
                except OSError:
                    pass
        if resp.should_close():
            self.close()
