"""The mock's behaviour settings: set by flags, changed at runtime by the admin API, swapped atomically."""

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from mockclaude.limits.faults import FaultSpec
from mockclaude.limits.ratelimit import RateLimits
from mockclaude.synth.content import ContentSettings, OutputLength
from mockclaude.synth.pacing import Range

# Input tokens processed per second before the first token (TTFT grows with the prompt).
# Our choice, in the range public long-context measurements suggest for Claude (a 100k-token
# prompt adds ~12 s); override with --prefill-tps.
DEFAULT_PREFILL_TPS = 8000.0

# The probabilities that shape synthetic answers (ContentSettings fields), each settable by a flag
# of the same name (`--stop-sequence-rate`) and by the admin API, with what it means.
CONTENT_RATES = {
    "tool_rate": "probability of a tool call when tools are given and tool_choice is auto",
    "stop_sequence_rate": "probability that an answer ends on one of the request's stop_sequences",
    "text_before_tool_rate": "probability of a short text block before an auto tool call",
    "parallel_tool_rate": "probability of a second tool call when parallel tool use is allowed",
    "thinking_share": "mean share of thinking.budget_tokens that extended thinking uses",
}


@dataclass(frozen=True)
class Settings:
    """Everything that decides how a response looks and is timed (immutable; replace to change)."""

    tps: Range | None = None  # None: the model's own profile
    ttft: Range | None = None  # None: the model's own profile
    prefill_tps: float = DEFAULT_PREFILL_TPS
    chunk_tokens: Range = field(default_factory=lambda: Range(1, 3))
    content: ContentSettings = field(
        default_factory=lambda: ContentSettings(output_length=OutputLength.parse("default"))
    )
    faults: tuple[FaultSpec, ...] = ()
    rate_limit: RateLimits | None = None
    prompt_cache: bool = True
    prompt_cache_ttl_scale: float = 1.0  # multiplies the 5m and 1h lifetimes (tests watch expiry in seconds)

    def to_json(self) -> dict[str, Any]:
        """The settings as the admin API shows them."""
        return {
            "tps": str(self.tps) if self.tps else None,
            "ttft": str(self.ttft) if self.ttft else None,
            "prefill_tps": self.prefill_tps,
            "chunk_tokens": str(self.chunk_tokens),
            "output_tokens": str(self.content.output_length),
            **{name: getattr(self.content, name) for name in CONTENT_RATES},
            "faults": {f.kind: f.probability for f in self.faults},
            "rate_limit": str(self.rate_limit) if self.rate_limit else None,
            "prompt_cache": self.prompt_cache,
            "prompt_cache_ttl_scale": self.prompt_cache_ttl_scale,
        }

    def updated(self, changes: dict[str, Any]) -> "Settings":
        """A copy with `changes` applied; every field is checked before anything changes."""
        if not isinstance(changes, dict):
            raise ValueError("the update must be a JSON object")
        new: dict[str, Any] = {}
        content = self.content
        for key, value in changes.items():
            if key == "tps":
                new["tps"] = None if value is None else Range.parse(str(value), name="tps", minimum=1e-3)
            elif key == "ttft":
                new["ttft"] = None if value is None else Range.parse(str(value), name="ttft")
            elif key == "prefill_tps":
                new["prefill_tps"] = positive(value, key)
            elif key == "chunk_tokens":
                new["chunk_tokens"] = Range.parse(str(value), name="chunk_tokens", minimum=1)
            elif key == "output_tokens":
                content = dataclasses.replace(content, output_length=OutputLength.parse(str(value)))
            elif key in CONTENT_RATES:
                content = dataclasses.replace(content, **{key: probability(value, key)})
            elif key == "faults":
                if not isinstance(value, dict):
                    raise ValueError('faults: expected an object such as {"529": 0.05}')
                new["faults"] = tuple(FaultSpec.parse(f"{k}:{v}") for k, v in value.items() if float(v) > 0)
            elif key == "rate_limit":
                new["rate_limit"] = None if value in (None, "", "off") else RateLimits.parse(str(value))
            elif key == "prompt_cache":
                new["prompt_cache"] = on_off(value, key)
            elif key == "prompt_cache_ttl_scale":
                new["prompt_cache_ttl_scale"] = positive(value, key)
            else:
                raise ValueError(f"unknown setting {key!r}; settings are {', '.join(self.to_json())}")
        return dataclasses.replace(self, content=content, **new)


def positive(value: Any, key: str) -> float:
    """`value` as a finite number > 0, else ValueError naming `key` (a setting or a flag)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key}: expected a positive number, not {value!r}") from None
    if not 0 < x < math.inf:  # also refuses NaN
        raise ValueError(f"{key}: expected a positive number, not {value!r}")
    return x


def on_off(value: Any, key: str) -> bool:
    """`value` as a switch: true/false or "on"/"off", else ValueError naming `key`."""
    if value in (True, "on"):
        return True
    if value in (False, "off"):
        return False
    raise ValueError(f"{key}: expected on or off (or true/false), not {value!r}")


def probability(value: Any, key: str) -> float:
    """`value` as a number in [0, 1], else ValueError naming `key` (a setting or a flag)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key}: expected a probability between 0 and 1, not {value!r}") from None
    if not 0 <= x <= 1:
        raise ValueError(f"{key}: expected a probability between 0 and 1, not {value!r}")
    return x

