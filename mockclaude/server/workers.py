"""`serve --workers N`: N forked processes accept on one port (SO_REUSEPORT), one limit for all.

The parent reserves the port (binding it with SO_REUSEPORT, without listening, so port 0 becomes a
real port every worker can share), installs a shared rate-limit store, forks the workers and prints
the single `listening on` line once every worker listens. SIGTERM/SIGINT to the parent stop all;
if a worker dies, the parent stops the others and exits 1.

What is shared and what is per worker:
- rate limits: shared (one bucket per API key across workers; Redis with `--redis`);
- with --fixtures, which recording of a request comes next: shared (mockclaude.fixtures.turns);
- the organization id header: one for all workers;
- `--seed`: worker i uses seed + i·1000003, so workers never repeat each other's ids and text;
- admin API and /metrics: PER WORKER. A GET of /_mockclaude/stats or /metrics shows the worker that
  happened to accept that connection; a PATCH of /_mockclaude/config changes that worker only (a
  changed rate limit, like POST /_mockclaude/reset, refills the shared buckets for all). Use flags
  for settings that must hold everywhere.
"""

import argparse
import contextlib
import multiprocessing
import os
import queue
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import Any

from mockclaude.limits import ratelimit
from mockclaude.limits.ratelimit_shared import SharedMemoryBucketStore, SharedStores

SEED_STRIDE = 1_000_003
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) with SO_REUSEPORT and not listening: it fixes the port number."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(
    args: argparse.Namespace,
    index: int,
    port: int,
    org_id: str,
    ready: Any,
    serve_worker: Callable[[argparse.Namespace, int, str, Callable[[int], None]], None],
) -> None:
    # Back to default signal handling: the worker's loop installs its own SIGTERM/SIGINT handlers.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if args.seed is not None:
        args.seed += index * SEED_STRIDE
    serve_worker(args, port, org_id, lambda _bound: ready.put(index))


def run_workers(
    args: argparse.Namespace,
    serve_worker: Callable[[argparse.Namespace, int, str, Callable[[int], None]], None],
    announce: Callable[[int], None],
) -> int:
    """Fork `args.workers` processes running `serve_worker(args, port, org_id, on_ready)`; wait for a signal."""
    reserved = reserve_port(args.host, args.port)
    port = reserved.getsockname()[1]
    if not isinstance(ratelimit.default_store, SharedStores):  # --redis may have installed one
        ratelimit.default_store = SharedStores(SharedMemoryBucketStore())
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Queue()
    org_id = str(uuid.uuid4())
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    procs = [
        ctx.Process(target=_worker, args=(args, i, port, org_id, ready, serve_worker), name=f"mockclaude-worker-{i}")
        for i in range(args.workers)
    ]
    for p in procs:
        p.start()
    try:
        if not _all_ready(ready, procs, stop):
            return 0 if stop.is_set() else 1
        announce(port)
        while not stop.is_set():
            if wait([p.sentinel for p in procs], timeout=0.2):
                print("mockclaude serve: a worker exited; stopping the others", file=sys.stderr, flush=True)
                return 1
        return 0
    finally:
        _stop_all(procs)
        reserved.close()


def _all_ready(ready: Any, procs: list[Any], stop: threading.Event) -> bool:
    """Wait until every worker listens; False if one died or a signal came first."""
    seen: set[int] = set()
    deadline = time.monotonic() + READY_TIMEOUT_S
    while len(seen) < len(procs):
        if stop.is_set():
            return False
        if any(p.exitcode is not None for p in procs) or time.monotonic() > deadline:
            print("mockclaude serve: a worker failed to start", file=sys.stderr, flush=True)
            return False
        with contextlib.suppress(queue.Empty):
            seen.add(ready.get(timeout=0.1))
    return True


def _stop_all(procs: list[Any]) -> None:
    for p in procs:
        if p.is_alive() and p.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGTERM)
    for p in procs:
        p.join(STOP_TIMEOUT_S)
        if p.is_alive():
            p.kill()
            p.join(5)
