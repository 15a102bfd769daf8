"""Server-sent events: encoding as the API frames them, and an incremental parser for clients."""

import re
from typing import Any

import orjson

# The real API sends ping with a space after the colon; clients must not care, but we match it.
PING = b'event: ping\ndata: {"type": "ping"}\n\n'


def encode_event(data: dict[str, Any]) -> bytes:
    """One SSE frame: `event: <type>` then the compact JSON `data:` line (type equals event name)."""
    # orjson writes the same compact UTF-8 JSON as json.dumps(separators=(",", ":"), ensure_ascii=False)
    # at about a tenth of the cost; frames are encoded per request, so this halves stream setup.
    return b"event: " + data["type"].encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class SSEParser:
    """Incremental SSE decoder: feed bytes as they arrive, get complete (event, data) pairs.

    Accepts `\\n`, `\\r\\n` and `\\r` line endings, comment lines and multi-line data, like the SDK.
    """

    def __init__(self) -> None:
        self._buf = bytearray()  # the start of an event not yet ended by a blank line; line ends are `\n`
        self._cr = False  # the last chunk ended in `\r`, which may be the first half of `\r\n`

    def feed(self, chunk: bytes) -> list[tuple[str | None, str]]:
        """Consume a chunk; each event it completed, as (event name or None, data string)."""
        return [(name, data.decode(errors="replace")) for name, data in self.feed_bytes(chunk)]

    def feed_bytes(self, chunk: bytes) -> list[tuple[str | None, bytes]]:
        """Like `feed`, with each event's data as raw bytes (for a JSON parser that reads bytes)."""
        # Whole events (text up to a blank line) are cut out with bytes methods, which run in C:
        # slicing str line by line cost more than the rest of the replayer's client. A UTF-8
        # sequence never contains a line end, so a complete event never ends inside one.
        if self._cr:
            chunk, self._cr = b"\r" + chunk, False
        if b"\r" in chunk:
            if chunk.endswith(b"\r"):
                chunk, self._cr = chunk[:-1], True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buf = self._buf
        if buf:
            start = len(buf) - 1  # a blank line may straddle the old and the new bytes
            buf += chunk
            end = buf.rfind(b"\n\n", start)
            if end == -1:
                return []
            text = bytes(buf[:end])
            del buf[: end + 2]
        else:
            end = chunk.rfind(b"\n\n")
            if end == -1:
                buf += chunk
                return []
            text = chunk[:end]
            buf += chunk[end + 2 :]
        out = []
        for block in text.split(b"\n\n"):
            m = _API_FRAME.fullmatch(block)
            if m is not None:
                name = m[1]
                out.append((_NAMES.get(name) or name.decode(errors="replace"), m[2]))
            elif block:
                event = _event(block)
                if event is not None:
                    out.append(event)
        return out


# How the API frames every event: one `event:` line, then one `data:` line.
_API_FRAME = re.compile(rb"event: ?([^\n]*)\ndata: ?([^\n]*)")
_NAMES = {
    name.encode(): name
    for name in ("message_start", "content_block_start", "content_block_delta", "content_block_stop",
                 "message_delta", "message_stop", "ping", "error")
}  # fmt: skip


def _event(block: bytes) -> tuple[str | None, bytes] | None:
    """The event in a block of lines between blank lines, by the SSE field rules (None: comments only)."""
    name: str | None = None
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue  # a comment, or a blank line with no event pending
        field, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if field == b"event":
            name = value.decode(errors="replace")
        elif field == b"data":
            data.append(value)
    if name is None and not data:
        return None
    return name, b"\n".join(data)
