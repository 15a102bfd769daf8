"""The running mock's state: options fixed at start, settings swappable at runtime, shared parts."""

import random
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mockclaude.limits import prompt_cache_store
from mockclaude.limits.acceleration import AccelerationSpec
from mockclaude.limits.faults import Outage
from mockclaude.limits.prompt_cache import CacheStore
from mockclaude.rules.spec import Rule
from mockclaude.server.batch_store import BatchOptions, BatchStore
from mockclaude.server.passed import PassedBodies
from mockclaude.server.scopes import Scope
from mockclaude.server.settings import Settings
from mockclaude.server.watch import Watch
from mockclaude.synth.content import TokenSource

if TYPE_CHECKING:
    from mockclaude.fixtures.recorded import Recordings
    from mockclaude.server.upstream import Upstream


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
    """Shared by all handlers of one server process (single-threaded asyncio: no locks).

    `settings`, `faults`, `limiter`, `stats` and `acceleration` are the default scope's (requests
    without `x-mockclaude-scope`); `scope(name)` gives a named scope's own.
    """

    def __init__(self, options: Options, settings: Settings) -> None:
        self.options = options
        self.rng = random.Random(options.seed)
        self.source = TokenSource(options.seed)
        self.default = Scope(None, options, settings)
        self.scopes: dict[str, Scope] = {}
        # Server-wide rules (--rules, and the admin API without a scope), tried after a scope's own.
        self.rules: list[Rule] = []
        self.strict_rules = False  # --strict-rules: a request no rule matches is a 404 listing the closest rules
        self.recorded: Recordings | None = None  # --fixtures / --profile: answer like the recording
        self.upstream: Upstream | None = None  # --record-missing: where unanswered requests go
        self.batches = BatchStore(options.batches) if options.batches is not None else None
        self.watch = Watch()  # the client verdict
        self.passed = PassedBodies()  # Messages bodies that passed the checks lately
        # Shared with the other workers or hosts when `serve` installed a shared store; its entries are
        # keyed by server.common.scoped_key, so scopes never share them.
        self.prompt_cache: CacheStore = prompt_cache_store.shared or prompt_cache_store.CacheTable(
            options.prompt_cache_entries
        )
        self.stats.cache_entries_from(self.prompt_cache.entries)

    settings = property(lambda self: self.default.settings, doc="The default scope's settings.")
    faults = property(lambda self: self.default.faults, doc="The default scope's fault injector.")
    limiter = property(lambda self: self.default.limiter, doc="The default scope's rate limiter.")
    stats = property(lambda self: self.default.stats, doc="The default scope's (and the server's) stats.")
    acceleration = property(lambda self: self.default.acceleration, doc="The default scope's acceleration limiter.")

    def scope(self, name: str | None) -> Scope:
        """The named scope (made on first use from the server's settings), or the default one."""
        if name is None:
            return self.default
        scope = self.scopes.get(name)
        if scope is None:
            scope = self.scopes[name] = Scope(name, self.options, self.default.settings)
        return scope

    def drop_scope(self, name: str) -> None:
        """Forget a named scope: its next request starts it afresh from the server's settings."""
        self.scopes.pop(name, None)
        self.watch.judge.forget(name)

    def apply(self, new: Settings) -> None:
        """Swap in new settings for the default scope."""
        self.default.apply(new)

    def reset_limits(self) -> None:
        """Refill every rate-limit bucket, forget usage growth, restart outage windows (default scope)."""
        self.default.reset_limits()
