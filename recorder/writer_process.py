"""The record builder and writer, in a child process: its CPU work never holds the proxy's GIL.

The addon hands each finished `Capture` over a multiprocessing queue; this process anonymizes it,
builds the record and appends it, one flushed line per exchange. It runs at a lower CPU priority
(a separate process can, without the priority inversion a low-priority thread holding the GIL
would cause), ignores Ctrl-C and SIGTERM (the proxy says when to stop, after the last exchange is
queued, so nothing queued is lost) and exits by itself if the proxy disappears.
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

from mockclaude.fixtures.format import FixtureWriter
from mockclaude.privacy.anonymize import Anonymizer
from mockclaude.privacy.pseudonyms import Pseudonymizer
from mockclaude.tokens import encoding
from recorder.capture import Capture, build_exchange

log = logging.getLogger("mockclaude.recorder")
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


def start(config: WriterConfig, timeout: float = 60.0) -> tuple[BaseProcess, "Queue[Capture | None]"]:
    """Start the writer process and wait until it can record; returns it and its queue.

    Waiting keeps its start-up (imports, tokenizer: about a second of CPU) away from the first
    proxied requests. Raises RuntimeError if it dies or does not get ready in `timeout` seconds.
    """
    # spawn, not fork: the proxy runs threads and an event loop that must not be copied.
    mp = multiprocessing.get_context("spawn")
    inbox: Queue[Capture | None] = mp.Queue()
    ready = mp.Event()
    proc = mp.Process(target=run, args=(config, inbox, ready), name="mockclaude-recorder-writer", daemon=True)
    proc.start()
    deadline = time.monotonic() + timeout
    while not ready.wait(0.05):
        if not proc.is_alive() or time.monotonic() > deadline:
            proc.terminate()
            raise RuntimeError(f"the fixture writer for {config.out} did not start (see the error above)")
    return proc, inbox


def run(config: WriterConfig, inbox: "Queue[Capture | None]", ready: Any) -> None:
    """The child's main loop: build and append one record per capture until STOP."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(10)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    anon = Anonymizer(config.mode, Pseudonymizer(config.key) if config.key else None)
    encoding()  # load the tokenizer before the first exchange arrives
    parent = os.getppid()
    seq, written, failed = config.first_seq, 0, 0
    with FixtureWriter(config.out, config.header, fsync=config.fsync) as writer:
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
                writer.write(build_exchange(cap, anon, seq=seq, session_start=config.session_start))
                seq += 1
                written += 1
            except Exception:
                failed += 1
                log.exception("mockclaude recorder: could not record %s %s", cap.method, cap.path)
    if written or failed:
        log.info("mockclaude recorder: %d exchanges written to %s, %d failed", written, config.out, failed)
