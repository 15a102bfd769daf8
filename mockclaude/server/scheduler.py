"""One timer for every open stream of an event loop: due SSE frames go straight to the transports.

A stream per `asyncio.sleep` costs a future, a timer and a task step per frame; at thousands of
streams that overhead, not the bytes, decides when frames go out. Here one heap holds each stream's
next deadline and one timer handle wakes at the earliest; each wake-up writes every frame due within
COALESCE_S for every due stream, each stream's frames in one write (HTTP/1.1 chunk framing done
here, because the bytes bypass aiohttp's writer after the headers).

Timing contract (pacing.py): a frame's deadline is `start + frame.t` on the loop's monotonic clock;
how late each write went out is reported to Stats.frame_sent, so overload is visible, never silent.
A client that stops reading is never waited for: while its transport holds more than
MAX_BUFFERED_BYTES its frames wait (and count as late) and every other stream carries on.
"""

import asyncio
import heapq
import itertools
import weakref
from collections.abc import Sequence

from mockclaude.pacing import Frame
from mockclaude.server.stats import Stats

# Frames due within this window are written together: fewer syscalls, same timing to the eye.
COALESCE_S = 0.002
# A stream whose client leaves this much unread in the socket buffers waits; it is retried every
# SLOW_RETRY_S. 256 KiB is minutes of SSE at any realistic rate, so only stalled readers hit it.
MAX_BUFFERED_BYTES = 256 * 1024
SLOW_RETRY_S = 0.05


class StreamDropped(Exception):
    """The stream ended with a `disconnect` fault frame: the connection was cut on purpose."""


class _Stream:
    __slots__ = ("done", "frames", "i", "progress", "start", "stats", "transport")

    def __init__(
        self,
        transport: asyncio.Transport,
        frames: Sequence[Frame],
        start: float,
        stats: Stats,
        progress: "Progress",
        done: asyncio.Future[None],
    ) -> None:
        self.transport = transport
        self.frames = frames
        self.i = 0
        self.start = start
        self.stats = stats
        self.progress = progress
        self.done = done

    def due(self) -> float:
        return self.start + self.frames[self.i].t


class Progress:
    """Output tokens delivered so far by one response (the handler settles rate limits with it)."""

    tokens = 0


class FrameScheduler:
    """Writes due frames of all streams of one loop from a single timer."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._heap: list[tuple[float, int, _Stream]] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")

    def send(
        self, transport: asyncio.Transport, frames: Sequence[Frame], start: float, stats: Stats, progress: Progress
    ) -> asyncio.Future[None]:
        """Schedule `frames` (deadlines relative to `start`) on `transport`, whose HTTP headers are sent.

        The future completes when the last frame is written; it fails with StreamDropped after a
        `disconnect` frame and with ConnectionResetError when the client went away. Cancel it to
        abandon the stream.
        """
        done: asyncio.Future[None] = self._loop.create_future()
        if not frames:
            done.set_result(None)
            return done
        self._push(_Stream(transport, frames, start, stats, progress, done))
        return done

    def _push(self, stream: _Stream, at: float | None = None) -> None:
        due = stream.due() if at is None else at
        heapq.heappush(self._heap, (due, next(self._seq), stream))
        if due < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = due
            self._timer = self._loop.call_at(due, self._wake)

    def _wake(self) -> None:
        self._timer = None
        self._timer_at = float("inf")
        heap = self._heap
        now = self._loop.time()
        horizon = now + COALESCE_S
        while heap and heap[0][0] <= horizon:
            _, _, stream = heapq.heappop(heap)
            if stream.done.done():  # abandoned by its handler
                continue
            retry_at = self._write_due(stream, now, horizon)
            if retry_at is not None:
                heapq.heappush(heap, (retry_at, next(self._seq), stream))
        if heap:
            self._timer_at = heap[0][0]
            self._timer = self._loop.call_at(self._timer_at, self._wake)

    def _write_due(self, stream: _Stream, now: float, horizon: float) -> float | None:
        """Write the stream's frames due by `horizon`; when to come back, or None when it is finished."""
        transport = stream.transport
        if transport.is_closing():
            stream.done.set_exception(ConnectionResetError("client closed the connection"))
            return None
        if transport.get_write_buffer_size() > MAX_BUFFERED_BYTES:
            return now + SLOW_RETRY_S
        frames = stream.frames
        start = stream.start
        first = stream.i
        i = first
        n = len(frames)
        while i < n and start + frames[i].t <= horizon and frames[i].data is not None:
            i += 1
        if i > first:
            chunk = b"".join([f.data for f in frames[first:i]])  # type: ignore[misc]
            transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
            stream.stats.frame_sent(max(0.0, now - (start + frames[first].t)))
            stream.progress.tokens = frames[i - 1].tokens_out
            stream.i = i
        if i < n and frames[i].data is None and start + frames[i].t <= horizon:
            # A `disconnect` fault: cut the line right after what was due before it.
            stream.progress.tokens = frames[i].tokens_out
            transport.abort()
            stream.done.set_exception(StreamDropped())
            return None
        if i == n:
            stream.done.set_result(None)
            return None
        return start + frames[i].t


_schedulers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, FrameScheduler]" = weakref.WeakKeyDictionary()


def scheduler() -> FrameScheduler:
    """The running loop's scheduler (one per loop, created on first use)."""
    loop = asyncio.get_running_loop()
    found = _schedulers.get(loop)
    if found is None:
        found = _schedulers[loop] = FrameScheduler(loop)
    return found
