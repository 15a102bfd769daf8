"""What the rate limiter does while its shared store (Redis) cannot be reached: `--limits-on-store-failure`.

- `open` (the default): admit requests unchecked (the headers show full buckets), so a load test
  keeps running through a Redis restart;
- `closed`: answer 529 `overloaded_error` with a message naming the store.

Either way: one log line when the store goes away and one when it is back, never a traceback per
request and never a 500. While it is away, requests do not touch it (no timeout per request): a
background thread pings it every PROBE_S and lets requests through to it again once it answers.
Settling a request's output tokens is skipped while the store is away (nothing to correct), and an
admin reset then refills nothing (with `closed`, it is refused with the same 529).
"""

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from mockclaude.limits.ratelimit import Bucket, TakeResult
from mockclaude.limits.ratelimit_shared import ClearableStore, StoreUnavailable
from mockclaude.wire.errors import ApiError

log = logging.getLogger("mockclaude.limits")

POLICIES = ("open", "closed")
PROBE_S = 0.5


class RemoteStore(ClearableStore, Protocol):
    """A shared store that can fail: it raises StoreUnavailable, has a name, and can be pinged."""

    name: str

    def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""
        ...


class GuardedStore:
    """A RemoteStore behind the outage policy; a BucketStore that never raises StoreUnavailable."""

    def __init__(self, store: RemoteStore, policy: str) -> None:
        if policy not in POLICIES:
            raise ValueError(f"--limits-on-store-failure must be one of {', '.join(POLICIES)}, not {policy!r}")
        self._store = store
        self.policy = policy
        self._down_since: float | None = None  # monotonic start of the current outage
        self._lock = threading.Lock()  # the event loop and the probe thread both change the state
        self.outages = 0
        self.unchecked = 0  # requests admitted without a check (open)
        self.refused = 0  # requests answered 529 (closed)

    @property
    def reachable(self) -> bool:
        """Whether the last contact with the store worked."""
        return self._down_since is None

    def take(self, key: str, buckets: Sequence[Bucket], amounts: Sequence[float], now: float) -> TakeResult:
        """See BucketStore.take; while the store is away, the policy decides."""
        if self.reachable:
            try:
                return self._store.take(key, buckets, amounts, now)
            except StoreUnavailable as exc:
                self._went_away(exc)
        return self._without_store(buckets, admitting=True)

    def adjust(self, key: str, bucket: Bucket, delta: float, now: float) -> None:
        """See BucketStore.adjust; skipped while the store is away."""
        if self.reachable:
            try:
                self._store.adjust(key, bucket, delta, now)
            except StoreUnavailable as exc:
                self._went_away(exc)

    def levels(self, key: str, buckets: Sequence[Bucket], now: float) -> list[float]:
        """See BucketStore.levels; while the store is away, full buckets (open) or a 529 (closed)."""
        if self.reachable:
            try:
                return self._store.levels(key, buckets, now)
            except StoreUnavailable as exc:
                self._went_away(exc)
        return self._without_store(buckets, admitting=False)[1]

    def clear(self) -> None:
        """Refill every bucket; while the store is away, nothing to refill (open) or a 529 (closed)."""
        if self.reachable:
            try:
                self._store.clear()
                return
            except StoreUnavailable as exc:
                self._went_away(exc)
        self._without_store([], admitting=False)

    def _without_store(self, buckets: Sequence[Bucket], *, admitting: bool) -> TakeResult:
        if self.policy == "closed":
            if admitting:
                self.refused += 1
            raise ApiError(
                529,
                f"Overloaded: the shared rate-limit store {self._store.name} is unreachable, and this mock "
                "refuses what it cannot check (--limits-on-store-failure closed).",
                error_type="overloaded_error",
            )
        if admitting:
            self.unchecked += 1
        return True, [float(b.capacity) for b in buckets]

    def _went_away(self, exc: StoreUnavailable) -> None:
        with self._lock:
            if self._down_since is not None:
                return
            self._down_since = time.monotonic()
            self.outages += 1
        doing = "admitting requests unchecked" if self.policy == "open" else "answering 529 overloaded_error"
        log.warning(
            "rate-limit store %s is unreachable (%s); %s until it is back (--limits-on-store-failure %s)",
            self._store.name,
            exc,
            doing,
            self.policy,
        )
        threading.Thread(target=self._probe, name="mockclaude-store-probe", daemon=True).start()

    def _probe(self) -> None:
        """Ping the store until it answers, then let requests use it again (one log line)."""
        while True:
            time.sleep(PROBE_S)
            try:
                self._store.ping()
            except StoreUnavailable:
                continue
            break
        with self._lock:
            since, self._down_since = self._down_since, None
        away = time.monotonic() - since if since is not None else 0.0
        log.warning(
            "rate-limit store %s is back after %.1f s (%d requests admitted unchecked, %d refused so far)",
            self._store.name,
            away,
            self.unchecked,
            self.refused,
        )

    def status(self) -> dict[str, Any]:
        """The store's state as the admin API shows it."""
        return {
            "store": self._store.name,
            "reachable": self.reachable,
            "on_failure": self.policy,
            "outages": self.outages,
            "admitted_unchecked": self.unchecked,
            "refused": self.refused,
        }
