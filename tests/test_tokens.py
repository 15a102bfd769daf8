"""Token counts: the cache of recent texts gives tiktoken's own counts and stays within its bound."""

import copy
import random
import threading

import pytest

from mockclaude import tokens
from mockclaude.recent import Recent


def direct(text: str) -> int:
    return len(tokens.encoding().encode(text, disallowed_special=()))


@pytest.fixture
def small_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_counts", Recent(4_000, largest=500))


def held_within_bound() -> bool:
    """The cache's own tally of characters is the truth, and within its bound."""
    return tokens._counts.size == sum(map(len, tokens._counts)) <= tokens._counts.held


def test_cached_counts_are_tiktokens(small_cache: None) -> None:
    rng = random.Random(2)
    words = ["hello", " world", "日本語", "<|endoftext|>", "\n\n", '{"a": 1}', "🙂", "x"]
    texts = ["".join(rng.choice(words) for _ in range(rng.randrange(1, 60))) for _ in range(300)]
    for text in texts * 3 + texts[::-1]:  # first sight, hits, and texts aged out and counted again
        assert tokens.count_text(text) == direct(text)
    assert tokens.count_text("") == 0


def test_the_cache_keeps_within_its_characters(small_cache: None) -> None:
    for i in range(2_000):
        tokens.count_text(f"text number {i} " * 5)
        assert held_within_bound()
    big = "y" * 501  # larger than one entry may be: counted, not kept
    assert tokens.count_text(big) == direct(big) and big not in tokens._counts


def test_threads_share_the_cache_safely(small_cache: None) -> None:
    texts = [f"thread text {i} " * (i % 7 + 1) for i in range(400)]
    wrong: list[str] = []

    def count() -> None:
        for text in random.Random().sample(texts, len(texts)):
            if tokens.count_text(text) != direct(text):
                wrong.append(text)

    workers = [threading.Thread(target=count) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not wrong
    assert held_within_bound()


def test_json_counts_are_those_of_json_dumps_text(small_cache: None) -> None:
    import json

    values = [
        {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
        {"b": 1, "a": [1.5, -0.0, 1e16, None, True], "日本": "語 🙂"},
        {"a": [1.5, -0.0, 1e16, None, True], "b": 1, "日本": "語 🙂"},  # the same, other key order
        [{"x": "<|endoftext|>"}, "y", 3],
        {"big": 2**70},  # beyond orjson's integers: counted (every time, never kept)
    ]
    for _ in range(2):  # first sight, then hits
        for v in values:
            for sort_keys in (False, True):
                text = json.dumps(v, ensure_ascii=False, sort_keys=sort_keys)
                assert tokens.count_json(v, sort_keys=sort_keys) == direct(text)
    assert held_within_bound()


def test_a_tool_definition_is_counted_once_across_requests(small_cache: None, monkeypatch: pytest.MonkeyPatch) -> None:
    tool = {"name": "lookup", "description": "Finds an order. " * 20, "input_schema": {"type": "object"}}
    body = {"messages": [{"role": "user", "content": "hi"}], "tools": [tool]}
    first = tokens.count_request(body)
    written: list[object] = []
    real = tokens.json.dumps
    monkeypatch.setattr(tokens.json, "dumps", lambda value, **kw: written.append(value) or real(value, **kw))
    again = {"messages": [{"role": "user", "content": "hi"}], "tools": [dict(tool)]}  # new objects, same JSON
    assert tokens.count_request(again) == first and written == []  # neither written out nor encoded again


def test_a_history_and_tools_are_summed_once_across_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    tool = {"name": "lookup_history", "input_schema": {"type": "object"}}
    history = [
        {"role": "user", "content": [{"type": "text", "text": "Where is order H1?"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "lookup_history", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "Shipped."}]},
    ]
    plain = tokens.PER_REQUEST + sum(
        tokens.PER_MESSAGE + sum(map(tokens._count_block, m["content"])) for m in history
    ) + tokens.count_tool(tool)
    assert tokens.count_request({"messages": history, "tools": [tool]}) == plain
    summed: list[object] = []
    real_block, real_tool = tokens._count_block, tokens._count_tool_item
    monkeypatch.setattr(tokens, "_count_block", lambda b: summed.append(b) or real_block(b))
    monkeypatch.setattr(tokens, "_count_tool_item", lambda t: summed.append(t) or real_tool(t))
    again = {"messages": [*history, {"role": "user", "content": "And H2?"}], "tools": [dict(tool)]}
    again = copy.deepcopy(again)  # new objects, the same JSON
    assert tokens.count_request(again) == plain + tokens.PER_MESSAGE + tokens.count_text("And H2?")
    assert summed == ["And H2?"]  # only the new turn's text was looked at


def test_kept_json_keys_hold_only_their_own_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    import tracemalloc

    monkeypatch.setattr(tokens, "_counts", Recent(10**6))
    monkeypatch.setattr(tokens, "_content_counts", Recent(10**6))
    tokens.count_json({"warm": "up"})  # tiktoken's own first-use allocations
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(300):
            tokens.count_json({"order_id": f"A{i}"})
            tokens.count_content([{"type": "text", "text": f"turn {i}"}])
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(tokens._counts) >= 300 and len(tokens._content_counts) == 300
    assert held < 600 * 600  # orjson's own output reserves 4 KiB a key: 2.4 MB kept before own_size
