"""The writer process as the proxy keeps it: captures in, restarted if it dies, losses counted.

A writer that dies (killed, out of memory, a bug) takes the captures still in its queue with it;
they are counted from the writer's own tally of what it handled. It is restarted after a back-off
(mockclaude.processes.RestartBackoff) without waiting for it to get ready: captures queue up for
it meanwhile. Captures that arrive while no writer runs are counted too. Each death is one log
line; the total lost is reported once more when the proxy stops. Nothing here ever blocks or fails
the proxied exchange.
"""

import logging
import time

from mockclaude.fixtures.capture import Capture
from mockclaude.processes import RestartBackoff, exit_cause
from recorder.writer_process import STOP, Writer, WriterConfig, start

log = logging.getLogger("mockclaude.recorder")


class SupervisedWriter:
    """A writer process for one fixture file, kept running."""

    def __init__(self, config: WriterConfig) -> None:
        self._config = config
        self._backoff = RestartBackoff()
        self.lost = 0
        self._writer: Writer | None = None
        self._start(wait=True)

    def _start(self, *, wait: bool) -> None:
        self._writer = start(self._config, timeout=60.0 if wait else None)
        self._queued = 0
        self._started = time.monotonic()
        self._restart_at = 0.0

    def submit(self, cap: Capture) -> None:
        """Queue a capture for the writer, or count it lost if none is running."""
        if not self._running():
            self.lost += 1
            return
        assert self._writer is not None
        self._writer.inbox.put(cap)
        self._queued += 1

    def _running(self) -> bool:
        """Whether a writer runs now: notices a death (one log line) and restarts when it is time."""
        if self._writer is not None and self._writer.proc.is_alive():
            return True
        now = time.monotonic()
        if self._writer is not None:
            self._reap(now)
        if now < self._restart_at:
            return False
        try:
            self._start(wait=False)
        except Exception:
            log.exception("mockclaude recorder: could not restart the writer process")
            self._restart_at = now + self._backoff.after_death(0.0)
            return False
        return True

    def _reap(self, now: float) -> None:
        """Count and log the death of the writer; set the time of its restart."""
        writer, self._writer = self._writer, None
        assert writer is not None
        writer.proc.join(1)
        code = writer.proc.exitcode
        lost = max(0, self._queued - writer.handled.value)
        self.lost += lost
        delay = self._backoff.after_death(now - self._started)
        self._restart_at = now + delay
        log.error(
            "mockclaude recorder: the writer process (pid %s) %s with %d exchanges queued (lost); "
            "exchanges pass through unrecorded until it is restarted in %g s",
            writer.proc.pid,
            exit_cause(code) if code is not None else "stopped",
            lost,
            delay,
        )

    def stop(self) -> None:
        """Let the writer finish every queued exchange, stop it, and report what was lost."""
        if self._writer is not None and not self._writer.proc.is_alive():
            self._reap(time.monotonic())
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.inbox.put(STOP)
            writer.proc.join(timeout=60)
            if writer.proc.is_alive():
                log.error("mockclaude recorder: the writer did not finish in 60 s; stopping it")
                writer.proc.terminate()
        if self.lost:
            log.warning(
                "mockclaude recorder: %d exchanges passed through unrecorded because the writer process died",
                self.lost,
            )
