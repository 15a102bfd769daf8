"""Scopes (`x-mockclaude-scope: NAME`): each has its own settings (faults, rate limits), rate-limit
buckets, fault draws and outage clock, stats, rules and their use counts, and recorded-turn counters,
so tests sharing one server never see each other's state. Requests without the header use the
default scope, the server's own."""

from typing import TYPE_CHECKING

from mockclaude.fixtures.turns import LocalTurns
from mockclaude.limits.acceleration import AccelerationLimiter
from mockclaude.limits.faults import FaultInjector
from mockclaude.limits.ratelimit import RateLimiter
from mockclaude.rules.spec import Rule
from mockclaude.server.settings import Settings
from mockclaude.server.stats import Stats

if TYPE_CHECKING:
    from mockclaude.server.state import Options

# A scope name is a short label: tests name them after themselves.
MAX_NAME = 200


class Scope:
    """The state of one scope: what requests in it change, and what only they see."""

    def __init__(self, name: str | None, options: "Options", settings: Settings, stats: Stats | None = None) -> None:
        self.name = name
        self.options = options
        self.settings = settings
        self.stats = stats or Stats()
        self.faults = FaultInjector(
            list(settings.faults),
            seed=None if options.seed is None else options.seed + 1,
            outages=options.outages,
            stall_s=options.stall_s,
            slow_headers_s=options.slow_headers_s,
        )
        self.limiter = RateLimiter(settings.rate_limit, org_id=options.org_id)
        self.acceleration = AccelerationLimiter(options.acceleration) if options.acceleration else None
        self.rules: list[Rule] = []  # added for this scope (the admin API, the pytest plugin): tried first
        self.used: dict[Rule, int] = {}  # matches per rule, its own and the server-wide ones
        # Which recorded answer comes next, per recorded request; None: the recordings' own (the default scope).
        self.turns = LocalTurns() if name is not None else None

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


def check_name(name: str) -> str:
    """A scope name as given in the header or an admin path; ValueError when it cannot be one."""
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise ValueError(f"a scope name is 1-{MAX_NAME} printable characters, not {name[:MAX_NAME]!r}")
    return name
