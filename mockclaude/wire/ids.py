"""Identifiers shaped like the real API's: msg_011C…, toolu_01…, req_011C…, 24 chars after the prefix."""

import itertools
import os
import random
from collections.abc import Iterator

# The real ids look base58 (no 0, O, I, l).
_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_SYSRANDOM = random.SystemRandom()
# Random bytes become characters in one bytes.translate: the bytes below 4 × 58 = 232 map to the
# alphabet four times over, the rest are deleted, so every character stays exactly equally likely.
_ACCEPTED = 4 * len(_ALPHABET)
_TABLE = (_ALPHABET * 4).encode().ljust(256, b"\0")
_REJECTED = bytes(range(_ACCEPTED, 256))


# Unseeded ids are cut from a stock of characters drawn from urandom a few thousand at a time: one
# urandom call per id was still a few percent of a JSON request's CPU. The stock is cut into slots,
# numbered by an itertools.count (whose next() is atomic): no two callers, threads included, ever get
# the same slot, and a caller that finds the stock used up takes a slot of a fresh one of its own.
_SLOT = 24  # characters a slot holds: the longest tail (22)
_SLOTS = 256


def _fresh_stock() -> tuple[str, Iterator[int]]:
    return _draw(_SLOT * _SLOTS, _SYSRANDOM), itertools.count()


_USED_UP: tuple[str, Iterator[int]] = ("", itertools.repeat(_SLOTS))
_stock = _USED_UP


def _restock() -> None:
    """Forget the stock (a forked worker must not make the ids its parent or siblings would)."""
    global _stock
    _stock = _USED_UP


os.register_at_fork(after_in_child=_restock)


def _unseeded(n: int) -> str:
    global _stock
    text, slots = _stock
    slot = next(slots)
    if slot >= _SLOTS:
        _stock = text, slots = _fresh_stock()
        slot = next(slots)
    return text[slot * _SLOT : slot * _SLOT + n]


def _tail(n: int, rng: random.Random | None) -> str:
    return _unseeded(n) if rng is None else _draw(n, rng)


def _draw(n: int, r: random.Random) -> str:
    # One draw of random bytes per id (or per stock) instead of one per character: 20 SystemRandom
    # calls per id were a fifth of the mock's CPU on non-streaming requests.
    out = b""
    while len(out) < n:
        # 9 in 10 bytes are kept: n + n/2 + 8 bytes fall short less than once in 10^9 draws.
        out += r.randbytes(n + n // 2 + 8).translate(_TABLE, _REJECTED)
    return out[:n].decode("ascii")


def message_id(rng: random.Random | None = None) -> str:
    """A `msg_` id in the 2026 form (`msg_011C` + 20 chars)."""
    return "msg_011C" + _tail(20, rng)


def tool_use_id(rng: random.Random | None = None) -> str:
    """A `toolu_` id (`toolu_01` + 22 chars)."""
    return "toolu_01" + _tail(22, rng)


def request_id() -> str:
    """A `req_` id; never seeded, since every response needs a distinct one."""
    return "req_011C" + _tail(20, None)


def batch_id(rng: random.Random | None = None) -> str:
    """A `msgbatch_` id."""
    return "msgbatch_01" + _tail(22, rng)
