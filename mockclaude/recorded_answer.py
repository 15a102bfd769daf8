"""Turns one recorded exchange into what the server sends: the recorded content, on the recorded clock.

A streamed recording answering a streamed request is re-sent event by event at `t_ms x scale`
(fresh msg_/toolu_ ids, everything else as recorded). A non-streamed recording answering a
non-streamed request is sent after the recorded total time. Across the two forms the answer is
converted: events are accumulated into a Message, or a Message is split into events and paced by
`mockclaude.pacing`. Shape fixtures get text regenerated at the recorded token lengths, and tool
inputs regenerated from the request's input_schema when their JSON was not kept.
"""

import dataclasses
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mockclaude.content import PlannedBlock, ResponsePlan
from mockclaude.fixtures import SHAPE_KEY, Exchange, expand_shape, is_placeholder
from mockclaude.pacing import Frames, Timing, stream_frames
from mockclaude.profile_fit import fault_kind
from mockclaude.schema_instance import instance_from_schema
from mockclaude.sensitive import DELTA_TEXT_FIELDS
from mockclaude.server.common import dumps
from mockclaude.server.sender import Answer
from mockclaude.tokens import count_text, encoding
from mockclaude.wire import ids
from mockclaude.wire.errors import ApiError
from mockclaude.wire.messages import message_from_events
from mockclaude.wire.sse import encode_event

TokensOf = Callable[[int], list[str]]  # n single-token strings of running text
# Recorded response headers worth repeating on a recorded error (the rest is per-request).
_ERROR_HEADERS = ("retry-after",)


@dataclass(frozen=True)
class RecordedFailure:
    """A recorded exchange without a 200: its status (None: no response at all) after `after_s`."""

    status: int | None
    error: ApiError
    after_s: float


def failure(ex: Exchange, scale: float) -> RecordedFailure | None:
    """The recorded error of an exchange, or None when it answered 200."""
    resp = ex["response"]
    status = resp.get("status")
    if status == 200:
        return None
    after = _total_s(ex) * scale
    if status is None:
        return RecordedFailure(None, ApiError(529, "Overloaded"), after)
    body = resp.get("body")
    err = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), dict) else {}
    headers = {k: v for k, v in (resp.get("headers") or {}).items() if k.lower() in _ERROR_HEADERS}
    message = err.get("message")
    api_error = ApiError(
        int(status),
        message if isinstance(message, str) else None,
        error_type=err.get("type") if isinstance(err.get("type"), str) else None,
        headers=headers,
    )
    return RecordedFailure(int(status), api_error, after)


def _total_s(ex: Exchange) -> float:
    timing = ex.get("timing") or {}
    total = timing.get("total_ms")
    if not isinstance(total, int | float):
        events = ex["response"].get("events") or []
        total = events[-1]["t_ms"] if events else 0.0
    return max(0.0, float(total)) / 1000


@dataclass
class Rendering:
    """What a recorded answer needs from the server at serve time."""

    request_body: dict[str, Any]
    request_id: str
    rng: random.Random
    tokens_of: TokensOf
    scale: float
    # Used only to pace a non-streamed recording sent as a stream: TTFT and delta sizes.
    fallback_timing: Timing
    fault: str | None = None  # "midstream" or "disconnect" forced on top of the recording
    fault_after: int = 1

    def text_of_tokens(self, n: int) -> str:
        """Text of about n tokens, for one shape placeholder."""
        return "".join(self.tokens_of(n))


def answer(ex: Exchange, shape: bool, r: Rendering) -> Answer:
    """The Answer for a successful recorded exchange, in the form (stream or JSON) the request asks."""
    resp = ex["response"]
    events = resp.get("events")
    streamed = bool(r.request_body.get("stream"))
    if events is not None:
        events = _expanded_events(events, shape, r)
        if streamed:
            return _shifted(_stream_answer(ex, events, r), headers_delay(ex, r.scale))
        msg = message_from_events(events)
        # A stream that broke (error event, cut connection) fails the JSON request the same way.
        broken = fault_kind(ex)
        if broken in ("midstream", "disconnect") and not r.fault:
            r = dataclasses.replace(r, fault=broken)
        return _json_answer(msg, _total_s(ex) * r.scale, r)
    body = resp.get("body")
    if not isinstance(body, dict):
        raise ValueError("recorded 200 response has neither events nor a JSON body")
    msg = expand_shape(body, r.text_of_tokens) if shape else body
    if streamed:
        return _paced_answer(msg, _total_s(ex) * r.scale, r)
    return _json_answer(msg, _total_s(ex) * r.scale, r)


# -- recorded events ------------------------------------------------------------------------
def _expanded_events(events: list[dict[str, Any]], shape: bool, r: Rendering) -> list[dict[str, Any]]:
    """Events with fresh ids and, for shape fixtures, regenerated text and tool inputs."""
    tool_ids: dict[str, str] = {}
    out = [
        {**ev, "data": _fresh_ids(ev["data"], tool_ids, r)} if isinstance(ev.get("data"), dict) else ev for ev in events
    ]
    if not shape:
        return out
    streamed = _placeholder_groups(out)
    for (index, field), positions in streamed.items():
        if field == "partial_json":
            _regenerate_tool_json(out, index, positions, r)
        else:
            _regenerate_text(out, field, positions, r)
    grouped = {i for positions in streamed.values() for i in positions}
    return [
        ev if i in grouped else {**ev, "data": expand_shape(ev.get("data"), r.text_of_tokens)}
        for i, ev in enumerate(out)
    ]


def _placeholder_groups(events: list[dict[str, Any]]) -> dict[tuple[Any, str], list[int]]:
    """Positions of the placeholder deltas of each block, keyed by (block index, delta field)."""
    groups: dict[tuple[Any, str], list[int]] = {}
    for i, ev in enumerate(events):
        data = ev.get("data")
        delta = data.get("delta") if isinstance(data, dict) and data.get("type") == "content_block_delta" else None
        field = DELTA_TEXT_FIELDS.get(delta.get("type")) if isinstance(delta, dict) else None
        if field and is_placeholder(delta.get(field)):
            groups.setdefault((data.get("index"), field), []).append(i)
    return groups


def _regenerate_text(events: list[dict[str, Any]], field: str, positions: list[int], r: Rendering) -> None:
    """One running text for a block, cut into its deltas at the recorded token counts."""
    counts = [int(events[i]["data"]["delta"][field][SHAPE_KEY]) for i in positions]
    pieces = r.tokens_of(sum(counts))
    start = 0
    for pos, n in zip(positions, counts, strict=True):
        _set_delta(events, pos, field, "".join(pieces[start : start + n]))
        start += n


def _set_delta(events: list[dict[str, Any]], pos: int, field: str, value: str) -> None:
    data = events[pos]["data"]
    events[pos] = {**events[pos], "data": {**data, "delta": {**data["delta"], field: value}}}


def _fresh_ids(data: dict[str, Any], tool_ids: dict[str, str], r: Rendering) -> dict[str, Any]:
    kind = data.get("type")
    if kind == "message_start" and isinstance(data.get("message"), dict):
        return {**data, "message": {**data["message"], "id": ids.message_id(r.rng)}}
    if kind == "content_block_start" and isinstance(data.get("content_block"), dict):
        block = data["content_block"]
        old = block.get("id")
        if isinstance(old, str) and old.startswith("toolu_"):
            new = tool_ids.setdefault(old, ids.tool_use_id(r.rng))
            return {**data, "content_block": {**block, "id": new}}
    if kind == "error" and "request_id" in data:
        return {**data, "request_id": r.request_id}
    return data


def _regenerate_tool_json(events: list[dict[str, Any]], index: Any, positions: list[int], r: Rendering) -> None:
    """A shape fixture kept only the size of a tool call's JSON: make a valid input, split alike."""
    name = next(
        (
            e["data"]["content_block"].get("name")
            for e in events
            if isinstance(e.get("data"), dict)
            and e["data"].get("type") == "content_block_start"
            and e["data"].get("index") == index
        ),
        None,
    )
    tools = [t for t in r.request_body.get("tools") or [] if isinstance(t, dict)]
    schema = next((t.get("input_schema") for t in tools if t.get("name") == name), None)
    value = instance_from_schema(schema, r.rng) if isinstance(schema, dict) else {}
    text = json.dumps(value if isinstance(value, dict) else {})
    n = len(positions)
    cuts = [round(i * len(text) / n) for i in range(n + 1)]
    for i, pos in enumerate(positions):
        _set_delta(events, pos, "partial_json", text[cuts[i] : cuts[i + 1]])


def _encode(name: str | None, data: Any) -> bytes:
    """One SSE frame as recorded: the API's framing for objects, verbatim data otherwise."""
    if isinstance(data, dict) and data.get("type") == name:
        return encode_event(data)
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    head = f"event: {name}\n" if name else ""
    return (head + "".join(f"data: {line}\n" for line in str(payload).split("\n")) + "\n").encode()


def _stream_answer(ex: Exchange, events: list[dict[str, Any]], r: Rendering) -> Answer:
    total_out = _output_tokens(ex, events)
    n_deltas = sum(1 for e in events if e.get("event") == "content_block_delta")
    frames = Frames()
    seen = 0
    for ev in events:
        is_delta = ev.get("event") == "content_block_delta"
        if r.fault and is_delta and seen >= r.fault_after:
            return _cut(frames, r, total_out)
        seen += is_delta
        # Output tokens are only reported at the end; spread them over the deltas for settling.
        out = round(total_out * seen / n_deltas) if n_deltas else 0
        if ev.get("event") == "message_delta":
            out = total_out
        frames.add(float(ev["t_ms"]) / 1000 * r.scale, _encode(ev.get("event"), ev["data"]), out, is_delta)
    if r.fault:
        return _cut(frames, r, total_out)
    if (ex["response"].get("error") or {}).get("kind") in ("disconnect", "upstream"):
        # The recorded stream broke off: so does this one.
        frames.add(_total_s(ex) * r.scale, None, frames.tokens[-1] if frames else 0)
    first = frames.first_delta_t(frames.t[-1] if frames else 0.0)
    return Answer(ttft_s=first, frames=frames, output_tokens=total_out)


def headers_delay(ex: Exchange, scale: float) -> float:
    """How long after the request a replayed stream sends its headers: when the recording got them.

    The server waits this long before starting the response, and `answer` moves the frames
    earlier by as much, so every event still goes out at its recorded offset.
    """
    events = ex["response"].get("events") or []
    ttfb = (ex.get("timing") or {}).get("ttfb_ms")
    if not events or not isinstance(ttfb, int | float):
        return 0.0
    return max(0.0, min(float(ttfb), float(events[0]["t_ms"]))) / 1000 * scale


def _shifted(a: Answer, by_s: float) -> Answer:
    """`a` with its frames due `by_s` earlier (they are sent from a start that much later)."""
    if not by_s or a.frames is None:
        return a
    return dataclasses.replace(a, frames=a.frames.shifted(by_s))


def _cut(frames: Frames, r: Rendering, total_out: int) -> Answer:
    """End a recorded stream early with a forced fault (an `error` event, or a dropped line)."""
    first = frames.first_delta_t(frames.t[-1] if frames else 0.0)
    frames.cut(r.fault, r.request_id)
    return Answer(ttft_s=first, frames=frames, output_tokens=total_out)


def _output_tokens(ex: Exchange, events: list[dict[str, Any]]) -> int:
    usage = ex.get("usage") or {}
    if isinstance(usage.get("output_tokens"), int):
        return usage["output_tokens"]
    return int((message_from_events(events).get("usage") or {}).get("output_tokens") or 0)


# -- recorded messages ----------------------------------------------------------------------
def _json_answer(msg: dict[str, Any], at_s: float, r: Rendering) -> Answer:
    msg = {**msg, "id": ids.message_id(r.rng), "content": _fresh_tool_ids(msg.get("content") or [], r)}
    out = int((msg.get("usage") or {}).get("output_tokens") or 0)
    return Answer(ttft_s=at_s, body=dumps(msg), at_s=at_s, output_tokens=out, fault=r.fault)


def _fresh_tool_ids(content: list[Any], r: Rendering) -> list[Any]:
    return [
        {**b, "id": ids.tool_use_id(r.rng)} if isinstance(b, dict) and b.get("type") == "tool_use" else b
        for b in content
    ]


def token_pieces(text: str) -> list[str]:
    """`text` as single-token strings (a character split across tokens stays whole)."""
    enc = encoding()
    out: list[str] = []
    pending = b""
    for token in enc.encode(text, disallowed_special=()):
        pending += enc.decode_single_token_bytes(token)
        try:
            out.append(pending.decode())
            pending = b""
        except UnicodeDecodeError:
            continue
    if pending:
        out.append(pending.decode(errors="replace"))
    return out


def plan_of_message(msg: dict[str, Any], rng: random.Random) -> ResponsePlan:
    """A recorded Message as a response plan, so pacing.py can stream it."""
    blocks: list[PlannedBlock] = []
    for b in msg.get("content") or []:
        if not isinstance(b, dict):
            continue
        if b.get("type") == "text":
            pieces = token_pieces(str(b.get("text", "")))
            blocks.append(PlannedBlock("text", pieces, tokens=len(pieces)))
        elif b.get("type") == "thinking":
            pieces = token_pieces(str(b.get("thinking", "")))
            blocks.append(PlannedBlock("thinking", pieces, signature=str(b.get("signature", "")), tokens=len(pieces)))
        elif b.get("type") == "tool_use":
            text = json.dumps(b.get("input") or {}, ensure_ascii=False)
            blocks.append(
                PlannedBlock(
                    "tool_use",
                    tool_id=ids.tool_use_id(rng),
                    tool_name=str(b.get("name", "")),
                    tool_input=b.get("input") or {},
                    input_json_pieces=["", *(text[i : i + 8] for i in range(0, len(text), 8))],
                    tokens=count_text(str(b.get("name", "")) + text),
                )
            )
    usage = msg.get("usage") or {}
    out = usage.get("output_tokens") if isinstance(usage.get("output_tokens"), int) else sum(b.tokens for b in blocks)
    return ResponsePlan(blocks, msg.get("stop_reason") or "end_turn", msg.get("stop_sequence"), out)


def _paced_answer(msg: dict[str, Any], total_s: float, r: Rendering) -> Answer:
    """A non-streamed recording sent as a stream: the recorded total time, split by pacing.py."""
    plan = plan_of_message(msg, r.rng)
    usage = msg.get("usage") or {}
    # Only the total was recorded: keep it, with the usual TTFT share when it fits.
    ttft = min(r.fallback_timing.ttft_s, total_s)
    tps = max(plan.output_tokens - 1, 1) / (total_s - ttft) if total_s > ttft else r.fallback_timing.tps
    timing = Timing(ttft_s=ttft, tps=tps, chunk_tokens=r.fallback_timing.chunk_tokens)
    frames = stream_frames(
        plan,
        msg_id=ids.message_id(r.rng),
        model=str(msg.get("model", r.request_body.get("model", ""))),
        input_tokens=int(usage.get("input_tokens") or 0),
        timing=timing,
        rng=r.rng,
        fault=r.fault,
        fault_after=r.fault_after,
        request_id=r.request_id,
    )
    return Answer(ttft_s=timing.ttft_s, frames=frames, output_tokens=plan.output_tokens)
