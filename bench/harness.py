"""What every benchmark needs: the mock as a real process, its CPU, load-generator processes, stats."""

import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, NoReturn

import psutil

from mockclaude.processes import Proc, mock_server, run_process
from replay.summary import percentile

__all__ = [
    "CpuMeter", "Proc", "admin_stats", "interpreter", "machine", "median_interval", "mock_server", "pct", "run_clients"
]  # fmt: skip

MODEL = "claude-sonnet-4-6"


def pct(values: Sequence[float], p: float) -> float:
    """Percentile p of unsorted values."""
    return percentile(sorted(values), p)


def median_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float] | None:
    """(median, low, high): the median of `values` and a `level` confidence interval for it that assumes
    nothing about the noise's shape; None when there are too few values for `level` (fewer than 6 for 95 %).

    The interval runs from the k-th smallest to the k-th largest value, for the largest k with
    P(B <= k - 1) <= (1 - level) / 2, B ~ Binomial(n, 1/2): each value falls below the true median
    with probability one half. On a shared host, a run's figure moves by more than most changes do;
    this says how far a median of paired rounds can be trusted.
    """
    xs = sorted(values)
    n, tail = len(xs), (1 - level) / 2
    k, below = 0, 0.0
    while (below := below + math.comb(n, k) / 2**n) <= tail:
        k += 1
    if k == 0:
        return None
    return statistics.median(xs), xs[k - 1], xs[n - k]


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy since boot, all cores (stolen time included)."""
    t = psutil.cpu_times()
    return sum(getattr(t, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq", "steal"))


@dataclass
class CpuMeter:
    """CPU seconds used by a process tree between start() and stop(), the peak over 0.5 s samples, and
    what the whole machine used meanwhile (so that a run can say how busy the rest of the machine was)."""

    pid: int
    interval_s: float = 0.5
    seconds: float = 0.0
    wall_s: float = 0.0
    peak: float = 0.0
    machine_s: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _tree(self) -> list[psutil.Process]:
        root = psutil.Process(self.pid)
        return [root, *root.children(recursive=True)]

    def _cpu(self) -> float:
        total = 0.0
        for p in self._tree():
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def __enter__(self) -> "CpuMeter":
        self._t0, self._c0, self._m0 = time.monotonic(), self._cpu(), machine_busy_s()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        last_t, last_c = self._t0, self._c0
        while not self._stop.wait(self.interval_s):
            t, c = time.monotonic(), self._cpu()
            self.peak = max(self.peak, (c - last_c) / (t - last_t))
            last_t, last_c = t, c

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.wall_s = time.monotonic() - self._t0
        self.seconds = self._cpu() - self._c0
        self.machine_s = machine_busy_s() - self._m0

    @property
    def mean(self) -> float:
        """Average cores used over the measured window (1.0 = one core busy)."""
        return self.seconds / self.wall_s if self.wall_s else 0.0

    def others(self, client_s: float) -> float:
        """Average cores the rest of the machine used over the window: not this tree, not the load
        generators (`client_s` CPU seconds); the kernel's interrupt work is counted here too."""
        return max(self.machine_s - self.seconds - client_s, 0.0) / self.wall_s if self.wall_s else 0.0


class Clients(NamedTuple):
    """What bench.sse_load's processes report: a record per stream, their CPU seconds, and the most
    any of their loops lagged (a busy client reads late: its loop-time figures then include that)."""

    records: list[dict[str, Any]]
    cpu_s: float
    lag_max_s: float


def run_clients(
    url: str,
    body: dict[str, Any],
    streams: int,
    *,
    procs: int = 1,
    ramp_s: float = 0.0,
    timeout_s: float = 30.0,
    **extra: Any,
) -> Clients:
    """`streams` requests of `body` to `url` from `procs` bench.sse_load processes (which see `extra`:
    loop_s, requests); their records, CPU seconds and largest loop lag."""
    host, port = url.removeprefix("http://").split(":")
    spec = {"host": host, "port": int(port), "streams": streams, "ramp_s": ramp_s, "timeout_s": timeout_s}
    spec |= {"body": body, **extra}
    # Each process gets its share of the streams (and of a `requests` budget).
    children = []
    for i in range(procs):
        share = {k: spec[k] // procs + (1 if i < spec[k] % procs else 0) for k in ("streams", "requests") if k in spec}
        if share["streams"]:
            argv = [sys.executable, "-m", "bench.sse_load", json.dumps({**spec, **share, "seed": i})]
            children.append(subprocess.Popen(argv, stdout=subprocess.PIPE, text=True))
    # Bounded: a stream's timeout after the ramp, the loop's length, generous room for a request budget.
    limit = timeout_s + ramp_s + extra.get("loop_s", 0.0) + (600.0 if "requests" in extra else 60.0)
    records: list[dict[str, Any]] = []
    cpu = lag = 0.0
    for child in children:
        out, _ = child.communicate(timeout=limit)
        if child.returncode != 0:
            raise RuntimeError(f"load generator bench.sse_load failed with exit code {child.returncode}")
        for line in out.splitlines():
            obj = json.loads(line)
            if "client_cpu_s" in obj:
                cpu += obj["client_cpu_s"]
                lag = max(lag, obj["client_lag_max_s"])
            else:
                records.append(obj)
    return Clients(records, cpu, lag)


def admin_stats(url: str) -> dict[str, Any]:
    """The mock's /_mockclaude/stats."""
    with urllib.request.urlopen(f"{url}/_mockclaude/stats", timeout=10) as resp:
        return json.loads(resp.read())


def machine() -> str:
    """A one-line description of this machine, for the figures' provenance."""
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    return f"{os.cpu_count()} cpu ({model}), Python {interpreter()}"


# The configure flags an interpreter is described by, and what it runs to say which its build had.
_BUILD_FLAGS = ("--enable-optimizations", "--with-lto", "--enable-shared")
_BUILD_PROBE = (
    "import sys, sysconfig; a = sysconfig.get_config_var('CONFIG_ARGS') or ''; "
    f"print(sys.version.split()[0], *(o in a for o in {_BUILD_FLAGS!r}))"
)


def interpreter(python: str = sys.executable) -> str:
    """`python`'s version and how its build was configured, e.g. "3.12.1 (configured without
    --enable-optimizations, without --with-lto, with --enable-shared)".

    The same Python code runs markedly slower on a build without profile-guided and link-time
    optimization (pyenv's default) than on python.org's, Docker's or uv's builds, so every figure
    names the build it ran on. A distribution may optimize without these flags (Debian does): they
    say how it was configured, not how fast it is.
    """
    done = subprocess.run([python, "-c", _BUILD_PROBE], capture_output=True, text=True, timeout=30, check=True)
    version, *flags = done.stdout.split()
    said = ", ".join(
        f"{'with' if on == 'True' else 'without'} {name}" for name, on in zip(_BUILD_FLAGS, flags, strict=True)
    )
    return f"{version} (configured {said})"


# Benchmarks time the mock's own work, not a prompt-length TTFT.
_NO_PREFILL = ("--prefill-tps", "1e12")


@contextlib.contextmanager
def mock(
    *flags: str,
    tree: str | None = None,
    launcher: Sequence[str] = (),
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
    python: str | None = None,
) -> Iterator[Proc]:
    """A mock with the admin API on, timed for benchmarks (no prompt-length TTFT); with `tree`, the
    mock of another checkout (a before/after in the same run); with `launcher` (e.g. valgrind), run by
    it; with `env`, these variables set for it; with `python`, run by that interpreter (an environment
    with mockclaude installed: the same code on another Python build)."""
    if tree is None and not launcher and not env and python is None:
        with mock_server(*_NO_PREFILL, *flags, timeout=timeout) as p:
            yield p
        return
    argv = [*launcher, python or sys.executable, "-m", "mockclaude", "serve", "--port", "0", *_NO_PREFILL, *flags]
    # PYTHONSAFEPATH: `-m` would otherwise put the current directory (this checkout) first on sys.path.
    checkout = {"PYTHONPATH": tree, "PYTHONSAFEPATH": "1"} if tree is not None else {}
    with run_process(argv, timeout=timeout, env={**checkout, **(env or {})}) as p:
        yield p


def message_body(tokens: int, stream: bool, cached_system_words: int = 0) -> dict[str, Any]:
    """A minimal Messages request; with `cached_system_words`, a system prompt that long behind a
    prompt-cache breakpoint (every request after the first reads it from the mock's cache)."""
    body: dict[str, Any] = {
        "model": MODEL, "max_tokens": tokens, "stream": stream, "messages": [{"role": "user", "content": "x"}]
    }  # fmt: skip
    if cached_system_words:
        text = " ".join(f"rule{i % 97}" for i in range(cached_system_words))
        body["system"] = [{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}]
    return body


def closed_loop(proc: Proc, body: dict[str, Any], conns: int, seconds: float, client_procs: int = 1) -> dict[str, Any]:
    """`conns` slots send `body` back to back for `seconds`; rates per second and per server CPU-second."""
    with CpuMeter(proc.popen.pid) as cpu:
        records, client_cpu, _ = run_clients(proc.url, body, conns, procs=client_procs, ramp_s=0.2, loop_s=seconds)
    ok = [r for r in records if r["complete"] and r["status"] == 200]
    deltas = sum(r["deltas"] for r in ok)
    return {
        "requests": len(records),
        "ok": len(ok),
        "bad": len(records) - len(ok),
        "requests_per_s": len(ok) / cpu.wall_s,
        "requests_per_cpu_s": len(ok) / cpu.seconds if cpu.seconds else 0.0,
        "deltas_per_s": deltas / cpu.wall_s,
        "deltas_per_cpu_s": deltas / cpu.seconds if cpu.seconds else 0.0,
        "server_cpu": cpu.mean,
        "client_cpu": client_cpu / cpu.wall_s,
    }


def run_main(main: Callable[[], int | None]) -> NoReturn:
    """Run a benchmark's main and exit with its code; SIGTERM exits through its `with` blocks too.

    The servers a benchmark starts live in their own sessions (so they can be stopped as groups);
    without this, a SIGTERM (a CI timeout, a smoke test stopping early) would kill the benchmark
    and leave them running.
    """
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    sys.exit(main())
