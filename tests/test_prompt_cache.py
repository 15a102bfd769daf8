"""The prompt-cache rules (mockclaude.limits.prompt_cache) and its stores, without a server."""

import multiprocessing
from typing import Any

import pytest

from mockclaude import tokens
from mockclaude.limits import prompt_cache as pc
from mockclaude.limits.prompt_cache_store import WAYS, CacheTable
from mockclaude.wire.errors import ApiError
from mockclaude.wire.messages import InputUsage

MARK = {"type": "ephemeral"}
MARK_1H = {"type": "ephemeral", "ttl": "1h"}
LONG = "The quick brown fox jumps over the lazy dog. " * 300  # ~3,000 tokens


class Clock:
    """A settable clock for the table."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def text(s: str, mark: dict[str, Any] | None = None) -> dict[str, Any]:
    """A text block, marked if asked."""
    return {"type": "text", "text": s, **({"cache_control": mark} if mark else {})}


def run(
    table: CacheTable,
    body: dict[str, Any],
    *,
    scope: str = "k",
    model: str = "claude-sonnet-4-6",
    factor: float = 1.0,
    min_tokens: int = 1024,
    ttl_scale: float = 1.0,
) -> pc.Lookup:
    """One request through the cache: look up, then commit at once."""
    prefix = pc.Prefix.of(body, pc.breakpoints(body), scope=scope, model=model, factor=factor)
    found = pc.lookup(prefix, table.present, min_tokens, ttl_scale)
    table.commit(found.writes, found.refreshes, 0.0)
    return found


def turns(n: int, mark_last: bool = True) -> list[dict[str, Any]]:
    """`n` one-block messages alternating user/assistant, the last one marked."""
    out = []
    for i in range(n):
        mark = MARK if mark_last and i == n - 1 else None
        out.append({"role": "user" if i % 2 == 0 else "assistant", "content": [text(f"turn {i} " + "w " * 80, mark)]})
    return out


BODIES = [
    {"messages": [{"role": "user", "content": "hi"}]},
    {"system": LONG, "messages": [{"role": "user", "content": [text("a"), text("b", MARK)]}]},
    {
        "tools": [{"name": "t", "description": "d", "input_schema": {"type": "object"}, "cache_control": MARK}],
        "system": [text("one"), text("two", MARK)],
        "messages": [
            {"role": "user", "content": []},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "x", "name": "t", "input": {"a": 1}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x", "content": [text("r", MARK)]}]},
            {"role": "assistant", "content": []},
        ],
    },
    {"system": [text(LONG, MARK)], "messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]},
]


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("factor", [1.0, 1.3])
def test_block_counts_add_up_to_the_request_count(body: dict[str, Any], factor: float) -> None:
    prefix = pc.Prefix.of(body, [], scope="k", model="m", factor=factor)
    assert prefix.total == round(tokens.count_request(body) * factor)
    assert prefix.tokens == sorted(prefix.tokens) and (not prefix.tokens or prefix.tokens[-1] <= prefix.total)


def test_written_then_read_and_usage_sums_to_the_whole_input() -> None:
    table = CacheTable(64, clock=Clock())
    body = {"system": [text(LONG, MARK)], "messages": [{"role": "user", "content": "question"}]}
    first, second = run(table, body), run(table, body)
    total = pc.Prefix.of(body, [], scope="k", model="claude-sonnet-4-6", factor=1).total
    assert first.usage.cache_write_5m > 3000 and first.usage.cache_read == 0 and not first.hit
    assert second.usage == InputUsage(first.usage.input_tokens, first.usage.cache_write_5m) and second.hit
    for used in (first.usage, second.usage):
        assert used.input_tokens + used.cache_read + used.cache_write == total


def test_the_breakpoint_marker_itself_is_not_part_of_the_prefix() -> None:
    table = CacheTable(64, clock=Clock())
    run(table, {"system": [text(LONG, MARK)], "messages": [{"role": "user", "content": "q"}]})
    # Same prompt, the breakpoint moved to a later block: the earlier entry is found by the lookback.
    later = {"system": [text(LONG)], "messages": [{"role": "user", "content": [text("q", MARK)]}]}
    assert run(table, later).usage.cache_read > 3000


def test_under_the_models_minimum_nothing_is_cached() -> None:
    table = CacheTable(64, clock=Clock())
    body = {"system": [text("short " * 200, MARK)], "messages": [{"role": "user", "content": "q"}]}
    for _ in range(2):
        found = run(table, body, min_tokens=1024)
        assert found.usage.cache_write == found.usage.cache_read == 0 and not found.writes
    assert table.entries() == 0
    # The same prompt on a model with a lower minimum is cached.
    assert run(table, body, min_tokens=128).usage.cache_write_5m > 0


def test_a_changed_prefix_misses_and_scope_model_and_level_settings_separate_entries() -> None:
    table = CacheTable(256, clock=Clock())
    body = {"system": [text(LONG, MARK)], "messages": [{"role": "user", "content": "q"}]}
    run(table, body)
    changed = {"system": [text(LONG + "!", MARK)], "messages": [{"role": "user", "content": "q"}]}
    assert run(table, changed).usage.cache_read == 0
    assert run(table, body, scope="other key").usage.cache_read == 0
    assert run(table, body, model="claude-opus-4-6").usage.cache_read == 0
    # `speed` renders into the system level: a system entry misses when it changes ...
    assert run(table, {**body, "speed": "fast"}).usage.cache_read == 0
    # ... while tool_choice only affects messages: a system breakpoint still hits.
    assert run(table, {**body, "tool_choice": {"type": "auto"}}).usage.cache_read > 3000


def test_lookback_is_20_positions_per_breakpoint_as_in_the_docs_example() -> None:
    # Docs: turn 1 writes at block 10; turn 2 (breakpoint on block 15) walks back and hits block 10;
    # turn 3 (breakpoint on block 35) checks blocks 35..16 and misses the entry at 15.
    table = CacheTable(256, clock=Clock())
    history = turns(35, mark_last=False)

    def upto(n: int) -> dict[str, Any]:
        msgs = [dict(m) for m in history[:n]]
        msgs[-1] = {**msgs[-1], "content": [text(msgs[-1]["content"][0]["text"], MARK)]}
        return {"messages": msgs}

    first = run(table, upto(10), min_tokens=100)
    second = run(table, upto(15), min_tokens=100)
    assert second.usage.cache_read == first.usage.cache_write_5m > 0
    third = run(table, upto(35), min_tokens=100)
    assert third.usage.cache_read == 0 and not third.hit


def test_a_second_breakpoint_resumes_the_lookback() -> None:
    table = CacheTable(256, clock=Clock())
    system = [text(LONG, MARK)]
    run(table, {"system": system, "messages": turns(1)})
    # 30 new blocks after the system breakpoint: the last breakpoint's window misses, the system one hits.
    found = run(table, {"system": system, "messages": turns(30)})
    assert found.usage.cache_read > 3000 and found.usage.cache_write_5m > 0


def test_mixed_ttls_bill_1h_writes_before_5m_writes() -> None:
    table = CacheTable(64, clock=Clock())
    body = {"system": [text(LONG, MARK_1H)], "messages": [{"role": "user", "content": [text(LONG, MARK)]}]}
    found = run(table, body)
    assert 3000 < found.usage.cache_write_1h < found.usage.cache_write_1h + found.usage.cache_write_5m
    assert found.usage.cache_write_5m > 3000 and found.usage.input_tokens == 0
    assert sorted(ttl for _, ttl in found.writes) == [300.0, 3600.0]


def test_entry_expires_after_its_ttl_and_a_hit_restarts_it() -> None:
    clock = Clock()
    table = CacheTable(64, clock=clock)
    body = {"system": [text(LONG, MARK)], "messages": [{"role": "user", "content": "q"}]}
    run(table, body, ttl_scale=0.01)  # 3 s
    clock.t += 2.5
    assert run(table, body, ttl_scale=0.01).hit  # refreshed: lives until +5.5
    clock.t += 2.5
    assert run(table, body, ttl_scale=0.01).hit  # past the first expiry: only the refresh kept it
    clock.t += 3.1
    assert not run(table, body, ttl_scale=0.01).hit


def test_an_entry_is_readable_only_once_its_response_begins() -> None:
    clock = Clock()
    table = CacheTable(64, clock=clock)
    table.commit([(b"k" * 16, 300.0)], [], ready_in_s=1.0)
    assert table.present([b"k" * 16]) == [False]
    clock.t += 1.0
    assert table.present([b"k" * 16]) == [True]


def test_table_is_bounded_and_evicts_the_soonest_expiring() -> None:
    clock = Clock()
    table = CacheTable(WAYS, clock=clock)  # one set
    keys = [bytes([i]) * 16 for i in range(1, 3 * WAYS)]
    for i, key in enumerate(keys):
        table.commit([(key, 100.0 + i)], [], 0.0)
    assert table.capacity == WAYS and table.entries() == WAYS
    assert table.present(keys) == [False] * (len(keys) - WAYS) + [True] * WAYS
    clock.t += 1000
    assert table.entries() == 0
    table.commit([(keys[0], 100.0)], [], 0.0)
    assert table.clear() == 1 and table.entries() == 0


def _child_writes(table: CacheTable, key: bytes) -> None:
    table.commit([(key, 60.0)], [], 0.0)


def test_shared_table_is_seen_by_a_forked_process() -> None:
    table = CacheTable(64, shared=True)
    child = multiprocessing.get_context("fork").Process(target=_child_writes, args=(table, b"s" * 16))
    child.start()
    child.join(10)
    assert child.exitcode == 0 and table.present([b"s" * 16]) == [True]


def test_breakpoint_rules_and_the_apis_400s() -> None:
    five = {"system": [text(str(i), MARK) for i in range(4)], "messages": [{"role": "user", "content": "q"}]}
    assert len(pc.breakpoints(five)) == 4
    with pytest.raises(ApiError, match=r": A maximum of 4 blocks with cache_control may be provided\. Found 5\.$"):
        pc.breakpoints({**five, "cache_control": MARK})
    mixed = {"system": [text("a", MARK), text("b", MARK_1H)], "messages": []}
    with pytest.raises(ApiError, match=r": system\.1\.cache_control\.ttl: a ttl='1h' cache_control block must not "):
        pc.breakpoints(mixed)
    with pytest.raises(ApiError, match=r"messages\.0\.content\.0\.thinking\.cache_control: Extra inputs"):
        pc.breakpoints({"messages": [{"role": "assistant", "content": [{"type": "thinking", "cache_control": MARK}]}]})
    with pytest.raises(ApiError, match=r"system\.0\.cache_control\.ttl: Input should be '5m' or '1h'"):
        pc.breakpoints({"system": [text("a", {"type": "ephemeral", "ttl": "2h"})]})
    with pytest.raises(ApiError, match=r"differs"):
        pc.breakpoints({"system": [text("a", MARK)], "cache_control": MARK_1H})


def test_automatic_breakpoint_goes_on_the_last_eligible_block() -> None:
    body = {
        "system": "s",
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [text("answer"), {"type": "thinking", "thinking": "t"}, text("")]},
        ],
        "cache_control": MARK_1H,
    }
    [bp] = pc.breakpoints(body)
    assert (bp.path, bp.ttl) == ("messages.1.content.0", "1h")
    # The same TTL already on the last block: a no-op, not a second breakpoint.
    same = {"messages": [{"role": "user", "content": [text("q", MARK)]}], "cache_control": MARK}
    assert len(pc.breakpoints(same)) == 1


def test_cache_reads_count_toward_itpm_only_on_the_dagger_models() -> None:
    found = pc.Lookup(InputUsage(10, cache_read=1000, cache_write_5m=100))
    assert found.itpm_tokens("claude-sonnet-4-6") == 110
    assert found.itpm_tokens("claude-3-5-haiku-20241022") == 1110
