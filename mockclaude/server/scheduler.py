"""One timer for every open stream of an event loop: due SSE frames go straight to the transports.

A stream per `asyncio.sleep` costs a future, a timer and a task step per frame; at thousands of
streams that overhead, not the bytes, decides when frames go out. Here heaps hold each stream's
next deadline and one timer handle wakes at the earliest; each wake-up writes every frame due within
COALESCE_S for every due stream, each stream's frames in one write (HTTP/1.1 chunk framing done
here, because the bytes bypass aiohttp's writer after the headers).

Timing contract (pacing.py): a frame's deadline is `start + frame.t` on the loop's monotonic clock;
how late each write went out is reported to Stats.frame_sent, so overload is visible, never silent.
Under overload a stream's head (its frames up to the first content delta, which decide the client's
TTFT) goes out before later frames of older streams: those are late by a few ms more and catch up,
since deadlines are absolute, while a late head would be a TTFT error for good.
A client that stops reading is never waited for: while its transport holds more than
MAX_BUFFERED_BYTES its frames wait (and count as late) and every other stream carries on.
asyncio checks its timers only between batches of ready callbacks, and a burst of requests is one
long batch of handlers (each under a millisecond, a thousand of them back to back): so `send`
also runs the due writes itself when the timer is overdue, and frames due during a burst go out
on time instead of after it.
"""

import asyncio
import heapq
import itertools
import weakref

from mockclaude.server.stats import Stats
from mockclaude.synth.pacing import Frames

# Frames due within this window are written together: fewer syscalls, same timing to the eye.
COALESCE_S = 0.002
# A stream whose client leaves this much unread in the socket buffers waits; it is retried every
# SLOW_RETRY_S. 256 KiB is minutes of SSE at any realistic rate, so only stalled readers hit it.
MAX_BUFFERED_BYTES = 256 * 1024
SLOW_RETRY_S = 0.05
# One wake-up writes for at most this long before letting the loop serve new requests.
WAKE_BUDGET_S = 0.005
# Width of a timing-wheel slot: streams due within one slot are written in the same wake-up. A slot is
# taken once it ends within COALESCE_S, and the timer wakes at its start: so SLOT_S <= COALESCE_S.
SLOT_S = 0.001


class StreamDropped(Exception):
    """The stream ended with a `disconnect` fault frame: the connection was cut on purpose."""


class _Stream:
    """One stream's schedule: the frames built so far (offsets from `start`), how far it got, and
    the chunks of frames still to build (Frames.rest)."""

    __slots__ = (
        "data", "done", "end", "head", "i", "progress", "rest", "start", "stats", "times", "tokens", "transport",
    )  # fmt: skip

    def __init__(
        self,
        transport: asyncio.Transport,
        frames: Frames,
        start: float,
        stats: Stats,
        progress: "Progress",
        done: asyncio.Future[None],
    ) -> None:
        self.transport = transport
        self.rest = frames.rest
        self.take(frames)
        # Frames before this index are the head: they go first under overload.
        self.head = frames.delta.index(True) + 1 if True in frames.delta else 1
        self.start = start
        self.stats = stats
        self.progress = progress
        self.done = done

    def take(self, frames: Frames) -> None:
        """Send `frames` next (the first ones, or the next chunk once the ones before are out)."""
        # Tuples of atoms, unlike lists, drop out of the garbage collector's view after one pass:
        # thousands of live streams then add nothing to the full collections that stall the loop.
        self.times = tuple(frames.t)
        self.data = tuple(frames.data)
        self.tokens = tuple(frames.tokens)
        # The `disconnect` frame (no bytes: the line is cut there), or the end.
        self.end = frames.data.index(None) if None in frames.data else len(frames.data)
        self.i = 0

    def due(self) -> float:
        """When its next frame is due (loop time)."""
        return self.start + self.times[self.i]


class Progress:
    """Output tokens delivered so far by one response (the handler settles rate limits with it)."""

    tokens = 0


class FrameScheduler:
    """Writes due frames of all streams of one loop from a single timer.

    Streams past their head wait in a timing wheel of SLOT_S slots (a list per slot, and a heap
    of slot numbers only): a heap entry per stream cost a heappop per frame, ~9% of the mock's CPU
    at 2,000 streams. Heads wait in a small heap of their own and go first.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._heads: list[tuple[float, int, _Stream]] = []  # streams whose next frame is in their head
        self._seq = itertools.count()
        self._slots: dict[int, list[_Stream]] = {}  # slot number -> streams due in that slot
        self._slot_order: list[int] = []  # heap of the keys of _slots
        self._timer: asyncio.Handle | None = None
        self._timer_at = float("inf")
        # After a wake-up cut short by its budget, `send` leaves the writes to the loop until then.
        self._resume_at = 0.0

    def send(
        self, transport: asyncio.Transport, frames: Frames, start: float, stats: Stats, progress: Progress
    ) -> asyncio.Future[None]:
        """Schedule `frames` (deadlines relative to `start`) on `transport`, whose HTTP headers are sent.

        `frames` is copied into tuples: the caller should drop it. The future completes
        when the last frame is written; it fails with StreamDropped after a `disconnect` frame and
        with ConnectionResetError when the client went away. Cancel it to abandon the stream.
        """
        done: asyncio.Future[None] = self._loop.create_future()
        if not frames:
            done.set_result(None)
            return done
        stream = _Stream(transport, frames, start, stats, progress, done)
        due = stream.due()
        self._queue(stream, due)
        now = self._loop.time()
        if self._timer_at <= now and self._resume_at <= now:
            # Overdue: the loop is busy with a batch of handlers (a burst). Write what is due now.
            if self._timer is not None:
                self._timer.cancel()
            self._wake()
        elif due < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = due
            self._timer = self._loop.call_at(due, self._wake)
        return done

    def _queue(self, stream: _Stream, at: float) -> None:
        if stream.i < stream.head:
            heapq.heappush(self._heads, (at, next(self._seq), stream))
            return
        slot = int(at / SLOT_S)
        waiting = self._slots.get(slot)
        if waiting is None:
            self._slots[slot] = [stream]
            heapq.heappush(self._slot_order, slot)
        else:
            waiting.append(stream)

    def _wake(self) -> None:
        self._timer = None
        loop = self._loop
        now = loop.time()
        horizon = now + COALESCE_S
        give_up_at = now + WAKE_BUDGET_S
        heads, slots, order = self._heads, self._slots, self._slot_order
        # Slots up to this one end by the horizon: every stream in them has a frame due.
        last_slot = int(horizon / SLOT_S) - 1
        due = []
        while heads and heads[0][0] <= horizon:
            due.append(heapq.heappop(heads)[2])
        written = 0
        while True:
            for j, stream in enumerate(due):
                if stream.done.done():  # abandoned by its handler
                    continue
                retry_at = self._write_due(stream, now, horizon)
                if retry_at is not None:
                    self._queue(stream, retry_at)
                written += 1
                if written % 64 == 0 and loop.time() > give_up_at:
                    # Over capacity: let the loop accept and answer new requests before the rest goes
                    # out. Those frames leave late and say so (Stats.frame_sent), rather than new
                    # streams waiting unseen in the accept queue while old ones stay on time.
                    for rest in due[j + 1 :]:
                        self._queue(rest, rest.due())
                    self._timer_at = now
                    self._timer = loop.call_soon(self._wake)
                    # As long again for the handlers in the loop before `send` writes again.
                    self._resume_at = loop.time() + WAKE_BUDGET_S
                    return
            if not order or order[0] > last_slot:
                break
            due = slots.pop(heapq.heappop(order))
        nxt = min(heads[0][0] if heads else float("inf"), order[0] * SLOT_S if order else float("inf"))
        self._timer_at = nxt
        if nxt != float("inf"):
            self._timer = loop.call_at(nxt, self._wake)

    def _write_due(self, stream: _Stream, now: float, horizon: float) -> float | None:
        """Write the stream's frames due by `horizon`; when to come back, or None when it is finished."""
        transport = stream.transport
        if transport.is_closing():
            stream.done.set_exception(ConnectionResetError("client closed the connection"))
            return None
        start = stream.start
        if transport.get_write_buffer_size() > MAX_BUFFERED_BYTES:
            return now + SLOW_RETRY_S
        due_by = horizon - start
        out = b""  # what is due, from every chunk it spans: one write
        late = 0.0
        while True:
            times = stream.times
            first = i = stream.i
            end = stream.end
            while i < end and times[i] <= due_by:
                i += 1
            if i > first:
                data = stream.data
                if not out:
                    late = now - start - times[first]
                out += data[first] if i == first + 1 else b"".join(data[first:i])  # type: ignore[operator,arg-type]
                stream.progress.tokens = stream.tokens[i - 1]
                stream.i = i
            if i < len(times) or stream.rest is None:
                break
            more = next(stream.rest, None)
            if more is None:
                stream.rest = None
                break
            stream.take(more)  # the next chunk of its frames, built now that the ones before are out
            stream.head = 0  # its head went out with the first chunk
        if out:
            transport.write(b"%x\r\n%b\r\n" % (len(out), out))
            stream.stats.frame_sent(late)
        if i < end:
            return start + times[i]
        if i == len(times):
            stream.done.set_result(None)
            return None
        if times[i] <= due_by:
            # A `disconnect` fault: cut the line right after what was due before it.
            stream.progress.tokens = stream.tokens[i]
            transport.abort()
            stream.done.set_exception(StreamDropped())
            return None
        return start + times[i]


_schedulers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, FrameScheduler]" = weakref.WeakKeyDictionary()


def scheduler() -> FrameScheduler:
    """The running loop's scheduler (one per loop, created on first use)."""
    loop = asyncio.get_running_loop()
    found = _schedulers.get(loop)
    if found is None:
        found = _schedulers[loop] = FrameScheduler(loop)
    return found
