"""Turns a planned response into timed SSE frames: TTFT, tokens/s, delta grouping.

Every frame carries an absolute offset from the request's start, computed from the token index
(token k is due at TTFT + k / tps), so the sender sleeps until each deadline on one monotonic clock
and per-token sleep error never accumulates.
"""

import functools
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from mockclaude.synth.content import PlannedBlock, ResponsePlan
from mockclaude.wire import messages as wm
from mockclaude.wire.sse import PING, encode_event

# message_start goes out when prefill is half done: clients see a first byte before the first
# token, as with the real API, so TTFB and TTFT differ (replay reports both).
TTFB_FRACTION = 0.5


@dataclass(frozen=True)
class Range:
    """A number or an inclusive range `LO-HI` drawn uniformly (a flag value such as `0.3-0.8`)."""

    lo: float
    hi: float

    @classmethod
    def parse(cls, text: str, *, name: str, minimum: float = 0.0) -> "Range":
        """Parse `X` or `LO-HI`; ValueError names the flag and the accepted forms."""
        lo_s, sep, hi_s = str(text).strip().partition("-")
        try:
            lo = float(lo_s)
            hi = float(hi_s) if sep else lo
        except ValueError:
            raise ValueError(f"{name} {text!r}: expected a number or a range LO-HI, e.g. 0.5 or 0.3-0.8") from None
        if lo < minimum or hi < lo:
            raise ValueError(f"{name} {text!r}: needs {minimum:g} <= LO <= HI")
        return cls(lo, hi)

    def draw(self, rng: random.Random) -> float:
        """A value from the range."""
        return self.lo if self.hi == self.lo else rng.uniform(self.lo, self.hi)

    def __str__(self) -> str:
        return f"{self.lo:g}" if self.lo == self.hi else f"{self.lo:g}-{self.hi:g}"


class Timing(NamedTuple):
    """The timing of one response."""

    # A NamedTuple, not a frozen dataclass: every request makes one (see wire.messages.InputUsage).

    ttft_s: float
    tps: float
    chunk_tokens: Range

    def token_time(self, k: int) -> float:
        """When output token k (0-based) is due, in seconds from the request's start."""
        return self.ttft_s + k / self.tps

    def total_s(self, output_tokens: int) -> float:
        """When the whole generation is done: the last token's due time."""
        return self.token_time(max(output_tokens - 1, 0))


@dataclass(frozen=True, slots=True)
class Frame:
    """Bytes due at `t` seconds after the request started; `data=None` means drop the connection."""

    t: float
    data: bytes | None
    delta: bool = False
    tokens_out: int = 0


class Frames:
    """One response's frames, compact: four parallel lists instead of one object per frame.

    Building and keeping hundreds of objects per stream was the mock's largest per-request cost
    (and made full garbage collections walk them all); the scheduler reads these lists as they are.
    Iterating or indexing gives `Frame` views. Frames built lazily (stream_frames) hold only the
    first frames; `rest` then yields the others, chunk by chunk, and the methods see only the first.
    """

    __slots__ = ("data", "delta", "rest", "t", "tokens")

    def __init__(self) -> None:
        self.t: list[float] = []
        self.data: list[bytes | None] = []
        self.tokens: list[int] = []  # output tokens delivered once this frame is out
        self.delta: list[bool] = []  # carries content (a content_block_delta)
        self.rest: Iterator[Frames] | None = None  # the frames after these, not built yet

    def add(self, t: float, data: bytes | None, tokens_out: int = 0, delta: bool = False) -> None:
        """Append a frame."""
        self.t.append(t)
        self.data.append(data)
        self.tokens.append(tokens_out)
        self.delta.append(delta)

    def __len__(self) -> int:
        return len(self.t)

    def __getitem__(self, i: int) -> Frame:
        return Frame(self.t[i], self.data[i], self.delta[i], self.tokens[i])

    def __iter__(self) -> Iterator[Frame]:
        return map(Frame, self.t, self.data, self.delta, self.tokens)

    def cut(self, fault: str | None, request_id: str | None) -> None:
        """End early with a fault, when the last frame went out: a dropped line ("disconnect"),
        nothing more ("truncate" and "stall": the sender ends or holds the stream) or an overloaded
        `error` event."""
        t, tokens_out = (self.t[-1], self.tokens[-1]) if self.t else (0.0, 0)
        if fault == "disconnect":
            self.add(t, None, tokens_out)
        elif fault in ("truncate", "stall"):
            return
        else:
            self.add(t, encode_event(wm.stream_error("overloaded_error", "Overloaded", request_id)), tokens_out)

    def first_delta_t(self, default: float) -> float:
        """When the first content delta is due (`default` when there is none)."""
        return next((t for t, d in zip(self.t, self.delta, strict=True) if d), default)

    def shifted(self, by_s: float) -> "Frames":
        """The same frames due `by_s` earlier (never before 0)."""
        out = Frames()
        out.t = [max(0.0, t - by_s) for t in self.t]
        out.data, out.tokens, out.delta = list(self.data), list(self.tokens), list(self.delta)
        return out


def _groups(n: int, chunk: Range, rng: random.Random, first_single: bool) -> list[int]:
    """Split n items into delta sizes; the first delta of a response carries one token."""
    if chunk.lo == chunk.hi:
        # A fixed size draws nothing from rng: the same sizes as the loop below, in one go.
        size = max(1, round(chunk.lo))
        head = [1] if first_single and n else []
        full, rest = divmod(n - len(head), size)
        return head + [size] * full + ([rest] if rest else [])
    sizes: list[int] = []
    left = n
    while left > 0:
        size = 1 if (first_single and not sizes) else max(1, round(chunk.draw(rng)))
        size = min(size, left)
        sizes.append(size)
        left -= size
    return sizes


def _block_sizes(
    block: PlannedBlock, chunk: Range, rng: random.Random, first: bool
) -> tuple[str, list[int], list[str]]:
    """The delta type of a block, the tokens each of its content deltas covers, and the pieces they
    are cut from (a text delta joins as many pieces as it has tokens, a tool-use delta is one piece)."""
    if block.kind == "tool_use":
        pieces = block.input_json_pieces
        # Spread the call's tokens over its JSON fragments (the first, often "", counts one).
        n = max(len(pieces), 1)
        base, extra = divmod(max(block.tokens, n), n)
        return "input_json_delta", [base + (1 if i < extra else 0) for i in range(len(pieces))], pieces
    kind = "thinking_delta" if block.kind == "thinking" else "text_delta"
    return kind, _groups(len(block.pieces), chunk, rng, first), block.pieces


# The field holding a delta's text, by delta type.
_DELTA_FIELD = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json"}
_SLOT = "\x00slot\x00"


@functools.lru_cache(maxsize=256)
def delta_template(index: int, kind: str) -> tuple[bytes, bytes]:
    """What comes before and after the JSON string of a delta's text in its SSE frame.

    Cut from encode_event's own output, so `prefix + orjson.dumps(text) + suffix` is the frame
    encode_event writes for that delta (JSON escapes each character on its own; tests compare the
    bytes) at a fraction of the cost of building and encoding two dicts per delta.
    """
    frame = encode_event(wm.block_delta(index, {"type": kind, _DELTA_FIELD[kind]: _SLOT}))
    prefix, suffix = frame.split(orjson.dumps(_SLOT))
    return prefix, suffix


def _empty_block(block: PlannedBlock) -> dict[str, Any]:
    if block.kind == "thinking":
        return {"type": "thinking", "thinking": "", "signature": ""}
    if block.kind == "tool_use":
        return {"type": "tool_use", "id": block.tool_id, "name": block.tool_name, "input": {}}
    return {"type": "text", "text": ""}


def stream_frames(
    plan: ResponsePlan,
    *,
    msg_id: str,
    model: str,
    input_tokens: int | wm.InputUsage,
    timing: Timing,
    rng: random.Random,
    fault: str | None = None,
    fault_after: int = 0,
    request_id: str | None = None,
    lazy: bool = False,
) -> Frames:
    """The whole SSE response as timed frames.

    With `fault` "midstream", "disconnect", "truncate" or "stall", the stream ends after
    `fault_after` content deltas with an overloaded `error` event, a dropped connection, or no more
    frames (see Frames.cut). With `lazy`, only the first frames are built (up to the first content
    delta and a few more) and `Frames.rest` builds the others as they are needed: what `rng` draws
    is drawn here either way, so the bytes never depend on when they are built.
    """
    blocks: list[_SizedBlock] = []
    k = deltas = 0  # output tokens and content deltas before each block
    for index, block in enumerate(plan.blocks):
        kind, sizes, pieces = _block_sizes(block, timing.chunk_tokens, rng, first=k == 0)
        # A cut can come before the block's first delta: then the block never opens.
        n = len(sizes) if not fault else min(len(sizes), max(fault_after - deltas, 0))
        k += sum(sizes[:n])
        deltas += n
        closing = b""
        if block.kind == "thinking":
            closing = encode_event(wm.block_delta(index, {"type": "signature_delta", "signature": block.signature}))
        opening = encode_event(wm.block_start(index, _empty_block(block)))
        # Tuples of atoms: a stream keeps these while it lives, and the garbage collector soon stops walking them.
        blocks.append(
            (index, kind, tuple(sizes), tuple(pieces), n, opening, closing + encode_event(wm.block_stop(index)))
        )
        if n < len(sizes):
            break
    ending = None if fault else (plan.stop_reason, plan.stop_sequence, plan.output_tokens)
    head = encode_event(wm.message_start(msg_id, model, input_tokens)) + PING
    built = _built(head, tuple(blocks), timing, input_tokens, ending, fault, request_id, FIRST_CHUNK if lazy else 0)
    frames = next(built)
    if lazy:
        frames.rest = built
    return frames


# One block as stream_frames plans it: index, delta type, tokens per delta, pieces, deltas sent
# (fewer when a fault cuts it), its content_block_start event, and the events that close it.
_SizedBlock = tuple[int, str, tuple[int, ...], tuple[str, ...], int, bytes, bytes]
# A lazy stream's first chunk holds this many frames (at least up to its first content delta), and
# each later chunk twice as many as the one before: the frames of an answer in a few steps, and a
# stream the scheduler admits costs only its first ones.
FIRST_CHUNK = 4


def _built(
    head: bytes,
    blocks: tuple[_SizedBlock, ...],
    timing: Timing,
    input_tokens: int | wm.InputUsage,
    ending: tuple[str, str | None, int] | None,
    fault: str | None,
    request_id: str | None,
    chunk: int,
) -> Iterator[Frames]:
    """The frames of stream_frames in chunks of `chunk` frames, then of twice as many, and so on
    (one chunk of all of them with `chunk` 0)."""
    frames = Frames()
    frames.add(timing.ttft_s * TTFB_FRACTION, head)
    size = chunk or float("inf")
    started = False  # the first chunk ends after a content delta: the scheduler's head is in it
    k = 0  # output tokens emitted so far
    for index, kind, sizes, pieces, n, opening, closing in blocks:
        d = a = 0  # deltas and pieces of the block built so far
        while d < n:
            if started and len(frames) >= size:
                # Not kept while suspended (nor are the helper's lists): a stream holds its frames
                # as the scheduler's tuples only, which the garbage collector stops walking.
                handed = [frames]
                del frames
                yield handed.pop()
                frames = Frames()
                size *= 2
            e = min(n, d + max(1, size - len(frames)))
            k, a = _add_deltas(frames, timing, index, kind, opening if d == 0 else b"", sizes[d:e], pieces, d, k, a)
            started = True
            d = e
        if n < len(sizes):
            frames.cut(fault, request_id)
            break
        t_end = timing.token_time(max(k - 1, 0))
        frames.add(max(t_end, frames.t[-1]), (b"" if n else opening) + closing, k)
    else:
        if ending is None:
            # Too few deltas to cut inside the content: strike before the message ends.
            frames.cut(fault, request_id)
        else:
            stop_reason, stop_sequence, output_tokens = ending
            end = encode_event(wm.message_delta(stop_reason, stop_sequence, input_tokens, output_tokens))
            frames.add(frames.t[-1], end + encode_event(wm.MESSAGE_STOP), output_tokens)
    handed = [frames]
    del frames
    yield handed.pop()


def _add_deltas(
    frames: Frames,
    timing: Timing,
    index: int,
    kind: str,
    opening: bytes,
    sizes: tuple[int, ...],
    pieces: tuple[str, ...],
    d: int,
    k: int,
    a: int,
) -> tuple[int, int]:
    """Append content deltas of block `index` of `sizes` tokens each (from its `d`-th delta, after `k`
    tokens in all and `a` of the block's pieces), the first after `opening`; the tokens and pieces then sent."""
    prefix, suffix = delta_template(index, kind)
    ks = list(itertools.accumulate(sizes, initial=k))[1:]
    # The same expression as Timing.token_time, so the same floats.
    ttft_s, tps = timing.ttft_s, timing.tps
    frames.t += [ttft_s + (x - 1) / tps for x in ks]
    if kind == "input_json_delta":  # a tool call's JSON: one piece per delta
        texts = pieces[d : d + len(sizes)]
    else:  # a text delta joins one piece per token
        cuts = list(itertools.accumulate(sizes, initial=a))
        texts = ["".join(pieces[x:y]) for x, y in itertools.pairwise(cuts)]
        a = cuts[-1]
    dumps = orjson.dumps
    datas = [prefix + dumps(text) + suffix for text in texts]
    datas[0] = opening + datas[0]
    frames.data += datas
    frames.tokens += ks
    frames.delta += [True] * len(ks)
    return ks[-1], a


@dataclass(slots=True)
class Answer:
    """What to send: SSE `frames`, or a JSON `body` due `at_s` after the request started."""

    ttft_s: float
    output_tokens: int
    frames: Frames | None = None
    body: bytes | None = None
    at_s: float = 0.0
    fault: str | None = None  # for JSON answers: a kind in faults.STREAM_CUTS

    def take_frames(self) -> Frames:
        """The frames, handed over to the scheduler: the answer stops holding them."""
        frames, self.frames = self.frames or Frames(), None
        return frames
