"""The record builder and writer, in a child process: its CPU work never holds the proxy's GIL.

The addon hands each finished `Capture` over a multiprocessing queue; this process anonymizes it,
builds the record and appends it, one flushed line per exchange. It runs at a lower CPU priority
(a separate process can, without the priority inversion a low-priority thread holding the GIL
would cause), ignores Ctrl-C and SIGTERM (the proxy says when to stop, after the last exchange is
queued, so nothing queued is lost) and exits by itself if the proxy disappears. It counts every
capture it has handled in shared memory, so the proxy knows how many a dead writer lost.

A write that fails (a full disk, a file-size limit) loses that exchange, never the traffic: the
first failure is logged in one line, later ones are only counted, and one line says when writing
works again. The file is reopened before the next attempt, which starts it on a fresh line.
"""

import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import sys
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from typing import Any

from mockclaude.fixtures.capture import Capture, build_exchange
from mockclaude.fixtures.format import FixtureWriter
from mockclaude.privacy.anonymize import Anonymizer
from mockclaude.privacy.pseudonyms import Pseudonymizer
from mockclaude.tokens import encoding

log = logging.getLogger("mockclaude.recorder")
PROGRESS_EVERY_S = 5.0
STOP = None


@dataclass(frozen=True)
class WriterConfig:
    """Everything the child needs; the header is already on disk when it starts."""

    out: str
    mode: str
    key: bytes | None
    header: dict[str, Any]
    fsync: bool
    session_start: float
    first_seq: int


@dataclass
class Writer:
    """A running writer process as the proxy sees it."""

    proc: BaseProcess
    inbox: "Queue[Capture | None]"
    handled: Any  # shared count of captures the child has written or given up on
    ready: Any  # kept: a spawned child that has not unpickled it yet needs it to exist


def start(config: WriterConfig, timeout: float | None = 60.0) -> Writer:
    """Start the writer process; with a `timeout`, wait until it can record.

    Waiting keeps its start-up (imports, tokenizer: about a second of CPU) away from the first
    proxied requests; a restart does not wait (captures queue up meanwhile). Raises RuntimeError
    if it dies or does not get ready in `timeout` seconds.
    """
    # spawn, not fork: the proxy runs threads and an event loop that must not be copied.
    mp = multiprocessing.get_context("spawn")
    inbox: Queue[Capture | None] = mp.Queue()
    ready = mp.Event()
    handled = mp.RawValue("q", 0)
    proc = mp.Process(target=run, args=(config, inbox, ready, handled), name="mockclaude-recorder-writer", daemon=True)
    proc.start()
    deadline = time.monotonic() + (timeout or 0.0)
    while timeout is not None and not ready.wait(0.05):
        if not proc.is_alive() or time.monotonic() > deadline:
            proc.terminate()
            raise RuntimeError(f"the fixture writer for {config.out} did not start (see the error above)")
    return Writer(proc, inbox, handled, ready)


class _Appender:
    """The fixture file, reopened after a failed write; counts what could not be written."""

    def __init__(self, config: WriterConfig) -> None:
        self._config = config
        self._file: FixtureWriter | None = None  # opened at the first record (the header is on disk)
        self.written = 0
        self.lost = 0
        self._failing = 0  # exchanges lost since writing last worked

    def append(self, exchange: dict[str, Any]) -> None:
        """Append one record, or count it lost (one log line when that starts, one when it ends)."""
        try:
            if self._file is None:
                self._file = FixtureWriter(self._config.out, self._config.header, fsync=self._config.fsync)
            self._file.write(exchange)
        except OSError as exc:
            self.lost += 1
            self._failing += 1
            self.close()
            if self._failing == 1:
                log.error(
                    "mockclaude recorder: could not record to %s: %s; exchanges pass through unrecorded and are "
                    "counted until writing works again",
                    self._config.out,
                    exc.strerror or exc,
                )
            return
        self.written += 1
        if self._failing:
            log.warning("mockclaude recorder: writing %s again, %d exchanges lost", self._config.out, self._failing)
            self._failing = 0

    def close(self) -> None:
        """Close the file (what a full disk refuses to flush is lost with it)."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None


def run(config: WriterConfig, inbox: "Queue[Capture | None]", ready: Any, handled: Any) -> None:
    """The child's main loop: build and append one record per capture until STOP."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(10)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    anon = Anonymizer(config.mode, Pseudonymizer(config.key) if config.key else None)
    encoding()  # load the tokenizer before the first exchange arrives
    parent = os.getppid()
    seq, failed = config.first_seq, 0
    appender = _Appender(config)
    shown_at = -PROGRESS_EVERY_S  # the first exchange is shown at once
    ready.set()
    while True:
        try:
            cap = inbox.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:  # the proxy died without saying STOP
                break
            continue
        if cap is STOP:
            break
        try:
            exchange = build_exchange(cap, anon, seq=seq, session_start=config.session_start)
        except Exception:
            failed += 1
            log.exception("mockclaude recorder: could not record %s %s", cap.method, cap.path)
        else:
            # A lost record keeps its seq: the numbers in the file then show the gap.
            seq += 1
            appender.append(exchange)
        handled.value += 1
        if time.monotonic() - shown_at >= PROGRESS_EVERY_S:  # a live count, at most one line per interval
            shown_at = time.monotonic()
            last = f"{cap.method} {cap.path}"
            log.info("mockclaude record: %s recorded so far (last: %s)", exchanges(appender.written), last)
    appender.close()
    if appender.written or failed or appender.lost:
        log.info(
            "mockclaude recorder: %s written to %s, %d failed, %d lost to write errors",
            exchanges(appender.written),
            config.out,
            failed,
            appender.lost,
        )


def exchanges(n: int) -> str:
    """`1 exchange`, `2 exchanges`."""
    return f"{n} exchange" + ("" if n == 1 else "s")
