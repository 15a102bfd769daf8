"""Child processes on 127.0.0.1: start one, wait until it says it is ready, stop its whole group.

Used by the demo, the benchmarks, our tests and the pytest plugin (`mockclaude.testing`); the
supervisors of the mock's workers and of the recorder's writer share `exit_cause` and `RestartBackoff`.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


def exit_cause(exitcode: int) -> str:
    """How a process ended, from its exit code as multiprocessing gives it (negative: the signal)."""
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


@dataclass
class RestartBackoff:
    """How long to wait before restarting a process that died: `start_s`, doubling while it keeps
    dying within `stable_s` of its start, at most `max_s`; a process that lived longer starts over."""

    start_s: float = 0.5
    max_s: float = 30.0
    stable_s: float = 10.0
    _early_deaths: int = 0

    def after_death(self, lived_s: float) -> float:
        """The delay before the next start of a process that died after `lived_s` seconds."""
        self._early_deaths = self._early_deaths + 1 if lived_s < self.stable_s else 1
        return min(self.max_s, self.start_s * 2 ** (self._early_deaths - 1))


def stop_group(proc: subprocess.Popen[str], grace_s: float = 10.0) -> None:
    """SIGTERM the process group of `proc` (started with start_new_session), SIGKILL after `grace_s`."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


READY = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


@dataclass
class Proc:
    """A running child process with its captured output lines."""

    popen: subprocess.Popen[str]
    url: str = ""
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        """Everything the process printed so far."""
        return "".join(self.lines)


def _pump(proc: Proc, ready: threading.Event, pattern: re.Pattern[str]) -> None:
    assert proc.popen.stdout is not None
    for line in proc.popen.stdout:
        proc.lines.append(line)
        m = pattern.search(line)
        if m and not ready.is_set():
            proc.url = m.group(1)
            ready.set()
    ready.set()


@contextlib.contextmanager
def run_process(
    argv: list[str], *, ready: re.Pattern[str] = READY, timeout: float = 30.0, env: dict[str, str] | None = None
) -> Iterator[Proc]:
    """Start `argv`, wait until a line matches `ready` (group 1 becomes `.url`), stop it afterwards."""
    popen = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        start_new_session=True,
    )
    proc = Proc(popen)
    event = threading.Event()
    threading.Thread(target=_pump, args=(proc, event, ready), daemon=True).start()
    try:
        if not event.wait(timeout) or not proc.url:
            raise RuntimeError(f"{argv} did not become ready in {timeout}s; output:\n{proc.output()}")
        yield proc
    finally:
        stop_group(popen)


def with_file_size_limit(args: list[str], max_bytes: int) -> list[str]:
    """The argv of `mockclaude ARGS` in a process that may not write a file past `max_bytes` (RLIMIT_FSIZE):
    a disk that fills, without filling one."""
    code = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({max_bytes}, {max_bytes}))\n"
        "from mockclaude.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    return [sys.executable, "-c", code, *args]


@contextlib.contextmanager
def mock_server(*flags: str, timeout: float = 30.0) -> Iterator[Proc]:
    """A real `mockclaude serve` on 127.0.0.1 and a free port; `.url` is its base URL."""
    with run_process([sys.executable, "-m", "mockclaude", "serve", "--port", "0", *flags], timeout=timeout) as p:
        yield p
