"""Acceleration limits: 429s for a sharp increase in a caller's usage, even under its per-minute limits.

The API documents them without numbers ("You might also encounter 429 errors due to acceleration
limits on the API if your organization has a sharp increase in usage. To avoid hitting acceleration
limits, ramp up your traffic gradually and maintain consistent usage patterns." — platform.claude.com
docs, Rate limits). The mock's model is ours and explicit: in any 60 s the requests of one API key
may be at most FACTOR times those of the 60 s before, and never fewer than FLOOR; `--acceleration-limit
2x,60rpm`. The API publishes no error text for it either: the message below says what happened in the
docs' words.
"""

import math
import re
from collections import deque
from dataclasses import dataclass, field

from mockclaude.wire.errors import ApiError

WINDOW_S = 60.0
_SPEC = re.compile(r"^\s*(?P<factor>\d+(?:\.\d+)?)x\s*(?:,\s*(?P<floor>\d+)\s*rpm)?\s*$", re.I)


@dataclass(frozen=True)
class AccelerationSpec:
    """How fast one key's request rate may grow: FACTOR per minute, from at least FLOOR per minute."""

    factor: float
    floor_rpm: int = 60

    @classmethod
    def parse(cls, text: str) -> "AccelerationSpec":
        """Parse `2x` or `2x,60rpm`; ValueError names the accepted form."""
        m = _SPEC.match(text)
        if not m or float(m["factor"]) <= 1:
            raise ValueError(
                f"--acceleration-limit {text!r}: expected FACTORx[,FLOORrpm] with FACTOR > 1, e.g. 2x or 2x,60rpm"
            )
        return cls(float(m["factor"]), int(m["floor"]) if m["floor"] else 60)

    def __str__(self) -> str:
        return f"{self.factor:g}x,{self.floor_rpm}rpm"


@dataclass
class AccelerationLimiter:
    """Per-key arrival times of the last two minutes; refuses a request that grows the rate too fast."""

    spec: AccelerationSpec
    _seen: dict[str, deque[float]] = field(default_factory=dict)

    def admit(self, key: str, now: float) -> None:
        """Count the request, or raise the 429 it gets."""
        times = self._seen.setdefault(key, deque())
        while times and times[0] <= now - 2 * WINDOW_S:
            times.popleft()
        current = sum(1 for t in times if t > now - WINDOW_S)
        previous = len(times) - current
        allowed = max(self.spec.floor_rpm, math.floor(self.spec.factor * previous))
        if current + 1 > allowed:
            # The earliest moment the current minute holds one request fewer.
            oldest = next(t for t in times if t > now - WINDOW_S)
            wait = max(1, math.ceil(oldest + WINDOW_S - now))
            raise ApiError(
                429,
                f"Your organization's usage increased too sharply (acceleration limit): this request would "
                f"raise the request rate above {allowed} requests per minute, {self.spec.factor:g}x the previous "
                "minute's. Ramp up your traffic gradually and maintain consistent usage patterns.",
                error_type="rate_limit_error",
                headers={"retry-after": str(wait)},
            )
        times.append(now)
