"""One record per request: the raw timings and outcome that every metric is computed from.

Times are seconds from the moment the request was sent (`send_wall` is the wall clock then), so a
record is self-contained and records from several machines can be merged.
"""

from dataclasses import asdict, dataclass, field
from typing import Any

from mockclaude.pricing import TokenUsage, usage_from_api

OK = "ok"


@dataclass
class RequestRecord:
    """What happened to one HTTP attempt, as measured by the client."""

    scenario: str
    model: str = ""
    stream: bool = False
    send_wall: float = 0.0  # epoch seconds when the request was sent
    status: int | None = None  # HTTP status, None when no response arrived
    error_class: str = OK
    error: str = ""
    ttfb_s: float | None = None  # request sent → first response byte (headers)
    ttft_s: float | None = None  # request sent → first content_block_delta
    e2e_s: float | None = None  # request sent → last byte
    delta_s: list[float] = field(default_factory=list)  # offset of every content_block_delta
    input_tokens: int | None = None
    output_tokens: int | None = None  # from usage (cumulative in message_delta), never counted
    # The response's whole `usage` object (message_start's, updated by message_delta's, or the JSON
    # body's): cache writes and reads with their TTL breakdown, service tier. Empty for count_tokens.
    usage: dict[str, Any] = field(default_factory=dict)
    stop_reason: str | None = None
    retry_after_s: float | None = None
    attempt: int = 0  # 0 for the first try, n for the n-th retry
    lateness_s: float | None = None  # open loop: how long after its scheduled arrival it was sent
    worker: str = ""
    count_tokens: bool = False  # a count_tokens call: its own row, never mixed into generation latencies

    @property
    def ok(self) -> bool:
        """True when the request succeeded with a valid response."""
        return self.error_class == OK

    def itl_s(self) -> list[float]:
        """Every gap between consecutive content deltas (inter-token latency)."""
        return [b - a for a, b in zip(self.delta_s, self.delta_s[1:], strict=False)]

    def tpot_s(self) -> float | None:
        """(E2E - TTFT) / (output tokens - 1): time per output token after the first."""
        if self.e2e_s is None or self.ttft_s is None or not self.output_tokens or self.output_tokens < 2:
            return None
        return (self.e2e_s - self.ttft_s) / (self.output_tokens - 1)

    def output_tps(self) -> float | None:
        """Output tokens / E2E: this request's output throughput."""
        if not self.e2e_s or self.output_tokens is None:
            return None
        return self.output_tokens / self.e2e_s

    def token_usage(self) -> TokenUsage | None:
        """The billable tokens of a successful message call; None for failures and count_tokens."""
        return usage_from_api(self.usage) if self.ok and self.usage else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the line written to records.jsonl)."""
        d = asdict(self)
        d["delta_s"] = [round(x, 6) for x in self.delta_s]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RequestRecord":
        """Inverse of `to_dict`; unknown keys are ignored so newer writers stay readable."""
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in known})
