"""Ids: the API's shapes, every base58 character equally likely, seeded ids reproducible, unseeded ones distinct."""

import os
import random
import re
import threading
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


def test_a_forked_worker_never_makes_its_parents_ids() -> None:
    # Unseeded ids come from a stock drawn ahead; a worker of --workers N forks with a copy of it.
    ids.request_id()  # the parent's stock is now full
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, then leave without running pytest's exit handlers
        os.write(write, " ".join(ids.request_id() for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as f:
        child = set(f.read().split())
    parent = {ids.request_id() for _ in range(50)}
    assert len(child) == 50 and not child & parent


def test_unseeded_ids_from_threads_never_repeat() -> None:
    made: list[str] = []

    def make() -> None:
        made.extend([ids.request_id() for _ in range(5_000)])

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(made)) == len(made) == 20_000


def test_unseeded_characters_equally_likely() -> None:
    counts = Counter("".join(ids.request_id()[8:] for _ in range(20_000)))
    expected = 20_000 * 20 / 58
    assert set(counts) == set(BASE58)
    assert sum((n - expected) ** 2 / expected for n in counts.values()) < 110
