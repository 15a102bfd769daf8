"""Shared fixtures: the reference folder and a real mock server per module."""

import os
import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockclaude.processes import run_process

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """../shared/reference (the wire-format reference and the 2024 OpenAPI spec)."""
    if not (REFERENCE / "anthropic-openapi-2024-11.yaml").exists():
        # CI always has shared/ beside the clone: there a missing spec is an error, not a skip.
        if os.environ.get("CI") == "true":
            pytest.fail(f"reference folder not found at {REFERENCE}")
        pytest.skip(f"reference folder not found at {REFERENCE}")
    return REFERENCE


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A redis-server of our own on 127.0.0.1, no persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server); ./dev test installs it")
    pytest.importorskip("redis", reason="the redis client is part of the dev extra")
    port = free_port()
    argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    with run_process(argv, ready=re.compile(r"(Ready to accept connections)")):
        yield f"redis://127.0.0.1:{port}/0"
