"""Rate limits as the real API applies them: RPM, ITPM and OTPM token buckets per API key.

Semantics follow reference §5.2–5.4: buckets are continuously refilled (capacity = the per-minute
limit, refill = limit/60 per second, no fixed windows); input tokens are charged at the start; output
tokens are estimated from `max_tokens` at the start and corrected by `settle` at the end; a 429
names the exhausted limit in the 2026 wording and carries `retry-after` and `x-should-retry: true`.

Deliberate differences from the real service (documented, not accidental):
- Buckets are per API key, not per organization and model class: with the mock, keys are how a
  user separates tenants in a test. The model is only named in the 429 message.
- A 60 RPM bucket admits a burst of 60 at once; the real API may enforce it as 1 request/second.
- There are no "acceleration limits" (429s for sharp ramps) and no workspace limits.
"""

import functools
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from mockclaude.wire.errors import ApiError

DOCS_URL = "https://docs.claude.com/en/api/rate-limits"
SALES_URL = "https://claude.com/contact-sales"
# Slack in bucket comparisons, so float rounding never rejects a request that waited retry-after.
_EPS = 1e-6
_PART = re.compile(r"^(\d[\d_]*)\s*(k?)\s*(rpm|itpm|otpm)$", re.IGNORECASE)
# (admitted?, bucket levels after the call)
type TakeResult = tuple[bool, list[float]]
_FORM = (
    "comma-separated NUMBER+UNIT with UNIT one of rpm, itpm, otpm, e.g. '50rpm,30000itpm,8000otpm' "
    "(case-insensitive; '_' may separate digits; a 'k' suffix means thousand: '30k itpm')"
)


@dataclass(frozen=True)
class RateLimits:
    """Per-minute limits; None means that dimension is not enforced."""

    rpm: int | None = None
    itpm: int | None = None
    otpm: int | None = None

    @classmethod
    def parse(cls, spec: str) -> "RateLimits":
        """Parse `--rate-limit`, e.g. `50rpm,30000itpm,8000otpm` or `30k itpm`."""
        values: dict[str, int] = {}
        parts = [p.strip() for p in spec.split(",")]
        if not spec.strip():
            raise ValueError(f"bad rate limit {spec!r}: it is empty; expected {_FORM}")
        for part in parts:
            m = _PART.match(part)
            if not m:
                raise ValueError(f"bad rate limit part {part!r} in {spec!r}: expected {_FORM}")
            digits, kilo, unit = m.group(1), m.group(2), m.group(3).lower()
            if digits.endswith("_") or "__" in digits:
                raise ValueError(f"bad rate limit part {part!r} in {spec!r}: misplaced '_'; expected {_FORM}")
            value = int(digits.replace("_", "")) * (1000 if kilo else 1)
            if value < 1:
                raise ValueError(f"bad rate limit part {part!r} in {spec!r}: a limit must be at least 1")
            if unit in values:
                raise ValueError(f"bad rate limit {spec!r}: {unit} is given twice")
            values[unit] = value
        return cls(**values)

    def __str__(self) -> str:
        return ",".join(f"{v}{k}" for k, v in (("rpm", self.rpm), ("itpm", self.itpm), ("otpm", self.otpm)) if v)


# Headers sent when no --rate-limit is given: a generous high tier, so clients that read the headers
# see plausible numbers. 4,000 RPM / 2,000,000 ITPM / 400,000 OTPM is our choice, modelled on
# Tier 4 for Claude Sonnet 4.x (the docs' caching example uses a 2,000,000 ITPM limit; reference §5.3
# shows a 2025 org at 4,000 RPM). Usage is still tracked, so `remaining` moves, but nothing is refused.
NOMINAL = RateLimits(rpm=4_000, itpm=2_000_000, otpm=400_000)


@dataclass(frozen=True)
class Bucket:
    """One token bucket: its header name, capacity per minute, and whether it may refuse requests."""

    name: str  # as in the header: requests | input-tokens | output-tokens
    unit: str  # as in the 429 message: requests | input tokens | output tokens
    capacity: int
    enforced: bool

    @property
    def rate(self) -> float:
        """Refill per second."""
        return self.capacity / 60.0


class BucketStore(Protocol):
    """Where bucket levels live. In memory for one process; a shared store (e.g. Redis, with the same
    arithmetic in a Lua script and the store's own clock) lets several workers share one limit.

    Every method first refills the key's buckets to `now`: level = min(capacity, level + elapsed·rate).
    A key never seen starts with full buckets. Each call must be atomic.
    """

    def take(self, key: str, buckets: Sequence[Bucket], amounts: Sequence[float], now: float) -> TakeResult:
        """If every enforced bucket holds its amount, subtract all amounts (unenforced buckets stop at
        0) and return (True, levels after); otherwise change nothing and return (False, levels)."""
        ...

    def adjust(self, key: str, bucket: Bucket, delta: float, now: float) -> None:
        """Add `delta` (a refund if positive, a charge if negative) to one bucket, capped at capacity."""
        ...

    def levels(self, key: str, buckets: Sequence[Bucket], now: float) -> list[float]:
        """Current levels (may be negative after an output larger than its estimate)."""
        ...


class MemoryBucketStore:
    """A BucketStore in a dict; for a single-threaded asyncio server, so it takes no locks."""

    def __init__(self) -> None:
        self._state: dict[str, dict[str, list[float]]] = {}  # key -> bucket name -> [level, stamp]

    def _refilled(self, key: str, buckets: Sequence[Bucket], now: float) -> dict[str, list[float]]:
        state = self._state.setdefault(key, {})
        for b in buckets:
            cell = state.get(b.name)
            if cell is None:
                state[b.name] = [float(b.capacity), now]
            else:
                elapsed = max(0.0, now - cell[1])
                cell[0] = min(float(b.capacity), cell[0] + elapsed * b.rate)
                cell[1] = now
        return state

    def take(self, key: str, buckets: Sequence[Bucket], amounts: Sequence[float], now: float) -> TakeResult:
        """See BucketStore.take."""
        state = self._refilled(key, buckets, now)
        ok = all(state[b.name][0] + _EPS >= a for b, a in zip(buckets, amounts, strict=True) if b.enforced)
        if ok:
            # Unenforced (nominal) buckets are not charged: a header that says "0 remaining" for a
            # limit that never refuses would make header-driven clients throttle for nothing.
            for b, a in zip(buckets, amounts, strict=True):
                if b.enforced:
                    state[b.name][0] -= a
        return ok, [state[b.name][0] for b in buckets]

    def adjust(self, key: str, bucket: Bucket, delta: float, now: float) -> None:
        """See BucketStore.adjust."""
        if not bucket.enforced:
            return
        cell = self._refilled(key, [bucket], now)[bucket.name]
        cell[0] = min(float(bucket.capacity), cell[0] + delta)

    def levels(self, key: str, buckets: Sequence[Bucket], now: float) -> list[float]:
        """See BucketStore.levels."""
        state = self._refilled(key, buckets, now)
        return [state[b.name][0] for b in buckets]


# The store a RateLimiter gets when none is given; `serve --workers/--redis` installs a shared one
# (mockclaude.limits.ratelimit_shared) before any limiter is made.
default_store: Callable[[], BucketStore] = MemoryBucketStore


class RateLimited(ApiError):
    """429 rate_limit_error with the real API's headers (`retry-after` when waiting can help)."""

    def __init__(self, message: str, headers: dict[str, str], bucket: str, retry_after: int | None) -> None:
        super().__init__(429, message, error_type="rate_limit_error", headers=headers)
        self.bucket = bucket
        self.retry_after = retry_after


@dataclass(slots=True)
class Admission:
    """An admitted request: what it was charged, and the rate-limit headers as of admission."""

    key: str
    input_tokens: int
    output_estimate: int
    headers: dict[str, str]
    settled: bool = field(default=False)


class RateLimiter:
    """Token buckets per API key for RPM, ITPM and OTPM; refuses with RateLimited, or never when
    `limits` is None (then the headers show NOMINAL, a generous tier, always full)."""

    def __init__(
        self,
        limits: RateLimits | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        org_id: str,
        store: BucketStore | None = None,
    ) -> None:
        self.limits = limits
        self.org_id = org_id
        self._clock = clock
        self._wall = wall
        self._store: BucketStore = store if store is not None else default_store()
        given = limits or RateLimits()
        dims = (
            ("requests", "requests", "rpm"),
            ("input-tokens", "input tokens", "itpm"),
            ("output-tokens", "output tokens", "otpm"),
        )
        self._buckets = tuple(
            Bucket(name, unit, getattr(given, attr) or getattr(NOMINAL, attr), getattr(given, attr) is not None)
            for name, unit, attr in dims
        )
        self._requests, self._input, self._output = self._buckets
        self._full = [float(b.capacity) for b in self._buckets]
        # Without limits, a store of this limiter's own is never charged (unenforced buckets never are):
        # every level stays full, so admission need not touch it. A given or shared store may have been
        # charged by a limiter that enforced these buckets, so it is always asked.
        self._always_full = (
            store is None and type(self._store) is MemoryBucketStore and not any(b.enforced for b in self._buckets)
        )
        self._full_second: tuple[int, dict[str, str]] | None = None  # the headers of full buckets, this second

    def output_estimate(self, max_tokens: int) -> int:
        """OTPM charged at admission: max_tokens, capped at the OTPM capacity.

        The real API estimates OTPM from max_tokens (reference §5.4). Without the cap, a request
        whose max_tokens exceeds the per-minute limit (common: 8,000 OTPM, max_tokens 32,000) could
        never be admitted, which the real API does not do; with it, such a request needs a full bucket.
        """
        return max(0, min(max_tokens, self._output.capacity))

    def admit(self, key: str, model: str, input_tokens: int, max_tokens: int) -> Admission:
        """Charge 1 request, the input tokens and the output estimate, or raise RateLimited (charging nothing)."""
        now = self._clock()
        estimate = self.output_estimate(max_tokens)
        if self._input.enforced and input_tokens > self._input.capacity:
            levels = self._store.levels(key, self._buckets, now)
            headers = self._headers(levels) | {"x-should-retry": "false"}
            message = (
                f"{self._exceeds(self._input, model)} This request has {input_tokens:,} input tokens, more than "
                f"that limit allows in a minute, so it cannot succeed however long you wait: reduce the "
                f"prompt length. For details, refer to: {DOCS_URL}. You may also contact sales at "
                f"{SALES_URL} to discuss your options for a rate limit increase."
            )
            raise RateLimited(message, headers, self._input.name, None)
        amounts = (1, input_tokens, estimate)
        if self._always_full:
            return Admission(key, input_tokens, estimate, self._headers(self._full))
        ok, levels = self._store.take(key, self._buckets, amounts, now)
        if ok:
            return Admission(key, input_tokens, estimate, self._headers(levels))
        # The bucket that needs the longest wait decides both the message and retry-after. Rounding
        # up with the same slack as the comparison makes retry-after enough and one second less not.
        waits = [
            ((a - level - _EPS) / b.rate, b)
            for b, a, level in zip(self._buckets, amounts, levels, strict=True)
            if b.enforced and level + _EPS < a
        ]
        wait, bucket = max(waits, key=lambda w: w[0])
        retry_after = math.ceil(wait)
        headers = self._headers(levels) | {"retry-after": str(retry_after), "x-should-retry": "true"}
        message = (
            f"{self._exceeds(bucket, model)} For details, refer to: {DOCS_URL}. You can see the response "
            f"headers for current usage. Please reduce the prompt length or the maximum tokens requested, "
            f"or try again later. You may also contact sales at {SALES_URL} to discuss your options for a "
            f"rate limit increase."
        )
        raise RateLimited(message, headers, bucket.name, retry_after)

    def settle(self, admission: Admission, output_tokens: int) -> None:
        """Correct the OTPM charge from the estimate to the output really produced (once; repeats are ignored)."""
        if admission.settled:
            return
        admission.settled = True
        delta = admission.output_estimate - output_tokens
        if delta:
            self._store.adjust(admission.key, self._output, delta, self._clock())

    def headers(self, key: str) -> dict[str, str]:
        """Every `anthropic-ratelimit-*` header for this key, now."""
        if self._always_full:
            return self._headers(self._full)
        return self._headers(self._store.levels(key, self._buckets, self._clock()))

    def _exceeds(self, bucket: Bucket, model: str) -> str:
        return (
            f"This request would exceed your organization's rate limit of {bucket.capacity:,} {bucket.unit} "
            f"per minute (org: {self.org_id}, model: {model})."
        )

    def _headers(self, levels: Sequence[float]) -> dict[str, str]:
        wall = self._wall()
        if levels == self._full:
            # Full buckets (always, without limits): only the reset second changes, so the headers
            # are built once a second (a copy each time: callers add to them).
            second = math.ceil(wall - _EPS)
            if self._full_second is None or self._full_second[0] != second:
                self._full_second = (second, self._computed(levels, wall))
            return self._full_second[1].copy()
        return self._computed(levels, wall)

    def _computed(self, levels: Sequence[float], wall: float) -> dict[str, str]:
        out: dict[str, str] = {}
        resets: dict[str, float] = {}
        remaining: dict[str, int] = {}
        for b, level in zip(self._buckets, levels, strict=True):
            # When the bucket is full again: the real API's "reset" (RFC 3339, whole seconds, rounded
            # up so a client that waits until then finds it full).
            resets[b.name] = wall + max(0.0, b.capacity - level) / b.rate
            remaining[b.name] = max(0, math.floor(level + _EPS))
            out[f"anthropic-ratelimit-{b.name}-limit"] = str(b.capacity)
            out[f"anthropic-ratelimit-{b.name}-remaining"] = str(remaining[b.name])
            out[f"anthropic-ratelimit-{b.name}-reset"] = _rfc3339(resets[b.name])
        # tokens-*: input + output (no workspace limits). Remaining is rounded to the nearest thousand
        # (docs); reset is the earlier of the two, as in both real samples of reference §5.2/§5.3.
        tokens = remaining["input-tokens"] + remaining["output-tokens"]
        out["anthropic-ratelimit-tokens-limit"] = str(self._input.capacity + self._output.capacity)
        out["anthropic-ratelimit-tokens-remaining"] = str(math.floor(tokens / 1000 + 0.5) * 1000)
        out["anthropic-ratelimit-tokens-reset"] = _rfc3339(min(resets["input-tokens"], resets["output-tokens"]))
        return out


def _rfc3339(ts: float) -> str:
    """`2025-08-21T12:40:59Z`: seconds precision, rounded up."""
    return _format_second(math.ceil(ts - _EPS))


@functools.lru_cache(maxsize=512)
def _format_second(second: int) -> str:
    # Cached: under load most headers of a second name the same few instants.
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
