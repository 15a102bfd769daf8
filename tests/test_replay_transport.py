"""The replay users' HTTP connection against a real mock and raw sockets: keep-alive, the bytes it
sends, a connection the server closed while idle, timeouts, and streamed bodies block by block."""

import datetime
import ipaddress
import json
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mockclaude.processes import mock_server
from replay.records import RequestRecord
from replay.stream import read_stream
from replay.transport import Connection
from tests.reliability_helpers import RawServer, read_request

pytestmark = pytest.mark.timeout(60)
HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-test", "content-type": "application/json",
           "accept-encoding": "identity"}  # fmt: skip


def body(stream: bool) -> bytes:
    """A small Messages request."""
    messages = [{"role": "user", "content": "hi"}]
    return json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 8, "stream": stream, "messages": messages}).encode()


def test_streams_and_messages_share_one_kept_alive_connection() -> None:
    with mock_server("--ttft", "0.05", "--tps", "400", "--output-tokens", "8") as mock:
        conn = Connection(mock.url)
        head = conn.head("/v1/messages", HEADERS)
        socks = []
        for stream in (True, False, True):
            t0 = time.perf_counter()
            deadline = t0 + 10
            resp = conn.send(head, body(stream), deadline)
            assert resp.status_code == 200
            if stream:
                rec = RequestRecord(scenario="t", stream=True)
                read_stream(rec, conn.body(resp), lambda t0=t0: time.perf_counter() - t0)
                assert rec.ok and rec.output_tokens == 8, rec
                # Handed over as they arrived (8 tokens at 400/s after 0.05 s), not once at the end.
                assert rec.ttft_s is not None and 0.05 <= rec.ttft_s < rec.delta_s[-1] - 0.01, rec
            else:
                assert json.loads(conn.read(resp))["usage"]["output_tokens"] == 8
            conn.done(resp, 1.0)
            socks.append(conn.sock)
        assert socks[0] is not None and socks.count(socks[0]) == 3
        conn.close()


def test_sends_the_headers_and_exact_body() -> None:
    seen: list[bytes] = []

    def answer(sock: socket.socket) -> None:
        seen.append(read_request(sock))
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        sock.close()

    with RawServer(answer) as target:
        conn = Connection(target.url + "/base/")
        payload = body(False)
        resp = conn.send(conn.head("/v1/messages", HEADERS), payload, time.perf_counter() + 5)
        assert conn.read(resp) == b"{}"
        conn.close()
    head, _, sent = seen[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    fields = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    assert lines[0] == "POST /base/v1/messages HTTP/1.1"
    assert fields["host"] == f"127.0.0.1:{target.port}" and fields["accept-encoding"] == "identity"
    assert fields["content-length"] == str(len(payload)) and sent == payload
    assert fields["x-api-key"] == "sk-ant-test" and fields["anthropic-version"] == "2023-06-01"


def test_a_connection_closed_while_idle_is_reopened_without_sending_twice() -> None:
    requests_seen = []

    def answer_once(sock: socket.socket) -> None:
        requests_seen.append(read_request(sock))
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")  # keep-alive, then gone while idle
        time.sleep(0.05)
        sock.close()

    with RawServer(answer_once) as target:
        conn = Connection(target.url)
        head = conn.head("/v1/messages", HEADERS)
        for _ in range(2):
            resp = conn.send(head, b"{}", time.perf_counter() + 5)
            assert conn.read(resp) == b"{}"
            conn.done(resp, 1.0)
            time.sleep(0.2)
        assert len(requests_seen) == 2 and len(target.held) == 2


def test_the_reopened_connection_is_still_bound_by_the_deadline() -> None:
    accepted = []

    def answer_once_then_hang(sock: socket.socket) -> None:
        accepted.append(sock)
        read_request(sock)
        if len(accepted) == 1:
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            sock.close()

    with RawServer(answer_once_then_hang) as target:
        conn = Connection(target.url)
        head = conn.head("/v1/messages", HEADERS)
        resp = conn.send(head, b"{}", time.perf_counter() + 5)
        conn.read(resp)
        conn.done(resp, 1.0)
        time.sleep(0.1)
        t0 = time.perf_counter()
        with pytest.raises(TimeoutError):
            conn.send(head, b"{}", t0 + 0.5)
        assert 0.5 <= time.perf_counter() - t0 < 1.5 and len(accepted) == 2 and conn.sock is None


def test_a_connection_closed_after_the_request_is_not_retried() -> None:
    requests_seen = []

    def drop(sock: socket.socket) -> None:
        requests_seen.append(read_request(sock))
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
        sock.close()

    with RawServer(drop) as target:
        conn = Connection(target.url)
        resp = conn.send(conn.head("/v1/messages", HEADERS), b"{}", time.perf_counter() + 5)
        with pytest.raises(ConnectionError):
            conn.read(resp)
        conn.close()
    assert len(requests_seen) == 1


def test_the_deadline_bounds_headers_and_a_body_that_trickles() -> None:
    stop = threading.Event()

    def trickle(sock: socket.socket) -> None:
        read_request(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        while not stop.wait(0.05):
            sock.sendall(b"2\r\n:\n\r\n")

    with RawServer(trickle) as target:
        conn = Connection(target.url)
        t0 = time.perf_counter()
        resp = conn.send(conn.head("/v1/messages", HEADERS), b"{}", t0 + 0.5)
        with pytest.raises(TimeoutError):
            for _ in conn.body(resp):
                pass
        assert 0.5 <= time.perf_counter() - t0 < 1.0
        stop.set()
        conn.close()


def test_header_values_cannot_inject_lines() -> None:
    conn = Connection("http://127.0.0.1:9")
    with pytest.raises(ValueError, match="invalid request header"):
        conn.head("/v1/messages", {"anthropic-beta": "x\r\nx-api-key: stolen"})
    with pytest.raises(ValueError):
        Connection("ftp://127.0.0.1:9")


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


def test_https_targets_are_verified_and_spoken_to_over_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)

    def answer(sock: socket.socket) -> None:
        try:
            with server_ctx.wrap_socket(sock, server_side=True) as tls:
                read_request(tls)
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                time.sleep(0.2)
        except OSError:
            return  # the client refused our certificate

    with RawServer(answer) as target:
        url = target.url.replace("http://", "https://")
        with pytest.raises(ssl.SSLError):  # not trusted yet: verification is on
            Connection(url).send(b"", b"", time.perf_counter() + 5)
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        conn = Connection(url)
        resp = conn.send(conn.head("/v1/messages", HEADERS), b"{}", time.perf_counter() + 5)
        assert resp.status_code == 200 and conn.read(resp) == b"{}"
        conn.close()
