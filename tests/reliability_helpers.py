"""Probes for the reliability tests: raw HTTP over sockets, and a server process's fds, RSS and tasks."""

import json
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

API_HEADERS = "x-api-key: sk-ant-test\r\nanthropic-version: 2023-06-01\r\ncontent-type: application/json\r\n"


@dataclass
class RawResponse:
    """A parsed HTTP/1.1 response as it arrived on the socket."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


def address(url: str) -> tuple[str, int]:
    """(host, port) of a base URL."""
    parts = urlsplit(url)
    assert parts.hostname and parts.port
    return parts.hostname, parts.port


def connect(url: str, timeout: float = 10.0) -> socket.socket:
    """A TCP connection to the server behind `url`."""
    return socket.create_connection(address(url), timeout=timeout)


def read_all(sock: socket.socket, deadline_s: float) -> bytes:
    """Everything the peer sends until it closes (or `deadline_s` passes: then fail)."""
    end = time.monotonic() + deadline_s
    out = bytearray()
    while True:
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError(f"peer still open after {deadline_s}s; got {bytes(out[:300])!r}")
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return bytes(out)
        if not chunk:
            return bytes(out)
        out += chunk


def parse_response(raw: bytes) -> RawResponse:
    """Parse one HTTP/1.x response (Content-Length or chunked body)."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    assert sep, f"no complete response head: {raw[:300]!r}"
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    if headers.get("transfer-encoding") == "chunked":
        body = bytearray()
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            body += rest[:size]
            rest = rest[size + 2 :]
        return RawResponse(status, headers, bytes(body))
    return RawResponse(status, headers, rest[: int(headers.get("content-length", len(rest)))])


def request(url: str, data: bytes, deadline_s: float = 10.0) -> RawResponse:
    """Send raw bytes (the client closes its side's keep-alive with `Connection: close`), parse the answer."""
    with connect(url) as s:
        s.sendall(data)
        return parse_response(read_all(s, deadline_s))


def http(method: str, path: str, body: bytes = b"", headers: str = API_HEADERS) -> bytes:
    """A well-formed HTTP/1.1 request with `Connection: close` (the head is bytes as written: latin-1)."""
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("latin-1") + body


def assert_api_error(resp: RawResponse, status: int | None = None) -> dict[str, Any]:
    """The response is the API's error envelope (optionally with this status); returns the error object."""
    assert resp.status != 500, resp
    if status is not None:
        assert resp.status == status, resp
    assert resp.headers.get("content-type", "").startswith("application/json"), resp
    assert resp.headers.get("request-id", "").startswith("req_"), resp
    env = resp.json()
    assert env["type"] == "error" and env["request_id"] == resp.headers["request-id"], env
    assert isinstance(env["error"]["type"], str) and isinstance(env["error"]["message"], str), env
    return env["error"]


def get_json(url: str, path: str, timeout: float = 10.0, headers: dict[str, str] | None = None) -> Any:
    """GET `path` and decode JSON (used for the admin API)."""
    with urllib.request.urlopen(urllib.request.Request(url + path, headers=headers or {}), timeout=timeout) as r:
        return json.loads(r.read())


def fd_count(pid: int) -> int:
    """Open file descriptors of a process."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kb(pid: int) -> int:
    """Resident memory of a process in kB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def wait_for(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> float:
    """Poll `check` until it holds; return how long it took (fail after `timeout`)."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: still not true after {timeout}s")
        time.sleep(interval)
    return time.monotonic() - start


class RawServer:
    """A TCP server on 127.0.0.1 whose every connection is handled by `answer(conn)` in a thread."""

    def __init__(self, answer: Callable[[socket.socket], None]) -> None:
        self._answer = answer
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.held.append(conn)
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def close(self) -> None:
        """Stop accepting and close every connection."""
        self._sock.close()
        for c in self.held:
            c.close()

    def __enter__(self) -> "RawServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_request(conn: socket.socket, timeout: float = 5.0) -> bytes:
    """One HTTP request's head and Content-Length body from `conn` (what arrived, if it stops early)."""
    conn.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        fields = (ln.partition(b":") for ln in head.split(b"\r\n"))
        length = next((int(v) for k, _, v in fields if k.lower() == b"content-length"), 0)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body
    except OSError:
        return data


def hang(conn: socket.socket) -> None:
    """Answer nothing: read the request, then hold the connection open."""
    read_request(conn)


def open_streams(url: str, n: int, max_tokens: int) -> list[socket.socket]:
    """`n` streamed Messages requests sent at once, each read up to its first content delta."""
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": max_tokens,
        "stream": True,
        "messages": [{"role": "user", "content": "Hello"}],
    }
    socks = [connect(url) for _ in range(n)]
    for s in socks:
        s.sendall(http("POST", "/v1/messages", json.dumps(body).encode()))
    for s in socks:
        buf = b""
        while b"content_block_delta" not in buf:
            chunk = s.recv(4096)
            assert chunk, buf
            buf += chunk
    return socks
