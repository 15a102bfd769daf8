"""Safety with the real API: loopback unless `--real`, the key only from the environment, and the
expected token volume printed before anything is sent."""

from dataclasses import dataclass

from mockclaude.targets import MOCK_KEY, UnsafeTarget, check_target, is_loopback
from replay import arrivals
from replay.workload import Workload

# The target guard lives in mockclaude.targets (serve --record-missing uses it too); replay's own
# modules and tests import it from here.
__all__ = ["MOCK_KEY", "Plan", "UnsafeTarget", "check_target", "expected_volume", "is_loopback", "plan"]


@dataclass(frozen=True)
class Plan:
    """The load a run is set up to offer: requests/s, and mean tokens per request."""

    per_s: float
    how: str
    mean_in: float
    mean_out: float
    mean_max_out: float

    @property
    def per_minute(self) -> dict[str, float]:
        """Requests, input tokens and output tokens per minute (what rate limits are counted in)."""
        rpm = self.per_s * 60
        return {"requests": rpm, "input-tokens": rpm * self.mean_in, "output-tokens": rpm * self.mean_out}


def plan(
    workload: Workload,
    *,
    users: int,
    rate: float = 0.0,
    speed: float = 0.0,
    fixed_think_s: float | None = None,
) -> Plan:
    """The planned request rate: the --rate, the recorded arrivals sped up, or closed-loop users."""
    samples = workload.samples
    n = len(samples)
    mean_in = sum(s.input_tokens for s in samples) / n
    mean_out = sum(s.expected_output for s in samples) / n
    max_out = sum(s.max_tokens or s.expected_output for s in samples) / n
    if rate > 0:
        per_s, how = rate, f"Poisson arrivals at {rate:g}/s"
    elif speed > 0:
        period = arrivals.period_s(workload.arrivals()) or 1.0
        per_s, how = n * speed / period, f"recorded arrivals x{speed:g} ({n} in {period / speed:.1f} s, repeated)"
    else:
        known = [s.total_s for s in samples if s.total_s is not None]
        busy = sum(known) / len(known) if known else 1.0
        think = (
            fixed_think_s
            if fixed_think_s is not None
            else (sum(workload.think_times_s) / len(workload.think_times_s) if workload.think_times_s else 0.0)
        )
        per_s, how = (
            users / max(busy + think, 0.05),
            f"{users} closed-loop users (recorded latency {busy:.2f} s + think {think:.2f} s)",
        )
    return Plan(per_s, how, mean_in, mean_out, max_out)


def expected_volume(
    load: Plan,
    *,
    run_time_s: float | None,
    max_requests: int = 0,
    max_output_tokens: int = 0,
) -> str:
    """A one-paragraph estimate of the request rate, requests and tokens for the planned run."""
    if run_time_s:
        requests = load.per_s * run_time_s
        span_text = f"over {run_time_s:g} s"
    else:
        requests = load.per_s * 60
        span_text = "per minute (no --run-time: unbounded unless a --max-* limit stops it)"
    if max_requests:
        requests = min(requests, max_requests)
    out_tokens = requests * load.mean_out
    if max_output_tokens:
        out_tokens = min(out_tokens, max_output_tokens)
    return (
        f"planned load: {load.how}: about {load.per_s:.2f} requests/s ({load.per_s * 60:,.0f}/min)\n"
        f"expected volume {span_text}: ~{requests:,.0f} requests, ~{requests * load.mean_in:,.0f} input tokens, "
        f"~{out_tokens:,.0f} output tokens (at most ~{requests * load.mean_max_out:,.0f} by max_tokens)"
        + (f"; stops at {max_requests} requests" if max_requests else "")
        + (f"; stops at {max_output_tokens} output tokens" if max_output_tokens else "")
    )
