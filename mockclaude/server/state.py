"""The running mock's state: options fixed at start, settings swappable at runtime, shared parts."""

import random
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mockclaude.limits import prompt_cache_store
from mockclaude.limits.acceleration import AccelerationLimiter, AccelerationSpec
from mockclaude.limits.faults import FaultInjector, Outage
from mockclaude.limits.prompt_cache import CacheStore
from mockclaude.limits.ratelimit import RateLimiter
from mockclaude.server.batch_store import BatchOptions, BatchStore
from mockclaude.server.settings import Settings
from mockclaude.server.stats import Stats
from mockclaude.server.watch import Watch
from mockclaude.synth.content import TokenSource

if TYPE_CHECKING:
    from mockclaude.fixtures.recorded import Recordings


@dataclass(frozen=True)
class Options:
    """What is fixed for the life of the server."""

    api_keys: frozenset[str] = frozenset()
    any_model: bool = False
    admin: bool = True
    admin_token: str | None = None
    seed: int | None = None
    idle_timeout_s: float = 120.0  # a silent client (idle, or stalled in headers or body) is closed
    org_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    batches: BatchOptions | None = field(default_factory=BatchOptions)  # None: no batches (--workers N)
    outages: tuple[Outage, ...] = ()  # faults on a schedule (--outage)
    stall_s: float = 30.0  # how long a `stall` fault holds the connection
    slow_headers_s: float = 5.0  # how long a `slow-headers` fault delays the status line
    acceleration: AccelerationSpec | None = None  # --acceleration-limit
    prompt_cache_entries: int = prompt_cache_store.DEFAULT_ENTRIES  # memory bound of this process's cache


class MockState:
    """Shared by all handlers of one server process (single-threaded asyncio: no locks)."""

    def __init__(self, options: Options, settings: Settings) -> None:
        self.options = options
        self.rng = random.Random(options.seed)
        self.source = TokenSource(options.seed)
        self.stats = Stats()
        self.faults = FaultInjector(
            list(settings.faults),
            seed=None if options.seed is None else options.seed + 1,
            outages=options.outages,
            stall_s=options.stall_s,
            slow_headers_s=options.slow_headers_s,
        )
        self.settings = settings
        self.limiter = RateLimiter(settings.rate_limit, org_id=options.org_id)
        self.recorded: Recordings | None = None  # --fixtures / --profile: answer like the recording
        self.batches = BatchStore(options.batches) if options.batches is not None else None
        self.watch = Watch()  # the client verdict
        self.acceleration = AccelerationLimiter(options.acceleration) if options.acceleration else None
        # Shared with the other workers or hosts when `serve` installed a shared store.
        self.prompt_cache: CacheStore = prompt_cache_store.shared or prompt_cache_store.CacheTable(
            options.prompt_cache_entries
        )
        self.stats.cache_entries_from(self.prompt_cache.entries)

    def apply(self, new: Settings) -> None:
        """Swap in new settings; the rate limiter restarts (full buckets) only if its limits changed."""
        if new.rate_limit != self.settings.rate_limit:
            self.limiter = RateLimiter(new.rate_limit, org_id=self.options.org_id)
        if new.faults != self.settings.faults:
            self.faults.specs = list(new.faults)
        self.settings = new

    def reset_limits(self) -> None:
        """Refill every rate-limit bucket, forget usage growth, restart outage windows."""
        self.limiter = RateLimiter(self.settings.rate_limit, org_id=self.options.org_id)
        if self.acceleration is not None:
            self.acceleration = AccelerationLimiter(self.acceleration.spec)
        self.faults.restart()
