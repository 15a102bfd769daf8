"""What to inject and when: `--fault KIND:PROB` draws, seedable, and per-request header overrides."""

import random
from dataclasses import dataclass

# 429/500/529 answer before any byte of the body; `midstream` sends an `error` event after some
# deltas (as the real API does with overloaded_error); `disconnect` drops the connection mid-stream.
KINDS = ("429", "500", "529", "midstream", "disconnect")
FAULT_HEADER = "x-mockclaude-fault"


@dataclass(frozen=True)
class FaultSpec:
    """One `KIND:PROB` rule."""

    kind: str
    probability: float

    @classmethod
    def parse(cls, spec: str) -> "FaultSpec":
        """Parse `KIND:PROB` (e.g. `529:0.05`); ValueError names the problem."""
        kind, sep, prob = spec.strip().partition(":")
        kind = kind.strip().lower()
        if kind not in KINDS:
            raise ValueError(f"--fault {spec!r}: unknown kind {kind!r}; kinds are {', '.join(KINDS)}")
        if not sep:
            raise ValueError(f"--fault {spec!r}: expected KIND:PROB, e.g. {kind}:0.05")
        try:
            p = float(prob)
        except ValueError:
            raise ValueError(f"--fault {spec!r}: probability {prob!r} is not a number") from None
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"--fault {spec!r}: probability must be between 0 and 1")
        return cls(kind, p)


class FaultInjector:
    """Decides per request which fault (if any) to inject."""

    def __init__(self, specs: list[FaultSpec], seed: int | None = None) -> None:
        total = sum(s.probability for s in specs)
        if total > 1.0 + 1e-9:
            raise ValueError(f"--fault probabilities add up to {total:g}, more than 1")
        self.specs = list(specs)
        self._rng = random.Random(seed)

    def pick(self, override: str | None = None) -> str | None:
        """The fault for the next request: the header override if given, else a seeded draw."""
        if override:
            kind = override.strip().lower()
            if kind in ("none", ""):
                return None
            if kind not in KINDS:
                raise ValueError(f"{FAULT_HEADER}: unknown kind {kind!r}; kinds are {', '.join(KINDS)}")
            return kind
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
