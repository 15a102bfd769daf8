"""Safety with the real API: loopback unless `--real`, the key only from the environment, and the
expected token volume printed before anything is sent."""

import ipaddress
import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from replay import arrivals
from replay.workload import Workload

API_KEY_ENV = "ANTHROPIC_API_KEY"
# Any non-empty key works with the mock; a real key is never needed for loopback.
MOCK_KEY = "sk-ant-mockclaude-replay"


class UnsafeTarget(ValueError):
    """The run would send traffic somewhere it was not explicitly allowed to."""


def is_loopback(host_url: str) -> bool:
    """True when every address the URL's host resolves to is in 127.0.0.0/8 (or ::1)."""
    host = urlsplit(host_url).hostname
    if not host:
        return False
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def check_target(host_url: str, real: bool, environ: dict[str, str] | None = None) -> str:
    """The API key to send to `host_url`; UnsafeTarget when the target is not allowed."""
    env = os.environ if environ is None else environ
    if not host_url:
        raise UnsafeTarget("no target: give --host http://127.0.0.1:PORT (a `mockclaude serve`)")
    scheme = urlsplit(host_url).scheme
    if scheme not in ("http", "https"):
        raise UnsafeTarget(f"--host must be an http(s) URL, not {host_url!r}")
    if is_loopback(host_url):
        return env.get(API_KEY_ENV) or MOCK_KEY
    if not real:
        raise UnsafeTarget(
            f"--host {host_url} is outside 127.0.0.0/8: this would send real requests (and may cost money). "
            "Add --real to do it on purpose."
        )
    key = env.get(API_KEY_ENV, "")
    if not key:
        raise UnsafeTarget(
            f"--real needs the API key in the {API_KEY_ENV} environment variable (never on the command line)"
        )
    return key


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
