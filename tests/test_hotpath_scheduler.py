"""The frame scheduler under overload: a new stream's head goes out before later frames of older streams."""

import asyncio
import socket
import time

import pytest

from mockclaude.server import scheduler as sched_mod
from mockclaude.server.scheduler import FrameScheduler, Progress
from mockclaude.server.stats import Stats
from mockclaude.synth.pacing import Frames


def frames_of(n: int, gap: float) -> Frames:
    """n one-token deltas, `gap` seconds apart, the first at 0."""
    frames = Frames()
    for k in range(n):
        frames.add(k * gap, b"data: %d\n\n" % k, k + 1, delta=True)
    return frames


def readable(sock: socket.socket) -> bool:
    """Whether the peer already got bytes."""
    try:
        return bool(sock.recv(65536, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except BlockingIOError:
        return False


async def overloaded_wake() -> tuple[bool, int, Stats]:
    loop = asyncio.get_running_loop()
    sched = FrameScheduler(loop)
    stats = Stats()
    pairs = [socket.socketpair() for _ in range(301)]
    transports = [(await loop.create_connection(asyncio.Protocol, sock=ours))[0] for ours, _ in pairs]
    old, new = [theirs for _, theirs in pairs[:300]], pairs[300][1]
    start = loop.time()
    for transport in transports[:300]:
        sched.send(transport, frames_of(20, 0.1), start, stats, Progress())  # type: ignore[arg-type]
    while sched._heads:  # every old stream's head goes out; their next frames are due 0.1 s later
        sched._wake()
    for s in old:
        s.recv(65536)
    time.sleep(0.2)  # now those are overdue by ~0.1 s, more than the new stream's head below
    sched.send(transports[300], frames_of(20, 0.1), loop.time() - 0.05, stats, Progress())  # type: ignore[arg-type]
    sched._wake()  # one wake-up, cut short by the budget
    new_first = readable(new)
    old_written = sum(readable(s) for s in old)
    for pair in pairs:
        for s in pair:
            s.close()
    return new_first, old_written, stats


def test_a_new_streams_head_goes_first_under_overload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sched_mod, "WAKE_BUDGET_S", 0.0)  # every wake-up is over budget after 64 writes
    new_first, old_written, stats = asyncio.run(overloaded_wake())
    assert new_first, "the new stream's first delta waited behind older streams' later frames"
    assert 0 < old_written < 300, old_written  # the wake-up was cut short: the others wait, and say so
    assert stats.late_frames >= old_written and stats.max_lateness_s >= 0.05


async def admitted_in_one_batch() -> tuple[bool, bytes, bytes]:
    loop = asyncio.get_running_loop()
    sched = FrameScheduler(loop)
    stats = Stats()
    pairs = [socket.socketpair() for _ in range(2)]
    (early, _), (late, _) = [await loop.create_connection(asyncio.Protocol, sock=ours) for ours, _ in pairs]
    first = sched.send(early, frames_of(3, 0.02), loop.time() + 0.01, stats, Progress())  # type: ignore[arg-type]
    # A long batch of handlers: the loop does not get to its timers until the batch ends.
    time.sleep(0.02)
    second = sched.send(late, frames_of(3, 0.02), loop.time(), stats, Progress())  # type: ignore[arg-type]
    out_in_batch = readable(pairs[0][1])
    await asyncio.wait_for(asyncio.gather(first, second), 2)  # the timer still runs the rest, once each
    got = [theirs.recv(65536) for _, theirs in pairs]
    for pair in pairs:
        for s in pair:
            s.close()
    return out_in_batch, got[0], got[1]


def dechunked(raw: bytes) -> bytes:
    """The body of HTTP/1.1 chunks."""
    out = b""
    while raw:
        size, _, raw = raw.partition(b"\r\n")
        out, raw = out + raw[: int(size, 16)], raw[int(size, 16) + 2 :]
    return out


def test_a_due_frame_goes_out_during_a_long_batch_of_admissions() -> None:
    out_in_batch, early, late = asyncio.run(admitted_in_one_batch())
    assert out_in_batch, "the first stream's due frame waited for the batch of admissions to end"
    assert dechunked(early) == dechunked(late) == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
