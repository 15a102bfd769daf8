"""Ids: the API's shapes, every base58 character equally likely, seeded ids reproducible, unseeded ones distinct."""

import random
import re
from collections import Counter

from mockclaude.wire import ids

BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
SHAPES = {
    ids.message_id: re.compile(rf"msg_011C[{BASE58}]{{20}}"),
    ids.tool_use_id: re.compile(rf"toolu_01[{BASE58}]{{22}}"),
    ids.batch_id: re.compile(rf"msgbatch_01[{BASE58}]{{22}}"),
}


def test_shapes_seeded_and_not() -> None:
    rng = random.Random(3)
    for make, shape in SHAPES.items():
        for _ in range(200):
            assert shape.fullmatch(make(rng)) and shape.fullmatch(make())
    for _ in range(200):
        assert re.fullmatch(rf"req_011C[{BASE58}]{{20}}", ids.request_id())


def test_a_seed_gives_the_same_ids_and_another_seed_others() -> None:
    def draw(seed: int) -> list[str]:
        rng = random.Random(seed)
        return [f(rng) for f in (ids.message_id, ids.tool_use_id, ids.batch_id) for _ in range(50)]

    assert draw(7) == draw(7)
    assert not set(draw(7)) & set(draw(8))


def test_unseeded_ids_never_repeat() -> None:
    made = [ids.request_id() for _ in range(20_000)] + [ids.message_id() for _ in range(20_000)]
    assert len(set(made)) == len(made)


def test_every_character_equally_likely() -> None:
    # 20,000 ids x 20 characters: each of the 58 is expected 6,897 times (sd about 82). A modulo
    # mapping of bytes would give the first 24 characters 5/4 of the others' share (+1,700).
    rng = random.Random(11)
    counts = Counter("".join(ids.message_id(rng)[8:] for _ in range(20_000)))
    assert set(counts) == set(BASE58)
    expected = 20_000 * 20 / 58
    assert all(abs(n - expected) < 6 * 82 for n in counts.values()), counts
    chi2 = sum((n - expected) ** 2 / expected for n in counts.values())
    assert chi2 < 110  # 57 degrees of freedom: p < 1e-4


class _Unlucky(random.Random):
    """Its first draw holds only bytes the id mapping must reject."""

    def __init__(self) -> None:
        super().__init__(5)
        self.first = True

    def randbytes(self, n: int) -> bytes:
        if self.first:
            self.first = False
            return bytes([255]) * n
        return super().randbytes(n)


def test_a_short_draw_is_topped_up() -> None:
    assert SHAPES[ids.tool_use_id].fullmatch(ids.tool_use_id(_Unlucky()))
