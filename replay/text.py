"""Prose of an exact token length, for replaying `shape`-anonymized fixtures.

One Faker text is tokenized once; each request takes a window of N tokens from it, so generating
text costs a slice and a decode, not a model.
"""

import random

from faker import Faker

from mockclaude.tokens import encoding

_CORPUS_PARAGRAPHS = 600


class TokenText:
    """Text of N tokens (cl100k estimate) cut from a fixed, seeded corpus."""

    def __init__(self, seed: int = 0) -> None:
        faker = Faker("en_US")
        faker.seed_instance(seed)
        corpus = " ".join(faker.paragraphs(_CORPUS_PARAGRAPHS))
        self._tokens = encoding().encode(corpus)

    def text(self, n: int, rng: random.Random) -> str:
        """About `n` tokens of prose (exact before re-tokenization at the window edges)."""
        if n <= 0:
            return ""
        size = len(self._tokens)
        out: list[int] = []
        while len(out) < n:
            take = min(n - len(out), size)
            start = rng.randrange(size - take + 1)
            out.extend(self._tokens[start : start + take])
        return encoding().decode(out).strip() or "ok"
