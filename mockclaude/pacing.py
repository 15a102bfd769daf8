"""Turns a planned response into timed SSE frames: TTFT, tokens/s, delta grouping.

Every frame carries an absolute offset from the request's start, computed from the token index
(token k is due at TTFT + k / tps), so the sender sleeps until each deadline on one monotonic clock
and per-token sleep error never accumulates.
"""

import random
from dataclasses import dataclass
from typing import Any

from mockclaude.content import PlannedBlock, ResponsePlan
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


def _groups(n: int, chunk: Range, rng: random.Random, first_single: bool) -> list[int]:
    """Split n items into delta sizes; the first delta of a response carries one token."""
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
) -> list[tuple[int, dict[str, Any]]]:
    """(tokens covered, delta object) for each content delta of a block."""
    if block.kind == "tool_use":
        pieces = block.input_json_pieces
        # Spread the call's tokens over its JSON fragments (the first, often "", counts one).
        n = max(len(pieces), 1)
        base, extra = divmod(max(block.tokens, n), n)
        return [
            (base + (1 if i < extra else 0), {"type": "input_json_delta", "partial_json": p})
            for i, p in enumerate(pieces)
        ]
    kind = "thinking_delta" if block.kind == "thinking" else "text_delta"
    field = "thinking" if block.kind == "thinking" else "text"
    out = []
    i = 0
    for size in _groups(len(block.pieces), chunk, rng, first):
        out.append((size, {"type": kind, field: "".join(block.pieces[i : i + size])}))
        i += size
    return out


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
    input_tokens: int,
    timing: Timing,
    rng: random.Random,
    fault: str | None = None,
    fault_after: int = 0,
    request_id: str | None = None,
) -> list[Frame]:
    """The whole SSE response as timed frames.

    With `fault` "midstream" or "disconnect", the stream ends after `fault_after` content deltas
    with an overloaded `error` event or a dropped connection.
    """
    frames: list[Frame] = []
    t0 = timing.ttft_s * TTFB_FRACTION
    frames.append(Frame(t0, encode_event(wm.message_start(msg_id, model, input_tokens)) + PING))
    k = 0  # output tokens emitted so far
    deltas = 0
    for index, block in enumerate(plan.blocks):
        opened = False
        for covered, delta in _block_deltas(block, timing.chunk_tokens, rng, first=k == 0):
            if fault and deltas >= fault_after:
                return [*frames, _fault_frame(fault, frames[-1].t, k, request_id)]
            k += covered
            t = timing.token_time(k - 1)
            data = encode_event(wm.block_delta(index, delta))
            if not opened:
                data = encode_event(wm.block_start(index, _empty_block(block))) + data
                opened = True
            frames.append(Frame(t, data, delta=True, tokens_out=k))
            deltas += 1
        t_end = timing.token_time(max(k - 1, 0))
        tail = b""
        if not opened:
            tail += encode_event(wm.block_start(index, _empty_block(block)))
        if block.kind == "thinking":
            tail += encode_event(wm.block_delta(index, {"type": "signature_delta", "signature": block.signature}))
        tail += encode_event(wm.block_stop(index))
        frames.append(Frame(max(t_end, frames[-1].t), tail, tokens_out=k))
    if fault:
        # Too few deltas to cut inside the content: strike before the message ends.
        return [*frames, _fault_frame(fault, frames[-1].t, k, request_id)]
    end = encode_event(wm.message_delta(plan.stop_reason, plan.stop_sequence, input_tokens, plan.output_tokens))
    end += encode_event(wm.MESSAGE_STOP)
    frames.append(Frame(frames[-1].t, end, tokens_out=plan.output_tokens))
    return frames


def _fault_frame(fault: str, t: float, tokens_out: int, request_id: str | None) -> Frame:
    if fault == "disconnect":
        return Frame(t, None, tokens_out=tokens_out)
    body = wm.stream_error("overloaded_error", "Overloaded", request_id)
    return Frame(t, encode_event(body), tokens_out=tokens_out)
