"""The chaos soak in short: workers killed, Redis stopped and started, the recorder's disk full, all
under a mixed load; nothing unexpected may happen (the full run's figures are in BENCHMARKS.md)."""

import re
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(120)

SHORT = ["--duration", "12", "--kill-every", "4", "--redis-every", "5", "--redis-down", "2", "--clients", "4"]


def number(pattern: str, text: str) -> int:
    """The first number captured by `pattern` in `text`."""
    m = re.search(pattern, text)
    assert m, f"{pattern!r} not in:\n{text}"
    return int(m.group(1))


def test_the_short_chaos_soak_survives_everything_it_breaks() -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server); ./dev test installs it")
    argv = [sys.executable, "-m", "bench.chaos_soak", *SHORT, "--disk-bytes", "20000"]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=100)
    out = run.stdout + run.stderr
    assert run.returncode == 0 and "result: ok" in out, out
    assert number(r"unexpected: (\d+)", out) == 0
    restarts = number(r"worker restarts: (\d+)", out)
    assert restarts >= 2 and restarts == number(r"death lines: (\d+)", out)
    assert number(r"went away (\d+) times", out) >= 1
    assert number(r"went away (\d+) times", out) == number(r"back (\d+) times", out)
    assert number(r"500s in the log: (\d+)", out) == 0
    assert number(r"exchanges lost to the full disk (\d+)", out) > 0
    assert number(r"'could not record' lines (\d+)", out) == 1
    assert "after the chaos, 20 JSON requests: {'ok': 20}" in out
    for part in ("mock", "recorder"):
        assert number(rf"{part} +RSS [\d.]+ -> [\d.]+ MiB, fds \d+ -> (\d+)", out) > 0
