"""The frame scheduler under overload: a new stream's head goes out before later frames of older streams."""

import asyncio
import contextlib
import random
import socket
import time

import pytest

from mockclaude.server import scheduler as sched_mod
from mockclaude.server.scheduler import FrameScheduler, Progress
from mockclaude.server.stats import Stats
from mockclaude.synth.content import ContentSettings, OutputLength, TokenSource, plan_response
from mockclaude.synth.pacing import Frames, Range, Timing, stream_frames


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


async def sent_at_once(frames: Frames) -> tuple[bytes, BaseException | None]:
    """What the scheduler writes for `frames`, all due already, and how the stream ended."""
    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair()
    transport, _ = await loop.create_connection(asyncio.Protocol, sock=ours)
    done = FrameScheduler(loop).send(transport, frames, loop.time() - 60, Stats(), Progress())  # type: ignore[arg-type]
    await asyncio.wait([done], timeout=5)
    theirs.setblocking(False)
    raw = b""
    with contextlib.suppress(BlockingIOError):
        while chunk := theirs.recv(1 << 20):
            raw += chunk
    theirs.close()
    transport.close()
    return raw, done.exception()


@pytest.mark.parametrize("fault", [None, "disconnect", "midstream"])
def test_lazily_built_frames_go_out_as_the_eager_ones(fault: str | None) -> None:
    source = TokenSource(7)
    sent = []
    for lazy in (False, True):
        rng = random.Random(3)
        body = {"model": "m", "max_tokens": 400, "stream": True, "messages": [{"role": "user", "content": "x"}]}
        plan = plan_response(body, 400, ContentSettings(OutputLength.parse("300")), source, rng)
        frames = stream_frames(
            plan, msg_id="msg_1", model="m", input_tokens=1, timing=Timing(0.5, 40.0, Range.parse("2", name="c")),
            rng=rng, fault=fault, fault_after=100, lazy=lazy,
        )  # fmt: skip
        assert (frames.rest is not None) == lazy
        eager_bytes = b"".join(d for d in frames.data if d is not None) if not lazy else None
        raw, error = asyncio.run(sent_at_once(frames))
        sent.append((raw.count(b"\r\n") // 2, dechunked(raw), type(error)))
        if eager_bytes is not None and fault != "disconnect":
            assert dechunked(raw) == eager_bytes
    assert sent[0] == sent[1]
    assert sent[1][0] == 1  # everything due went out in one write, across the chunks it was built in
