"""mockclaude.recent: entries kept lately, bounded by their keys' total length, the oldest out first."""

from mockclaude.recent import Recent


def test_the_oldest_entries_make_room_and_the_tally_stays_true() -> None:
    kept: Recent[str, int] = Recent(9)
    for i, key in enumerate(["aaaa", "bbbb", "cc", "dddd"]):
        kept.keep(key, i)
    assert list(kept) == ["cc", "dddd"] and kept.size == 6  # each of the last two made the oldest go
    assert kept.get("aaaa") is None and kept.get("dddd") == 3


def test_keeping_a_key_again_replaces_it_as_the_newest() -> None:
    kept: Recent[str, int] = Recent(7)
    kept.keep("aaa", 1)
    kept.keep("bbb", 2)
    kept.keep("aaa", 3)  # now the newest: "bbb" is the next to go
    kept.keep("cc", 4)
    assert list(kept) == ["aaa", "cc"] and kept.get("aaa") == 3 and kept.size == 5


def test_a_key_longer_than_the_largest_is_neither_kept_nor_looked_up() -> None:
    kept: Recent[bytes, int] = Recent(100, largest=4)
    kept.keep(b"12345", 1)
    kept.keep(b"x" * 200, 2)  # larger than the whole budget too: nothing evicted
    kept.keep(b"1234", 3)
    assert len(kept) == 1 and b"12345" not in kept and kept.get(b"12345") is None and kept.size == 4


def test_own_size_keeps_only_the_keys_own_bytes() -> None:
    import tracemalloc

    import orjson

    from mockclaude.recent import own_size

    kept: Recent[bytes, int] = Recent(10**6)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(500):
            key = orjson.dumps({"n": i})
            copy = own_size(key)
            assert copy == key
            kept.keep(copy, i)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 500 * 400  # orjson's own bytes reserve 4 KiB each


def test_remembered_computes_a_value_once_and_keeps_no_failure() -> None:
    import pytest

    from mockclaude.recent import remembered

    kept: Recent[bytes, int] = Recent(10**4)
    calls: list[object] = []

    def compute(value: object) -> int:
        calls.append(value)
        if value == {"bad": True}:
            raise ValueError("refused")
        return len(calls)

    assert remembered(kept, {"a": [1]}, compute, {"a": [1]}) == 1
    assert remembered(kept, {"a": [1]}, compute, "ignored: remembered") == 1  # an equal value: no call
    for _ in range(2):  # a failure is not kept: it is computed, and raises, every time
        with pytest.raises(ValueError):
            remembered(kept, {"bad": True}, compute, {"bad": True})
    huge = {"n": 2**70}  # orjson cannot write it: computed every time, never kept
    assert remembered(kept, huge, compute, huge) == 4 and remembered(kept, huge, compute, huge) == 5
    assert len(kept) == 1 and len(calls) == 5


def test_an_entrys_own_cost_counts_in_the_bound() -> None:
    kept: Recent[bytes, int] = Recent(1_000, entry_bytes=200)
    for i in range(10):
        kept.keep(b"k%d" % i, i)  # 2 bytes of key, 200 of entry: 4 fit in 1,000, never 10
    assert list(kept) == [b"k6", b"k7", b"k8", b"k9"] and kept.size == 4 * 202
    kept.keep(b"k9", 9)  # kept again: counted once
    assert kept.size == 4 * 202 and kept.largest == 800  # a longer key could not fit with its entry's cost
    kept.keep(b"x" * 801, 1)
    assert len(kept) == 4 and b"x" * 801 not in kept
