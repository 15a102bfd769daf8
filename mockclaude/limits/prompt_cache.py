"""Prompt caching as the API documents it: breakpoints, prefix hashes, the lookback, TTLs, usage.

Pure logic; the entries live in a CacheStore (mockclaude.limits.prompt_cache_store). Every rule
and its source is in docs/prompt-caching.md. In short:
- A request's blocks are laid out tools → system → messages; `cache_control` on a block (at most
  4, the top-level automatic one included) is a breakpoint: it writes one entry, the hash of the
  prefix up to and including that block.
- A read looks for an entry at each breakpoint and up to 19 blocks before it (20 positions);
  the longest prefix found is read, its entry's lifetime restarts.
- Prefixes shorter than the model's minimum are not written (no error); 1-hour breakpoints must
  come before 5-minute ones.
- Entries are per API key (and workspace) and per model: the scope and the model seed the hash.
"""

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from mockclaude import tokens
from mockclaude.wire.errors import ApiError
from mockclaude.wire.messages import InputUsage

MAX_BREAKPOINTS = 4
LOOKBACK = 20  # positions checked per breakpoint, the breakpoint itself included
TTL_S = {"5m": 300.0, "1h": 3600.0}
# Models whose cache reads still count toward ITPM: the rows marked † in the rate-limit docs
# (platform.claude.com/docs/en/api/rate-limits, revisions 2026-03-13 to 2026-08-21).
READS_COUNT_TOWARD_ITPM = frozenset({"claude-3-5-haiku-20241022", "claude-3-haiku-20240307"})
_DIGEST = 16
_NOT_CACHEABLE = ("thinking", "redacted_thinking")
_MIXED_TTL = (
    "{path}.cache_control.ttl: a ttl='1h' cache_control block must not come after a ttl='5m' cache_control "
    "block. Note that blocks are processed in the following order: `tools`, `system`, `messages`."
)


@dataclass(frozen=True, slots=True)
class Breakpoint:
    """A `cache_control` marker: the block it closes (index in prefix order), its TTL, where it is."""

    position: int
    ttl: str
    path: str


# One block in prefix order: (value, level, i, j, role, framing). level: 0 tools, 1 system, 2 messages;
# i, j: its indexes (i None for a string system prompt, j None for a string message content); role:
# the message's role, on its first block; framing: tokens counted with the block that are not its own
# (its message's framing, and that of preceding messages without blocks).
type _Block = tuple[Any, int, int | None, int | None, str | None, int]


def _walk(body: dict[str, Any]) -> Iterator[_Block]:
    """The request's blocks in prefix order (plain tuples: this runs on every request)."""
    for i, tool in enumerate(body.get("tools") or ()):
        if isinstance(tool, dict):
            yield tool, 0, i, None, None, 0
    system = body.get("system")
    if isinstance(system, list):
        for i, block in enumerate(system):
            yield block, 1, i, None, None, 0
    elif system:
        yield system, 1, None, None, None, 0
    carry = 0
    for i, msg in enumerate(body.get("messages") or ()):
        if not isinstance(msg, dict):
            continue
        carry += tokens.PER_MESSAGE
        content = msg.get("content")
        role: str | None = str(msg.get("role"))
        for j, block in enumerate(content) if isinstance(content, list) else ((None, content),):
            yield block, 2, i, j, role, carry
            role, carry = None, 0


def _path(level: int, i: int | None, j: int | None) -> str:
    """Where a block is, as the API's error messages name it."""
    if level == 0:
        return f"tools.{i}"
    if level == 1:
        return "system" if i is None else f"system.{i}"
    return f"messages.{i}.content" if j is None else f"messages.{i}.content.{j}"


def _ttl(marker: Any, where: str) -> str:
    """The TTL a `cache_control` value at `where` asks for; 400 for a malformed one."""
    if not isinstance(marker, dict):
        raise ApiError(400, f"{where}: Input should be a valid dictionary")
    if marker.get("type") != "ephemeral":
        raise ApiError(400, f"{where}.type: Input should be 'ephemeral'")
    ttl = marker.get("ttl") or "5m"
    if ttl not in TTL_S:
        raise ApiError(400, f"{where}.ttl: Input should be '5m' or '1h'")
    return str(ttl)


def _markers(value: dict[str, Any], path: str) -> Iterator[tuple[Any, str]]:
    """The block's `cache_control` values with their paths (a tool result's inner blocks count too)."""
    if value.get("cache_control") is not None:
        if value.get("type") in _NOT_CACHEABLE:
            # The API's schema has no cache_control on thinking blocks (sub2api#225, 2026-01).
            raise ApiError(400, f"{path}.{value['type']}.cache_control: Extra inputs are not permitted")
        yield value["cache_control"], path
    inner = value.get("content") if value.get("type") == "tool_result" else None
    for k, item in enumerate(inner if isinstance(inner, list) else ()):
        if isinstance(item, dict) and item.get("cache_control") is not None:
            yield item["cache_control"], f"{path}.content.{k}"


def _eligible(value: Any) -> bool:
    """Whether automatic caching may put its breakpoint on this block."""
    if isinstance(value, dict):
        return value.get("type") not in _NOT_CACHEABLE and not (value.get("type") == "text" and not value.get("text"))
    return bool(value)


_UNICODE_ESCAPE = re.compile(rb"\\u")  # a regex: bytes.find with a two-byte needle is 3 times slower


def may_mark(raw: bytes) -> bool:
    """Whether a body's bytes may hold a `cache_control` key anywhere: the word itself, or a `\\u` escape,
    which could spell it. Without either, `breakpoints` of the parsed body finds none, and its walk of
    every block (18 us for a 20-message conversation, against 4 for these searches) can be skipped."""
    return b"cache_control" in raw or (b"\\" in raw and _UNICODE_ESCAPE.search(raw) is not None)


def breakpoints(body: dict[str, Any]) -> list[Breakpoint]:
    """The request's breakpoints in prefix order (explicit and automatic); 400 for what the API refuses."""
    top = body.get("cache_control")
    found: list[Breakpoint] = []
    last: tuple[int, str] | None = None  # the last block automatic caching may mark, and its path
    for pos, (value, level, i, j, _, _) in enumerate(_walk(body)):
        if isinstance(value, dict) and ("cache_control" in value or value.get("type") == "tool_result"):
            path = _path(level, i, j)
            found += [Breakpoint(pos, _ttl(m, f"{where}.cache_control"), where) for m, where in _markers(value, path)]
        if top is not None and _eligible(value):
            last = pos, _path(level, i, j)
    if top is not None and last is not None:  # with nothing eligible, caching is skipped
        ttl = _ttl(top, "cache_control")
        mine = [bp for bp in found if bp.position == last[0]]
        if any(bp.ttl != ttl for bp in mine):
            # The docs say "the API returns a 400 error"; its text is not public (ours).
            raise ApiError(400, f"cache_control: the top-level ttl='{ttl}' differs from ttl='{mine[0].ttl}' "
                           f"on the last block ({last[1]}), which it would apply to")  # fmt: skip
        if not mine:
            if len(found) >= MAX_BREAKPOINTS:
                raise ApiError(400, f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
                               f"Found {len(found) + 1}.")  # fmt: skip
            found.append(Breakpoint(last[0], ttl, last[1]))
    seen_5m = False
    for bp in found:
        if bp.ttl == "1h" and seen_5m:
            raise ApiError(400, _MIXED_TTL.format(path=bp.path))
        seen_5m = seen_5m or bp.ttl == "5m"
    return found


def _canonical(value: Any) -> bytes:
    """A block's bytes for hashing: its JSON with sorted keys, without any cache_control marker (moving
    a breakpoint does not change the prefix)."""
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if k != "cache_control"}
        if isinstance(value.get("content"), list):
            value["content"] = [
                {k: v for k, v in x.items() if k != "cache_control"} if isinstance(x, dict) else x
                for x in value["content"]
            ]
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _level_inputs(body: dict[str, Any], level: int) -> bytes:
    """Request settings the API renders into the prompt at a level: changing them misses from there on.

    System: `speed`. Messages: `tool_choice`, `thinking`, the effort (docs' invalidation table).
    """
    if level == 1:
        return orjson.dumps(body.get("speed"))
    effort = (body.get("output_config") or {}).get("effort") if isinstance(body.get("output_config"), dict) else None
    return orjson.dumps([body.get("tool_choice"), body.get("thinking"), effort], option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True)
class Prefix:
    """A request as the cache sees it: one hash and one cumulative token count per block."""

    hashes: list[bytes]  # hashes[i] identifies blocks 0..i (scope and model included)
    tokens: list[int]  # tokens of blocks 0..i, in the model's count
    total: int  # the whole prompt's input tokens, in the model's count (what usage sums to)
    breakpoints: list[Breakpoint]

    @classmethod
    def of(cls, body: dict[str, Any], marks: list[Breakpoint], *, scope: str, model: str, factor: float) -> "Prefix":
        """Hash and count `body`'s blocks (tokens as mockclaude.tokens counts them, times `factor`)."""
        h = hashlib.blake2b(f"{scope}\0{model}".encode(), digest_size=_DIGEST).digest()
        level = 0
        raw = tokens.PER_REQUEST
        framed = 0
        hashes, counts = [], []
        for value, block_level, _, _, role, framing in _walk(body):
            salt = b""
            while level < block_level:  # entering system or messages: fold in what renders there
                level += 1
                salt += _level_inputs(body, level)
            framed += framing
            raw += framing + (tokens.count_tool(value) if block_level == 0 else tokens.count_content(value))
            head = salt + b"\0" + (role or "").encode() + b"\0"
            h = hashlib.blake2b(h + head + _canonical(value), digest_size=_DIGEST).digest()
            hashes.append(h)
            counts.append(round(raw * factor))
        # Framing of trailing messages without blocks: in the total, in no prefix.
        messages = sum(isinstance(m, dict) for m in body.get("messages") or ())
        tail = tokens.PER_MESSAGE * messages - framed
        return cls(hashes, counts, round((raw + tail) * factor), marks)


class CacheStore(Protocol):
    """Where entries live: a bounded table in this process or in shared memory, or Redis.

    Keys are prefix hashes. Each call is atomic; times are the store's own clock.
    """

    kind: str  # "memory", "shared memory" or "redis", for the admin API
    capacity: int | None  # the most entries it holds (None: bounded by Redis's maxmemory)

    def present(self, keys: Sequence[bytes]) -> list[bool]:
        """For each key: is there a live entry, readable already?"""
        ...

    def commit(self, writes: Sequence[tuple[bytes, float]], refreshes: Sequence[bytes], ready_in_s: float) -> None:
        """Write (key, ttl seconds) entries readable from `ready_in_s` on; restart the refreshed ones' lifetimes."""
        ...

    def entries(self) -> int:
        """Live entries now."""
        ...

    def clear(self) -> int:
        """Remove every entry; how many were live."""
        ...


@dataclass(slots=True)
class Lookup:
    """What one request reads and writes: its usage split, and the store changes to commit."""

    usage: InputUsage
    hit: bool = False
    writes: Sequence[tuple[bytes, float]] = ()
    refreshes: Sequence[bytes] = ()
    looked_up: bool = True  # False: no breakpoint, caching off, or a recorded answer

    @classmethod
    def uncached(cls, input_tokens: int) -> "Lookup":
        """A request the cache never saw: all of its input is uncached."""
        return cls(InputUsage(input_tokens), looked_up=False)

    def itpm_tokens(self, model: str) -> int:
        """Input tokens charged against ITPM: input and cache writes, reads only on the † models."""
        reads = self.usage.cache_read if model in READS_COUNT_TOWARD_ITPM else 0
        return self.usage.prefilled + reads


def _window(bp: Breakpoint) -> range:
    """The positions a breakpoint's lookback checks, nearest first."""
    return range(bp.position, max(bp.position - LOOKBACK, -1), -1)


def lookup(
    prefix: Prefix, present: Callable[[Sequence[bytes]], list[bool]], min_tokens: int, ttl_scale: float
) -> Lookup:
    """Find the longest cached prefix and plan the writes at the breakpoints beyond it."""
    marks = prefix.breakpoints
    # One round trip to the store for every position any breakpoint's window checks.
    candidates = sorted({p for bp in marks for p in _window(bp)})
    live = dict(zip(candidates, present([prefix.hashes[p] for p in candidates]), strict=True))
    hits = {next((p for p in _window(bp) if live[p]), -1) for bp in marks}
    hits.discard(-1)
    at = max(hits, default=-1)
    read = prefix.tokens[at] if at >= 0 else 0
    written = [bp for bp in marks if bp.position > at and prefix.tokens[bp.position] >= min_tokens]
    # Billing with mixed TTLs (docs): 1h writes up to the last written 1h breakpoint, 5m writes after it.
    end_1h = max((prefix.tokens[bp.position] for bp in written if bp.ttl == "1h"), default=read)
    end = max((prefix.tokens[bp.position] for bp in written), default=read)
    usage = InputUsage(prefix.total - end, read, end - end_1h, end_1h - read)
    writes = [(prefix.hashes[bp.position], TTL_S[bp.ttl] * ttl_scale) for bp in written]
    return Lookup(usage, bool(hits), writes, [prefix.hashes[p] for p in sorted(hits)])
