"""`serve --workers N`: N forked processes accept on one port, one limit for all, supervised.

The parent opens the listening sockets, installs a shared rate-limit store, forks the workers and
prints the single `listening on` line once every worker listens. On Linux the parent opens one
listening socket per worker, all bound to the port with SO_REUSEPORT, and the kernel spreads new
connections evenly over them. One listening socket shared by all workers did not spread them: every
worker woke for a new connection and the first to run accepted all that were queued, so a pool of
keep-alive connections opened at once (an SDK's, Locust's users) often landed on one worker while
the others idled (measured: 50 connections all on one of two workers in 3 of 8 tries, 40+ in 2 more,
and half the requests/s). Elsewhere (no SO_REUSEPORT balancing) the workers share one socket.
Then the parent supervises them: a worker that dies (SIGKILL, the OOM killer, a crash) is forked
again, after a back-off that doubles while it keeps dying young, with one log line naming its exit
cause. SIGTERM/SIGINT to the parent stop all.

Why this survives a dead worker:
- the parent owns the listening sockets, so none closes: the connections the kernel queues on a dead
  worker's socket wait there, and the other workers accept on it until the replacement does
  (mockclaude.server.adoption), instead of being reset with a socket of the dead worker's own;
- everything shared lives in memory the parent created before forking (rate-limit buckets, the
  turn counters of --fixtures, the supervision board, any store added later): a restarted worker is
  forked from the same parent and so attaches to the very same memory, with no per-store code here;
- a worker killed while holding a shared lock would stop every other one: the parent frees every
  SharedLock the dead process held (mockclaude.shared_lock) before it restarts the worker;
- the responses in flight in the dead worker are lost (their clients see the connection close) and
  counted on the board (mockclaude.server.supervision), with the restarts, for /_mockclaude/stats
  and /metrics.

What is shared and what is per worker:
- rate limits: shared (one bucket per API key across workers; Redis with `--redis`);
- with --fixtures, which recording of a request comes next: shared (mockclaude.fixtures.turns);
- restarts and lost streams: shared (every worker shows the server's figures);
- prompt-cache entries: shared (shared memory made before the fork; Redis with `--redis`);
- the organization id header: one for all workers;
- `--seed`: each start of a worker gets seed + k·1000003 with its own k, so workers (first or
  restarted) never repeat each other's ids and text;
- admin API and other metrics: PER WORKER. A GET of /_mockclaude/stats or /metrics shows the worker that
  happened to accept that connection; a PATCH of /_mockclaude/config changes that worker only (a
  changed rate limit, like POST /_mockclaude/reset, refills the shared buckets for all). Use flags
  for settings that must hold everywhere.
"""

import argparse
import contextlib
import ctypes
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from mockclaude import shared_lock
from mockclaude.limits import ratelimit
from mockclaude.limits.ratelimit_shared import SharedMemoryBucketStore, SharedStores
from mockclaude.processes import RestartBackoff, exit_cause
from mockclaude.server import supervision

SEED_STRIDE = 1_000_003
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
BACKLOG = 4096
PR_SET_PDEATHSIG = 1  # linux/prctl.h

ServeWorker = Callable[[argparse.Namespace, "Listeners", str, Callable[[int], None]], None]


# Linux spreads the connections of a port over the listening sockets bound to it with SO_REUSEPORT;
# other systems let them share the port without spreading the load.
PER_WORKER_SOCKETS = sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


@dataclass
class Listeners:
    """A worker's listening sockets: its own, and the other workers', which it accepts on only
    while their worker is dead (mockclaude.server.adoption)."""

    own: socket.socket
    others: dict[int, socket.socket] = field(default_factory=dict)


def _listening(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if PER_WORKER_SOCKETS:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.setblocking(False)
    return sock


def listening_sockets(host: str, port: int, workers: int) -> list[socket.socket]:
    """The sockets the workers accept on, opened by the parent and held for the life of the server:
    one per worker on the same port (Linux), or one for all."""
    first = _listening(host, port)
    if not PER_WORKER_SOCKETS:
        return [first]
    bound = first.getsockname()[1]  # the port the system chose for port 0
    return [first, *(_listening(host, bound) for _ in range(workers - 1))]


def listeners(socks: list[socket.socket], index: int) -> Listeners:
    """What worker `index` accepts on."""
    if len(socks) == 1:
        return Listeners(socks[0])
    return Listeners(socks[index], {i: s for i, s in enumerate(socks) if i != index})


@dataclass
class _Slot:
    """One worker position: the process in it now, and its history of deaths."""

    index: int
    proc: Any = None  # multiprocessing Process while one runs
    started: float = 0.0
    restart_at: float = 0.0
    backoff: RestartBackoff = field(default_factory=RestartBackoff)


class _Supervisor:
    """Starts, watches and restarts the workers of one server."""

    def __init__(self, args: argparse.Namespace, socks: list[socket.socket], serve_worker: ServeWorker) -> None:
        self.args = args
        self.socks = socks
        self.serve_worker = serve_worker
        self.org_id = str(uuid.uuid4())
        self.ctx = multiprocessing.get_context("fork")
        self.slots = [_Slot(i) for i in range(args.workers)]
        self.starts = 0  # every start gets its own seed offset

    def start(self, slot: _Slot, ready: Connection | None) -> None:
        """Fork a worker into `slot`."""
        k, self.starts = self.starts, self.starts + 1
        slot.proc = self.ctx.Process(
            target=_worker,
            args=(self.args, slot.index, k, self.socks, self.org_id, ready, self.serve_worker, os.getpid()),
            name=f"mockclaude-worker-{slot.index}",
        )
        slot.proc.start()
        slot.started = time.monotonic()

    def watch(self, stop: threading.Event) -> None:
        """Restart workers as they die, until `stop` is set."""
        while not stop.is_set():
            now = time.monotonic()
            waiting = [s.restart_at - now for s in self.slots if s.proc is None]
            wait([s.proc.sentinel for s in self.slots if s.proc is not None], min([0.2, *waiting]))
            now = time.monotonic()
            for slot in self.slots:
                if slot.proc is not None and slot.proc.exitcode is not None:
                    self._died(slot, now)
                if slot.proc is None and now >= slot.restart_at and not stop.is_set():
                    self.start(slot, None)

    def _died(self, slot: _Slot, now: float) -> None:
        proc = slot.proc
        proc.join()
        slot.proc = None
        # The dead process may have held a shared lock: free it before anyone waits on it for long.
        shared_lock.recover_all(proc.pid)
        lost = supervision.board.worker_died(slot.index) if supervision.board is not None else 0
        delay = slot.backoff.after_death(now - slot.started)
        slot.restart_at = now + delay
        in_flight = f" with {lost} response{'s' if lost != 1 else ''} in flight (lost)" if lost else ""
        print(
            f"mockclaude serve: worker {slot.index} (pid {proc.pid}) {exit_cause(proc.exitcode)}{in_flight}; "
            f"restarting in {delay:g} s",
            file=sys.stderr,
            flush=True,
        )

    def stop_all(self) -> None:
        """SIGTERM every live worker, wait for them (SIGKILL after STOP_TIMEOUT_S)."""
        procs = [s.proc for s in self.slots if s.proc is not None]
        for p in procs:
            if p.is_alive() and p.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGTERM)
        for p in procs:
            p.join(STOP_TIMEOUT_S)
            if p.is_alive():
                p.kill()
                p.join(5)


def _worker(
    args: argparse.Namespace,
    index: int,
    start: int,
    socks: list[socket.socket],
    org_id: str,
    ready: Connection | None,
    serve_worker: ServeWorker,
    parent: int,
) -> None:
    # Back to default signal handling: the worker's loop installs its own SIGTERM/SIGINT handlers.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _stop_with_parent(parent)
    supervision.worker_index = index
    if args.seed is not None:
        args.seed += start * SEED_STRIDE
    serve_worker(args, listeners(socks, index), org_id, lambda _bound: ready.send(index) if ready is not None else None)


def _stop_with_parent(parent: int) -> None:
    """Linux: have this worker SIGTERMed when the parent dies, however it dies. A parent killed with
    SIGKILL (a CI job's timeout, the OOM killer) cannot stop its workers: they went on serving on the
    port, and the next server there was refused."""
    if sys.platform != "linux":
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the line above: nobody will signal
        os.kill(os.getpid(), signal.SIGTERM)


def run_workers(args: argparse.Namespace, serve_worker: ServeWorker, announce: Callable[[int], None]) -> int:
    """Fork `args.workers` processes running `serve_worker(args, listeners, org_id, on_ready)`; supervise
    them until a signal."""
    socks = listening_sockets(args.host, args.port, args.workers)
    port = socks[0].getsockname()[1]
    if not isinstance(ratelimit.default_store, SharedStores):  # --redis may have installed one
        ratelimit.default_store = SharedStores(SharedMemoryBucketStore())
    supervision.board = supervision.Board(args.workers)
    sup = _Supervisor(args, socks, serve_worker)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    readers = []
    for slot in sup.slots:
        reader, writer = sup.ctx.Pipe(duplex=False)
        sup.start(slot, writer)
        writer.close()  # the child has its copy; EOF on the reader then means the child is gone
        readers.append(reader)
    try:
        if not _all_ready(readers, sup.slots, stop):
            return 0 if stop.is_set() else 1
        announce(port)
        sup.watch(stop)
        return 0
    finally:
        # Stop accepting at once: the workers close their copies of the sockets as they stop.
        for sock in socks:
            sock.close()
        sup.stop_all()
        for reader in readers:
            reader.close()


def _all_ready(readers: list[Connection], slots: list[_Slot], stop: threading.Event) -> bool:
    """Wait until every worker listens; False if one died or a signal came first."""
    pending = list(readers)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while pending:
        if stop.is_set():
            return False
        if any(s.proc.exitcode is not None for s in slots) or time.monotonic() > deadline:
            print("mockclaude serve: a worker failed to start", file=sys.stderr, flush=True)
            return False
        for reader in wait(pending, timeout=0.1):
            try:
                reader.recv()  # type: ignore[union-attr]
            except EOFError:
                continue  # the worker is gone without listening: its exit code says so next round
            pending.remove(reader)  # type: ignore[arg-type]
    return True
