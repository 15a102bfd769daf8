"""What the proxy saw of one exchange, and how it becomes a fixture record.

`Capture` is filled on the proxy's hot path and does nothing slow there: `tee` only appends
(monotonic time, bytes). Everything else (decompression, SSE parsing, token estimates,
anonymization) happens in `build_exchange`, off the proxy's event loop.
"""

import hashlib
import json
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from mockclaude.fixtures.format import match_key
from mockclaude.privacy.anonymize import Anonymizer
from mockclaude.tokens import count_request, count_response_content
from mockclaude.wire.messages import message_from_events
from mockclaude.wire.sse import SSEParser
from recorder.headers import request_headers, response_headers

MESSAGES_PATH = "/v1/messages"
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"
RECORDED_PATHS = frozenset({MESSAGES_PATH, COUNT_TOKENS_PATH})


def is_recorded(path: str) -> bool:
    """True for the endpoints whose exchanges are recorded (query string ignored)."""
    return urlsplit(path).path.rstrip("/") in RECORDED_PATHS


@dataclass
class Capture:
    """Raw observations of one exchange; times are `time.monotonic()` values."""

    method: str
    path: str
    request_headers: list[tuple[str, str]]
    t0: float
    started_wall: float
    request_body: bytes = b""
    status: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    t_headers: float | None = None
    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    t_end: float | None = None
    error: str | None = None

    def tee(self, chunk: bytes) -> bytes:
        """The stream hook: note when the chunk passed, hand it on unchanged."""
        if chunk:
            self.chunks.append((time.monotonic(), chunk))
        return chunk

    def header(self, name: str, *, response: bool = True) -> str:
        """A header value ("" when absent), case-insensitive."""
        items = self.response_headers if response else self.request_headers
        return next((v for k, v in items if k.lower() == name), "")


def _decoded(chunks: list[tuple[float, bytes]], encoding: str) -> Iterator[tuple[float, bytes]]:
    """Chunks with content-encoding undone, each still at the time its bytes arrived."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        yield from chunks
        return
    if encoding in ("gzip", "x-gzip", "deflate"):
        first = chunks[0][1] if chunks else b""
        wbits = 31 if encoding != "deflate" else (15 if first[:1] == b"\x78" else -15)
        dec = zlib.decompressobj(wbits)
        for t, chunk in chunks:
            yield t, dec.decompress(chunk)
        return
    # br, zstd: decode the whole body at the time of its last chunk.
    from mitmproxy.net.encoding import decode  # only needed for rare encodings

    if chunks:
        yield chunks[-1][0], decode(b"".join(c for _, c in chunks), encoding)


# Bodies nested deeper than this are kept (and anonymized) as text: the anonymizer walks JSON
# recursively, and the API itself accepts up to 1024 levels.
MAX_JSON_DEPTH = 256


def _depth(obj: Any) -> int:
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return deepest


def _json_or_text(raw: bytes) -> Any:
    text = raw.decode("utf-8", errors="replace")
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's json can follow
        return text if text else None
    return obj if _depth(obj) <= MAX_JSON_DEPTH else text


def parse_events(chunks: list[tuple[float, bytes]], t0: float) -> list[dict[str, Any]]:
    """SSE events with the offset (ms from `t0`) of the chunk that completed each one."""
    parser = SSEParser()
    events = []
    for t, chunk in chunks:
        for name, data in parser.feed(chunk):
            events.append({"t_ms": round((t - t0) * 1000, 3), "event": name, "data": _json_or_text(data.encode())})
    return events


def _conversation(body: dict[str, Any]) -> dict[str, Any] | None:
    """A heuristic conversation id (system prompt + first message) and the turn number."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    seed = json.dumps([body.get("system"), messages[0]], sort_keys=True, ensure_ascii=False)
    return {"id": "c" + hashlib.sha256(seed.encode()).hexdigest()[:12], "turn": (len(messages) + 1) // 2}


def _ms(t: float | None, t0: float) -> float | None:
    return None if t is None else round((t - t0) * 1000, 3)


def _error_kind(cap: Capture) -> str:
    msg = (cap.error or "").lower()
    if "client" in msg:
        return "client"
    return "disconnect" if cap.status is not None else "upstream"


def build_exchange(cap: Capture, anon: Anonymizer, *, seq: int, session_start: float) -> dict[str, Any]:
    """The fixture record of one captured exchange, anonymized."""
    req_body = _json_or_text(cap.request_body)
    path = urlsplit(cap.path).path
    counting = path.rstrip("/") == COUNT_TOKENS_PATH
    chunks = list(_decoded(cap.chunks, cap.header("content-encoding")))
    streamed = cap.header("content-type").startswith("text/event-stream")
    events = parse_events(chunks, cap.t0) if streamed else None
    body = None if streamed else _json_or_text(b"".join(c for _, c in chunks))

    usage: dict[str, Any] | None = None
    out_est: int | None = None
    if events is not None:
        streamed_msg = message_from_events(events)
        content, usage = streamed_msg["content"], streamed_msg["usage"]
        out_est = count_response_content(content) if content else None
    elif isinstance(body, dict):
        if counting and isinstance(body.get("input_tokens"), int):
            usage = {"input_tokens": body["input_tokens"]}
        elif isinstance(body.get("usage"), dict):
            usage = body["usage"]
        if isinstance(body.get("content"), list):
            out_est = count_response_content(body["content"])
    in_est = count_request(req_body) if isinstance(req_body, dict) else None

    first_delta = next((e["t_ms"] for e in events or () if e["event"] == "content_block_delta"), None)
    last = cap.chunks[-1][0] if cap.chunks else (cap.t_end or cap.t_headers)
    anon_req = anon.body(req_body) if req_body is not None else None
    query = urlsplit(cap.path).query
    if query and anon.mode != "shape":
        query = anon.text(query)
    exchange: dict[str, Any] = {
        "type": "exchange",
        "seq": seq,
        "started_s": round(max(0.0, cap.started_wall - session_start), 6),
        "request": {
            "method": cap.method,
            "path": path + (f"?{query}" if query and anon.mode != "shape" else ""),
            "headers": _anon_headers(request_headers(cap.request_headers), anon),
            "body": anon_req,
            "match_key": match_key(anon_req) if isinstance(anon_req, dict) else None,
        },
        "response": {
            "status": cap.status,
            "headers": _anon_headers(response_headers(cap.response_headers), anon),
            "body": anon.body(body) if body is not None else None,
            "events": anon.events(events) if events is not None else None,
            "error": _anon_error(cap, anon),
        },
        "timing": {
            "ttfb_ms": _ms(cap.t_headers, cap.t0),
            "ttft_ms": first_delta,
            "total_ms": _ms(last, cap.t0),
        },
        "usage": usage,
        "estimates": {"input_tokens": in_est, "output_tokens": out_est},
    }
    if isinstance(anon_req, dict) and not counting:
        conv = _conversation(anon_req)
        if conv is not None:
            exchange["conversation"] = conv
    return exchange


def _anon_headers(headers: dict[str, str], anon: Anonymizer) -> dict[str, str]:
    if anon.mode == "shape":
        return headers  # allow-listed values are protocol metadata, not text
    return {k: anon.text(v) for k, v in headers.items()}


def _anon_error(cap: Capture, anon: Anonymizer) -> dict[str, Any] | None:
    if cap.error is None:
        return None
    message = anon.tree(cap.error)
    return {"kind": _error_kind(cap), "message": message}
