"""Identifiers shaped like the real API's: msg_011C…, toolu_01…, req_011C…, 24 chars after the prefix."""

import random

# The real ids look base58 (no 0, O, I, l).
_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_SYSRANDOM = random.SystemRandom()


def _tail(n: int, rng: random.Random | None) -> str:
    r = rng or _SYSRANDOM
    return "".join(r.choice(_ALPHABET) for _ in range(n))


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
