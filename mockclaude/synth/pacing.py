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
from typing import Any

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


@dataclass(frozen=True)
class Timing:
    """The timing of one response."""

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
    Iterating or indexing gives `Frame` views.
    """

    __slots__ = ("data", "delta", "t", "tokens")

    def __init__(self) -> None:
        self.t: list[float] = []
        self.data: list[bytes | None] = []
        self.tokens: list[int] = []  # output tokens delivered once this frame is out
        self.delta: list[bool] = []  # carries content (a content_block_delta)

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


def _block_deltas(
    block: PlannedBlock, chunk: Range, rng: random.Random, first: bool
) -> tuple[str, list[int], list[str]]:
    """The delta type of a block, and the tokens covered by and the text of each of its content deltas."""
    if block.kind == "tool_use":
        pieces = block.input_json_pieces
        # Spread the call's tokens over its JSON fragments (the first, often "", counts one).
        n = max(len(pieces), 1)
        base, extra = divmod(max(block.tokens, n), n)
        return "input_json_delta", [base + (1 if i < extra else 0) for i in range(len(pieces))], pieces
    sizes = _groups(len(block.pieces), chunk, rng, first)
    pieces = block.pieces
    texts = ["".join(pieces[a:b]) for a, b in itertools.pairwise(itertools.accumulate(sizes, initial=0))]
    return "thinking_delta" if block.kind == "thinking" else "text_delta", sizes, texts


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
) -> Frames:
    """The whole SSE response as timed frames.

    With `fault` "midstream", "disconnect", "truncate" or "stall", the stream ends after
    `fault_after` content deltas with an overloaded `error` event, a dropped connection, or no more
    frames (see Frames.cut).
    """
    frames = Frames()
    times, datas, counts, is_delta = frames.t, frames.data, frames.tokens, frames.delta
    frames.add(timing.ttft_s * TTFB_FRACTION, encode_event(wm.message_start(msg_id, model, input_tokens)) + PING)
    ttft_s, tps = timing.ttft_s, timing.tps
    dumps = orjson.dumps
    k = 0  # output tokens emitted so far
    deltas = 0
    for index, block in enumerate(plan.blocks):
        kind, sizes, texts = _block_deltas(block, timing.chunk_tokens, rng, first=k == 0)
        # A cut can come before the block's first delta: then the block never opens.
        n = len(texts) if not fault else min(len(texts), max(fault_after - deltas, 0))
        if n:
            prefix, suffix = delta_template(index, kind)
            ks = list(itertools.accumulate(sizes[:n], initial=k))[1:]
            k = ks[-1]
            # The same expression as Timing.token_time, so the same floats.
            times += [ttft_s + (x - 1) / tps for x in ks]
            first_data = len(datas)
            datas += [prefix + dumps(text) + suffix for text in texts[:n]]
            datas[first_data] = encode_event(wm.block_start(index, _empty_block(block))) + datas[first_data]  # type: ignore[operator]
            counts += ks
            is_delta += [True] * n
            deltas += n
        if n < len(texts):
            frames.cut(fault, request_id)
            return frames
        t_end = timing.token_time(max(k - 1, 0))
        tail = b""
        if not n:
            tail += encode_event(wm.block_start(index, _empty_block(block)))
        if block.kind == "thinking":
            tail += encode_event(wm.block_delta(index, {"type": "signature_delta", "signature": block.signature}))
        tail += encode_event(wm.block_stop(index))
        frames.add(max(t_end, times[-1]), tail, k)
    if fault:
        # Too few deltas to cut inside the content: strike before the message ends.
        frames.cut(fault, request_id)
        return frames
    end = encode_event(wm.message_delta(plan.stop_reason, plan.stop_sequence, input_tokens, plan.output_tokens))
    end += encode_event(wm.MESSAGE_STOP)
    frames.add(times[-1], end, plan.output_tokens)
    return frames


@dataclass
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
