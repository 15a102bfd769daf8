"""Bodies that passed the Messages checks are not checked again (server.passed): bounded, only passes kept."""

import asyncio
from typing import Any

import orjson
import pytest

from mockclaude.limits.prompt_cache import Breakpoint
from mockclaude.models import lookup
from mockclaude.server import passed as passed_module
from mockclaude.server.messages_handler import checked
from mockclaude.server.passed import Passed, PassedBodies
from mockclaude.server.settings import Settings
from mockclaude.server.state import MockState, Options
from mockclaude.wire.errors import ApiError

BODY = {"model": "claude-sonnet-4-6", "max_tokens": 64, "messages": [{"role": "user", "content": "Hello there"}]}
INFO = lookup("claude-sonnet-4-6")


def _check(state: MockState, raw: bytes, body: Any = None) -> tuple[Any, int, Any]:
    parsed = orjson.loads(raw) if body is None else body
    return asyncio.run(checked(state, parsed, len(raw), None, raw))


def test_bodies_are_held_within_their_byte_budget_oldest_first() -> None:
    bodies = PassedBodies(held_bytes=100)
    first, second, third = b"a" * 40, b"b" * 40, b"c" * 40
    for raw in (first, second, third):
        bodies.keep(raw, Passed(INFO, (), 1))
    assert bodies.get(first) is None  # 120 bytes > 100: the oldest went
    assert bodies.get(second) is not None and bodies.get(third) is not None
    bodies.keep(b"d" * 101, Passed(INFO, (), 1))  # larger than the whole budget: not kept, nothing evicted
    assert len(bodies) == 2


def test_large_bodies_are_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passed_module, "MAX_BODY_BYTES", 10)
    bodies = PassedBodies()
    bodies.keep(b"x" * 11, Passed(INFO, (), 1))
    assert len(bodies) == 0 and bodies.get(b"x" * 11) is None


def test_a_body_that_passed_keeps_what_the_checks_found() -> None:
    state = MockState(Options(), Settings())
    raw = orjson.dumps(BODY)
    info, tokens, prefix = _check(state, raw)
    assert (info.id, prefix) == ("claude-sonnet-4-6", None) and tokens > 0
    assert state.passed.get(raw) == Passed(info, (), tokens)
    # The same bytes again are not validated again: the checks' findings are reused as they were.
    assert _check(state, raw, body={**BODY, "messages": "not validated"}) == (info, tokens, None)


def test_a_failing_body_is_not_kept_and_fails_every_time() -> None:
    state = MockState(Options(), Settings())
    raw = orjson.dumps({**BODY, "max_tokens": 10**9})
    for _ in range(2):
        with pytest.raises(ApiError, match="max_tokens: 1000000000 >"):
            _check(state, raw)
    assert len(state.passed) == 0


def test_the_breakpoints_are_kept_and_the_prefix_is_counted_per_request() -> None:
    state = MockState(Options(), Settings())
    marked = {**BODY, "system": [{"type": "text", "text": "Rules. " * 50, "cache_control": {"type": "ephemeral"}}]}
    raw = orjson.dumps(marked)
    _, tokens, _ = _check(state, raw)  # no cache scope: counted, no prefix
    kept = state.passed.get(raw)
    assert kept is not None and [type(b) for b in kept.breakpoints] == [Breakpoint] and kept.input_tokens == tokens
    # A scoped request with the same bytes still gets its own prefix (scope and model in its hashes).
    last_hashes = set()
    for scope in ("key-a\0", "key-b\0"):
        _, scoped_tokens, prefix = asyncio.run(checked(state, orjson.loads(raw), len(raw), scope, raw))
        assert prefix is not None and prefix.total == scoped_tokens
        last_hashes.add(prefix.hashes[-1])
    assert len(last_hashes) == 2
