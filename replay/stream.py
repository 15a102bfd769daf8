"""Reading a Messages response into a RequestRecord: SSE timing and structure checks, or a JSON body.

A 200 whose structure is not a valid message (bad event order, missing usage, bad JSON) is a
failure (`invalid_response`), never a success.
"""

from collections.abc import Callable, Iterable
from typing import Any

import orjson

from mockclaude.wire.sse import SSEParser
from replay.classify import INTERRUPTED, INVALID_RESPONSE, MIDSTREAM_ERROR, TIMEOUT
from replay.records import OK, RequestRecord


class InvalidStream(Exception):
    """The stream broke the Messages event grammar."""


class StreamChecker:
    """Follows the event order of one Messages stream and extracts timings and usage."""

    def __init__(self, record: RequestRecord) -> None:
        self.record = record
        self.started = False
        self.open_block: int | None = None
        self.blocks = 0
        self.saw_message_delta = False
        self.stopped = False

    def event(self, name: str | None, data: bytes | str, t: float) -> bool:
        """Handle one event received `t` seconds after sending; False once the stream is over."""
        if name is None:
            raise InvalidStream("an event without an `event:` line (SDKs drop these)")
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InvalidStream(f"{name}: data is not JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise InvalidStream(f"{name}: data is not a JSON object")
        if name == "ping":
            return True
        if name == "error":
            err = obj.get("error") if isinstance(obj.get("error"), dict) else {}
            self.record.error_class = MIDSTREAM_ERROR
            self.record.error = f"{err.get('type', '?')}: {err.get('message', '')}"
            return False
        if obj.get("type") != name:
            raise InvalidStream(f"event {name!r} carries data of type {obj.get('type')!r}")
        if self.stopped:
            return False
        handler = _HANDLERS.get(name)
        if handler is None:
            return True  # the API may add event types; clients must ignore unknown ones
        if name != "message_start" and not self.started:
            raise InvalidStream(f"{name} before message_start")
        handler(self, obj, t)
        return not self.stopped

    def _message_start(self, obj: dict[str, Any], t: float) -> None:
        if self.started:
            raise InvalidStream("a second message_start")
        msg = obj.get("message")
        usage = msg.get("usage") if isinstance(msg, dict) else None
        if not isinstance(usage, dict) or not isinstance(usage.get("input_tokens"), int):
            raise InvalidStream("message_start without message.usage.input_tokens")
        self.started = True
        self.record.usage = dict(usage)
        self.record.input_tokens = usage["input_tokens"]
        self.record.output_tokens = usage.get("output_tokens")

    def _block_start(self, obj: dict[str, Any], t: float) -> None:
        index = obj.get("index")
        if self.open_block is not None:
            raise InvalidStream(f"content_block_start {index} while block {self.open_block} is open")
        if index != self.blocks:
            raise InvalidStream(f"content_block_start has index {index}, expected {self.blocks}")
        if not isinstance(obj.get("content_block"), dict) or "type" not in obj["content_block"]:
            raise InvalidStream("content_block_start without a typed content_block")
        self.open_block = index
        self.blocks += 1

    def _block_delta(self, obj: dict[str, Any], t: float) -> None:
        if obj.get("index") != self.open_block:
            raise InvalidStream(f"content_block_delta for index {obj.get('index')}, open block is {self.open_block}")
        if not isinstance(obj.get("delta"), dict) or "type" not in obj["delta"]:
            raise InvalidStream("content_block_delta without a typed delta")
        if self.record.ttft_s is None:
            self.record.ttft_s = t
        self.record.delta_s.append(t)

    def _block_stop(self, obj: dict[str, Any], t: float) -> None:
        if obj.get("index") != self.open_block:
            raise InvalidStream(f"content_block_stop for index {obj.get('index')}, open block is {self.open_block}")
        self.open_block = None

    def _message_delta(self, obj: dict[str, Any], t: float) -> None:
        if self.open_block is not None:
            raise InvalidStream(f"message_delta while block {self.open_block} is open")
        usage = obj.get("usage")
        if not isinstance(usage, dict) or not isinstance(usage.get("output_tokens"), int):
            raise InvalidStream("message_delta without usage.output_tokens")
        self.saw_message_delta = True
        # Cumulative totals overwrite; a field left out (or null) keeps its message_start value, as the SDKs do.
        self.record.usage.update((k, v) for k, v in usage.items() if v is not None)
        self.record.output_tokens = usage["output_tokens"]  # cumulative: the last one wins
        if isinstance(usage.get("input_tokens"), int):
            self.record.input_tokens = usage["input_tokens"]
        delta = obj.get("delta")
        if isinstance(delta, dict):
            self.record.stop_reason = delta.get("stop_reason")

    def _message_stop(self, obj: dict[str, Any], t: float) -> None:
        if not self.saw_message_delta:
            raise InvalidStream("message_stop without a message_delta")
        self.stopped = True


_HANDLERS: dict[str, Callable[[StreamChecker, dict[str, Any], float], None]] = {
    "message_start": StreamChecker._message_start,
    "content_block_start": StreamChecker._block_start,
    "content_block_delta": StreamChecker._block_delta,
    "content_block_stop": StreamChecker._block_stop,
    "message_delta": StreamChecker._message_delta,
    "message_stop": StreamChecker._message_stop,
}


def read_stream(
    record: RequestRecord,
    chunks: Iterable[bytes],
    clock: Callable[[], float],
    transport_errors: tuple[type[BaseException], ...] = (OSError,),
) -> None:
    """Consume an SSE body; `clock()` gives seconds since the request was sent."""
    parser = SSEParser()
    checker = StreamChecker(record)
    try:
        for chunk in chunks:
            t = clock()
            for name, data in parser.feed_bytes(chunk):
                if not checker.event(name, data, t):
                    record.e2e_s = clock()
                    return
    except InvalidStream as exc:
        record.error_class, record.error = INVALID_RESPONSE, str(exc)
    except transport_errors as exc:
        # TimeoutError: the whole response outlasted --request-timeout (see replay.users.within).
        record.error_class = TIMEOUT if isinstance(exc, TimeoutError) else INTERRUPTED
        record.error = f"{type(exc).__name__}: {exc}"
    else:
        record.error_class, record.error = INTERRUPTED, "the stream ended before message_stop"
    record.e2e_s = clock()


def check_message(body: bytes) -> str | None:
    """Why a non-streaming 200 body is not a valid message, or None when it is."""
    return _parse_message(body)[1]


def _parse_message(body: bytes) -> tuple[dict[str, Any], None] | tuple[None, str]:
    """The message in a non-streaming 200 body, or why it is not a valid one."""
    try:
        msg = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return None, f"body is not JSON: {exc}"
    if not isinstance(msg, dict) or msg.get("type") != "message":
        return None, 'body is not an object of type "message"'
    content = msg.get("content")
    if not isinstance(content, list) or not all(isinstance(b, dict) and "type" in b for b in content):
        return None, "content is not a list of typed blocks"
    usage = msg.get("usage")
    if not isinstance(usage, dict) or not all(isinstance(usage.get(k), int) for k in ("input_tokens", "output_tokens")):
        return None, "usage lacks input_tokens/output_tokens"
    if not isinstance(msg.get("stop_reason"), str):
        return None, "stop_reason is missing"
    return msg, None


def read_message(record: RequestRecord, body: bytes, t: float) -> None:
    """Fill `record` from a non-streaming 200 body received completely at `t`."""
    record.e2e_s = t
    msg, problem = _parse_message(body)
    if msg is None:
        record.error_class, record.error = INVALID_RESPONSE, problem or ""
        return
    record.usage = msg["usage"]
    record.input_tokens = msg["usage"]["input_tokens"]
    record.output_tokens = msg["usage"]["output_tokens"]
    record.stop_reason = msg["stop_reason"]
    record.error_class = OK


def read_count(record: RequestRecord, body: bytes, t: float) -> None:
    """Fill `record` from a count_tokens 200 body (`{"input_tokens": N}`) received at `t`."""
    record.e2e_s = t
    try:
        count = orjson.loads(body).get("input_tokens")
    except (orjson.JSONDecodeError, AttributeError):
        count = None
    if not isinstance(count, int):
        record.error_class, record.error = INVALID_RESPONSE, "count_tokens answer without an integer input_tokens"
        return
    record.input_tokens = count
    record.error_class = OK


def error_message(body: bytes) -> str:
    """The `type: message` of an API error body, or the start of a non-JSON body."""
    try:
        err = orjson.loads(body).get("error", {})
        return f"{err.get('type', '?')}: {err.get('message', '')}"
    except (orjson.JSONDecodeError, AttributeError):
        return body[:200].decode(errors="replace")
