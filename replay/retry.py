"""`--retry backoff`: exponential backoff with jitter that honours the server's retry-after."""

import random
from collections.abc import Mapping

BASE_S = 0.5
CAP_S = 8.0


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked to wait: `retry-after-ms` wins over `retry-after` (as in the SDK)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) * scale
        except ValueError:
            continue  # an HTTP date: rare, and the backoff below is a safe answer
        if value >= 0:
            return value
    return None


def backoff_s(retries_so_far: int, retry_after: float | None, rng: random.Random) -> float:
    """How long to wait before the next attempt."""
    if retry_after is not None and retry_after > 0:
        # Honour the server, with a little jitter so synchronized clients do not retry in lockstep.
        return retry_after * (1 + 0.1 * rng.random())
    return min(BASE_S * 2**retries_so_far, CAP_S) * (1 - 0.25 * rng.random())
