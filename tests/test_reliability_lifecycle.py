"""Where the mock listens, and how it stops: loopback by default, other addresses only when asked,
and SIGTERM lets short streams finish and ends long ones cleanly within the grace period.
(The admin API's --admin-token and --no-admin are covered in tests/test_server_features.py.)"""

import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from mockclaude.processes import mock_server, run_process
from mockclaude.server.admin import TOKEN_HEADER
from mockclaude.server.command import SHUTDOWN_GRACE_S as GRACE_S
from tests.reliability_helpers import assert_api_error, http, open_streams, read_all, request


def _listening_addresses(port: int) -> set[str]:
    """Local IPv4 addresses with a LISTEN socket on `port` (from /proc/net/tcp)."""
    found = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            ip_hex, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:
                found.add(socket.inet_ntoa(bytes.fromhex(ip_hex)[::-1]))
    return found


def _other_local_ip() -> str | None:
    """A non-loopback address of this machine, if it has one."""
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False).stdout.split()
    return next((a for a in out if "." in a and not a.startswith("127.")), None)


def test_binds_loopback_only_by_default() -> None:
    with mock_server() as p:
        port = int(p.url.rsplit(":", 1)[1])
        assert _listening_addresses(port) == {"127.0.0.1"}
        other = _other_local_ip()
        if other is not None:
            with pytest.raises(OSError), socket.create_connection((other, port), timeout=2):
                pass


def test_binding_elsewhere_is_explicit() -> None:
    ready = re.compile(r"listening on (http://127\.0\.0\.2:\d+)")
    argv = [sys.executable, "-m", "mockclaude", "serve", "--port", "0", "--host", "127.0.0.2"]
    with run_process(argv, ready=ready) as p:
        port = int(p.url.rsplit(":", 1)[1])
        assert _listening_addresses(port) == {"127.0.0.2"}


def test_sigterm_finishes_short_streams_and_cleanly_ends_long_ones() -> None:
    """Streams that end within the grace period complete (message_stop); longer ones are closed by the
    end of it (the client sees EOF, never a hang); the process exits 0 and stops accepting at once."""
    with mock_server("--ttft", "0.05", "--tps", "20", "--output-tokens", "1000", "--chunk-tokens", "1") as p:
        short = open_streams(p.url, 5, 30)  # ~1.5 s at 20 tokens/s
        long = open_streams(p.url, 5, 1000)  # ~50 s
        t0 = time.monotonic()
        p.popen.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        port = int(p.url.rsplit(":", 1)[1])
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
            pass  # no longer accepting
        for s in short:
            data = read_all(s, deadline_s=GRACE_S + 3)
            assert b"event: message_stop" in data, data[-300:]
            s.close()
        for s in long:
            data = read_all(s, deadline_s=GRACE_S + 3)
            assert b"message_stop" not in data
            s.close()
        assert p.popen.wait(GRACE_S + 5) == 0, p.output()
        elapsed = time.monotonic() - t0
        assert elapsed < GRACE_S + 1.5, f"shutdown took {elapsed:.1f}s"
        assert "internal error" not in p.output(), p.output()


def test_admin_token_check_survives_bytes_that_are_not_utf8() -> None:
    """A wrong admin token is a 401 whatever its bytes; the right one still works."""
    with mock_server("--admin-token", "s3cret") as p:
        for value in ("\xff\xfe", "s3cret\xff", "s3cr\xe9t", ""):
            resp = request(p.url, http("GET", "/_mockclaude/stats", headers=f"{TOKEN_HEADER}: {value}\r\n"))
            err = assert_api_error(resp, 401)
            assert err["type"] == "authentication_error"
        ok = request(p.url, http("GET", "/_mockclaude/stats", headers=f"{TOKEN_HEADER}: s3cret\r\n"))
        assert ok.status == 200 and "active_streams" in ok.json()


BAD_FLAGS = [
    ("--port", "70000"),
    ("--idle-timeout", "0"),
    ("--idle-timeout", "nan"),
    ("--prefill-tps", "0"),
    ("--prefill-tps", "-5"),
    ("--tool-rate", "7"),
]


def test_out_of_range_flags_are_refused_naming_the_flag() -> None:
    """Values that would bind a wrapped-around port, disable timeouts or divide by zero never start."""
    argv = [sys.executable, "-m", "mockclaude", "serve", "--port", "0"]
    procs = [
        subprocess.Popen([*argv, *flag], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for flag in BAD_FLAGS
    ]  # all at once: each is a second of interpreter start-up
    for flag, proc in zip(BAD_FLAGS, procs, strict=True):
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 2 and flag[0] in err and "listening" not in out, (flag, out, err)
