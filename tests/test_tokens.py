"""Token counts: the cache of recent texts gives tiktoken's own counts and stays within its bound."""

import random
import threading
from collections import OrderedDict

import pytest

from mockclaude import tokens


def direct(text: str) -> int:
    return len(tokens.encoding().encode(text, disallowed_special=()))


@pytest.fixture
def small_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "CACHED_CHARS", 4_000)
    monkeypatch.setattr(tokens, "_counts", OrderedDict())
    monkeypatch.setattr(tokens, "_counted_chars", 0)


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
        assert tokens._counted_chars == sum(map(len, tokens._counts)) <= tokens.CACHED_CHARS
    big = "y" * (tokens.CACHED_CHARS // 8 + 1)  # larger than one entry may be: counted, not kept
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
    assert tokens._counted_chars == sum(map(len, tokens._counts)) <= tokens.CACHED_CHARS
