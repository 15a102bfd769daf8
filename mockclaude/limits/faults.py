"""What to inject and when: `--fault KIND:PROB` draws, `--outage KIND@START-END` windows, seedable,
and per-request header overrides."""

import random
import time
from dataclasses import dataclass

# 429/500/529 answer before any byte of the body; `midstream` sends an `error` event after some
# deltas (as the real API does with overloaded_error); `disconnect` drops the connection mid-stream;
# `truncate` ends the stream cleanly (chunked body closed) without `message_stop`, which the SDKs do
# not report; `stall` stops sending mid-answer and holds the connection open; `slow-headers` delays
# the status line, then answers normally.
KINDS = ("429", "500", "529", "midstream", "disconnect", "truncate", "stall", "slow-headers")
# The kinds that break a stream after some content went out (they need a cut point).
STREAM_CUTS = ("midstream", "disconnect", "truncate", "stall")
FAULT_HEADER = "x-mockclaude-fault"
NONE = "none"


def _seconds(text: str, what: str) -> float:
    """`30`, `30s`, `1.5m` or `2h` as seconds."""
    t = text.strip().lower()
    scale = {"s": 1.0, "m": 60.0, "h": 3600.0}.get(t[-1:])
    try:
        value = float(t[:-1] if scale else t) * (scale or 1.0)
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a duration such as 30, 30s or 1.5m") from None
    if not 0 <= value < float("inf"):
        raise ValueError(f"{what}: {text!r} must be a duration >= 0")
    return value


def _split_kind(flag: str, spec: str, sep: str) -> tuple[str, str, str]:
    """`KIND<sep>REST` of a flag value, the kind checked; ValueError names the flag and the kinds."""
    kind, found, rest = spec.strip().partition(sep)
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise ValueError(f"{flag} {spec!r}: unknown kind {kind!r}; kinds are {', '.join(KINDS)}")
    return kind, found, rest


@dataclass(frozen=True)
class FaultSpec:
    """One `KIND:PROB` rule."""

    kind: str
    probability: float

    @classmethod
    def parse(cls, spec: str) -> "FaultSpec":
        """Parse `KIND:PROB` (e.g. `529:0.05`); ValueError names the problem."""
        kind, sep, prob = _split_kind("--fault", spec, ":")
        if not sep:
            raise ValueError(f"--fault {spec!r}: expected KIND:PROB, e.g. {kind}:0.05")
        try:
            p = float(prob)
        except ValueError:
            raise ValueError(f"--fault {spec!r}: probability {prob!r} is not a number") from None
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"--fault {spec!r}: probability must be between 0 and 1")
        return cls(kind, p)


@dataclass(frozen=True)
class Outage:
    """One `KIND@START-END` window: every request between START and END seconds into the run fails."""

    kind: str
    start_s: float
    end_s: float

    @classmethod
    def parse(cls, spec: str) -> "Outage":
        """Parse `KIND@START-END` (e.g. `529@30s-60s`); ValueError names the problem."""
        kind, sep, window = _split_kind("--outage", spec, "@")
        start, dash, end = window.partition("-")
        if not sep or not dash:
            raise ValueError(f"--outage {spec!r}: expected KIND@START-END, e.g. {kind}@30s-60s")
        lo, hi = _seconds(start, f"--outage {spec!r}"), _seconds(end, f"--outage {spec!r}")
        if hi <= lo:
            raise ValueError(f"--outage {spec!r}: the window must end after it starts")
        return cls(kind, lo, hi)


class FaultInjector:
    """Decides per request which fault (if any) to inject."""

    def __init__(
        self,
        specs: list[FaultSpec],
        seed: int | None = None,
        outages: tuple[Outage, ...] = (),
        stall_s: float = 30.0,
        slow_headers_s: float = 5.0,
    ) -> None:
        total = sum(s.probability for s in specs)
        if total > 1.0 + 1e-9:
            raise ValueError(f"--fault probabilities add up to {total:g}, more than 1")
        self.specs = list(specs)
        self.outages = outages
        self.stall_s = stall_s  # how long a `stall` holds the connection before closing it
        self.slow_headers_s = slow_headers_s  # how long `slow-headers` delays the status line
        self._rng = random.Random(seed)
        self.restart()

    def restart(self) -> None:
        """Outage windows count from now (server start, or an admin reset)."""
        self.started = time.monotonic()

    def pick(self, override: str | None = None) -> str | None:
        """The fault for the next request: the header override if given, else an outage window in
        force, else a seeded draw."""
        if override:
            kind = override.strip().lower()
            if kind in (NONE, ""):
                return None
            if kind not in KINDS:
                raise ValueError(f"{FAULT_HEADER}: unknown kind {kind!r}; kinds are {', '.join((*KINDS, NONE))}")
            return kind
        if self.outages:
            since = time.monotonic() - self.started
            for o in self.outages:
                if o.start_s <= since < o.end_s:
                    return o.kind
        if not self.specs:
            return None
        # One draw per request, partitioned among kinds, so the rates add up exactly.
        x = self._rng.random()
        for spec in self.specs:
            if x < spec.probability:
                return spec.kind
            x -= spec.probability
        return None

    def cut_point(self, n_deltas: int) -> int:
        """After how many content deltas a mid-stream fault strikes (at least one delta goes out)."""
        if n_deltas <= 1:
            return n_deltas
        return self._rng.randint(1, max(1, (n_deltas * 4) // 5))

    def describe(self) -> dict[str, float]:
        """The configured rates, for the admin API."""
        return {s.kind: s.probability for s in self.specs}
