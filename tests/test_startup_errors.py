"""Startup failures of `serve` and `record`: one line, a non-zero exit at once, nothing left on disk."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockclaude.listen import check_listen
from mockclaude.processes import mock_server

# The commands import aiohttp or mitmproxy first: seconds on a loaded 2-core box, not a hang.
PROMPT_S = 8.0


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another server is listening on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def run_cli(*args: str, cwd: Path) -> tuple[int, str, str, float]:
    """`mockclaude ARGS`: exit code, stdout, stderr and seconds taken (killed after 30 s)."""
    started = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "mockclaude", *args], capture_output=True, text=True, timeout=30, cwd=cwd)
    return p.returncode, p.stdout, p.stderr, time.monotonic() - started


def one_line(stderr: str) -> str:
    """The only line of stderr (fails when there are more, e.g. a traceback)."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_serve_on_a_taken_port(tmp_path: Path, taken_port: int) -> None:
    rc, _, err, took = run_cli("serve", "--port", str(taken_port), cwd=tmp_path)
    assert rc == 2 and took < PROMPT_S
    line = one_line(err)
    assert line.startswith(f"mockclaude serve: cannot listen on 127.0.0.1:{taken_port}: the port is already in use")
    assert "--port 0" in line


@pytest.mark.parametrize("host", ["999.1.1.1", "192.0.2.1"])
def test_serve_on_a_host_that_is_not_this_machine(tmp_path: Path, host: str) -> None:
    rc, _, err, took = run_cli("serve", "--host", host, "--port", "0", cwd=tmp_path)
    assert rc == 2 and took < PROMPT_S
    assert one_line(err).startswith(f"mockclaude serve: cannot listen on {host}:0: ")


def test_a_second_workers_server_cannot_join_the_first_ones_port(tmp_path: Path) -> None:
    # The workers' sockets share their port with SO_REUSEPORT; so would another server's of the same
    # user, silently taking half the traffic, if the port were not checked first.
    with mock_server("--workers", "2") as first:
        port = first.url.rsplit(":", 1)[1]
        rc, _, err, _ = run_cli("serve", "--workers", "2", "--port", port, cwd=tmp_path)
    assert rc == 2 and "already in use" in one_line(err)


def test_serve_workers_on_a_taken_port(tmp_path: Path, taken_port: int) -> None:
    rc, _, err, _ = run_cli("serve", "--workers", "2", "--port", str(taken_port), cwd=tmp_path)
    assert rc == 2 and "already in use" in one_line(err)


def test_record_on_a_taken_port_exits_and_leaves_nothing(tmp_path: Path, taken_port: int) -> None:
    out = tmp_path / "rec" / "prod.jsonl"
    rc, _, err, took = run_cli(
        "record", "--upstream", "http://127.0.0.1:9", "--port", str(taken_port), "--out", str(out), cwd=tmp_path
    )
    assert rc == 2 and took < PROMPT_S
    assert one_line(err).startswith(f"mockclaude record: cannot listen on 127.0.0.1:{taken_port}: ")
    assert list(tmp_path.iterdir()) == []  # no fixture, no key file, no folder


def test_record_on_a_foreign_host(tmp_path: Path) -> None:
    out = tmp_path / "prod.jsonl"
    rc, _, err, _ = run_cli(
        "record", "--upstream", "http://127.0.0.1:9", "--host", "999.1.1.1", "--out", str(out), cwd=tmp_path
    )
    assert rc == 2 and "cannot listen on 999.1.1.1:8080" in one_line(err)
    assert not out.exists() and not out.with_suffix(".jsonl.key").exists()


def test_a_free_port_passes_the_check() -> None:
    check_listen("127.0.0.1", 0)
