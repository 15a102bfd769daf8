"""Response objects of the Messages API: the Message, its usage, and the streaming events."""

import json
from typing import Any, NamedTuple

import orjson

SERVICE_TIER = "standard"


class InputUsage(NamedTuple):
    """The input side of `usage`: tokens neither read from nor written to the prompt cache, and
    the cache's reads and writes (by TTL). Their sum is the prompt's whole input."""

    # A NamedTuple, not a frozen dataclass: every request makes one, and a frozen dataclass's
    # __init__ (object.__setattr__ per field) cost 0.69 us against 0.31.

    input_tokens: int
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0

    @property
    def cache_write(self) -> int:
        """`cache_creation_input_tokens`: both TTLs together."""
        return self.cache_write_5m + self.cache_write_1h

    @property
    def prefilled(self) -> int:
        """Tokens the model had to process (everything but the cache reads)."""
        return self.input_tokens + self.cache_write

    @classmethod
    def of(cls, usage: dict[str, Any]) -> "InputUsage":
        """The input side of a recorded `usage` object (missing fields count as 0)."""

        def n(obj: dict[str, Any], name: str) -> int:
            # Replay reports and `fixtures stats` read usage from any server or file: a non-count is 0, not a crash.
            value = obj.get(name)
            return value if isinstance(value, int) and not isinstance(value, bool) else 0

        creation = usage.get("cache_creation")
        if isinstance(creation, dict):
            write_5m, write_1h = n(creation, "ephemeral_5m_input_tokens"), n(creation, "ephemeral_1h_input_tokens")
        else:  # older recordings carry only the total, and every write was a 5-minute one then
            write_5m, write_1h = n(usage, "cache_creation_input_tokens"), 0
        return cls(n(usage, "input_tokens"), n(usage, "cache_read_input_tokens"), write_5m, write_1h)


def input_usage(tokens: int | InputUsage) -> InputUsage:
    """`tokens` as an InputUsage (a plain count is all uncached)."""
    return tokens if isinstance(tokens, InputUsage) else InputUsage(tokens)


def dumps(obj: object) -> bytes:
    """Compact UTF-8 JSON, as the API sends it."""
    # orjson writes what json.dumps(separators=(",", ":"), ensure_ascii=False) writes, at a fraction
    # of the cost (the JSON path's body, as SSE frames already do); floats below 1e-4 come out in
    # plain notation (0.00001, the same number). It refuses integers beyond 64 bits, which a tool
    # input can hold: those bodies go through json.
    try:
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def usage(input_tokens: int | InputUsage, output_tokens: int) -> dict[str, Any]:
    """A full `usage` object as 2026 responses carry it."""
    used = input_usage(input_tokens)
    return {
        "input_tokens": used.input_tokens,
        "cache_creation_input_tokens": used.cache_write,
        "cache_read_input_tokens": used.cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": used.cache_write_5m,
            "ephemeral_1h_input_tokens": used.cache_write_1h,
        },
        "output_tokens": output_tokens,
        "service_tier": SERVICE_TIER,
        "inference_geo": "not_available",
    }


def message(
    *,
    msg_id: str,
    model: str,
    content: list[dict[str, Any]],
    stop_reason: str | None,
    stop_sequence: str | None,
    input_tokens: int | InputUsage,
    output_tokens: int,
) -> dict[str, Any]:
    """A complete Message object (the non-streaming response body)."""
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "stop_details": None,
        "container": None,
        "usage": usage(input_tokens, output_tokens),
    }


def message_start(msg_id: str, model: str, input_tokens: int | InputUsage) -> dict[str, Any]:
    """The `message_start` event: an empty message whose usage counts the first output token."""
    start = message(
        msg_id=msg_id,
        model=model,
        content=[],
        stop_reason=None,
        stop_sequence=None,
        input_tokens=input_tokens,
        output_tokens=1,
    )
    return {"type": "message_start", "message": start}


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    """`content_block_start` with the block's empty initial form."""
    return {"type": "content_block_start", "index": index, "content_block": block}


def block_delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    """`content_block_delta`."""
    return {"type": "content_block_delta", "index": index, "delta": delta}


def block_stop(index: int) -> dict[str, Any]:
    """`content_block_stop`."""
    return {"type": "content_block_stop", "index": index}


def message_delta(
    stop_reason: str | None, stop_sequence: str | None, input_tokens: int | InputUsage, output_tokens: int
) -> dict[str, Any]:
    """`message_delta` with cumulative usage (output_tokens is required by the SDKs).

    The input and cache totals repeat message_start's; the `cache_creation` breakdown is not part
    of a delta's usage (SDK `MessageDeltaUsage`; the real stream in the wire reference).
    """
    used = input_usage(input_tokens)
    return {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence, "stop_details": None},
        "usage": {
            "input_tokens": used.input_tokens,
            "cache_creation_input_tokens": used.cache_write,
            "cache_read_input_tokens": used.cache_read,
            "output_tokens": output_tokens,
        },
    }


MESSAGE_STOP: dict[str, Any] = {"type": "message_stop"}


def stream_error(error_type: str, message_text: str, request_id: str | None) -> dict[str, Any]:
    """An `error` event inside a 200 stream (the SDKs raise APIStatusError on it)."""
    return {
        "type": "error",
        "error": {"details": None, "type": error_type, "message": message_text},
        "request_id": request_id,
    }


def message_from_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The Message a recorded stream describes (`events` as fixtures store them: `{"t_ms", "event", "data"}`).

    Blocks are accumulated as the SDKs do; usage is message_start's, overwritten by the cumulative
    message_delta usage (None when the stream carried none). A tool input whose JSON does not
    parse is kept as the raw string, so a broken recording stays visible.
    """
    msg: dict[str, Any] = {"type": "message", "role": "assistant", "content": [], "usage": None}
    blocks: dict[int, dict[str, Any]] = {}
    json_parts: dict[int, list[str]] = {}
    for ev in events:
        data = ev.get("data")
        if not isinstance(data, dict):
            continue
        kind = data.get("type")
        index = data.get("index", 0)
        if kind == "message_start" and isinstance(data.get("message"), dict):
            msg = {**data["message"], "content": []}
        elif kind == "content_block_start" and isinstance(data.get("content_block"), dict):
            blocks[index] = dict(data["content_block"])
        elif kind == "content_block_delta" and isinstance(data.get("delta"), dict):
            block = blocks.setdefault(index, {"type": "text", "text": ""})
            delta = data["delta"]
            dtype = delta.get("type")
            if dtype == "text_delta":
                block["text"] = block.get("text", "") + str(delta.get("text", ""))
            elif dtype == "thinking_delta":
                block["thinking"] = block.get("thinking", "") + str(delta.get("thinking", ""))
            elif dtype == "signature_delta":
                block["signature"] = str(delta.get("signature", ""))
            elif dtype == "input_json_delta":
                json_parts.setdefault(index, []).append(str(delta.get("partial_json", "")))
        elif kind == "message_delta":
            if isinstance(data.get("delta"), dict):
                msg.update({k: v for k, v in data["delta"].items() if k in ("stop_reason", "stop_sequence")})
            if isinstance(data.get("usage"), dict):
                # message_delta usage is cumulative: later values replace earlier ones.
                usage = {**(msg.get("usage") or {}), **{k: v for k, v in data["usage"].items() if v is not None}}
                msg["usage"] = usage
    for index, parts in json_parts.items():
        try:
            blocks[index]["input"] = json.loads("".join(parts) or "{}")
        except ValueError:
            blocks[index]["input"] = "".join(parts)
    msg["content"] = [blocks[i] for i in sorted(blocks)]
    return msg
