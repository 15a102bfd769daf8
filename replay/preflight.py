"""Ask the target once before the run: is it there, does it take our key, what are its rate limits.

One small non-streamed Messages request (one word in, `max_tokens` 1) with the run's key and
model: a target nobody listens on, or a refused key, stops the run before the first user starts,
with the reason, instead of a storm of identical failures; a target that answers badly or not at
all is warned about (the run classifies those failures). The answer's `anthropic-ratelimit-*`
headers say whether the planned load fits the target's limits.
The mock gets `x-mockclaude-fault: none`, so the probe is never an injected fault.
"""

import http.client
import json
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from replay.stream import error_message

TIMEOUT_S = 10.0
LIMIT_PREFIX = "anthropic-ratelimit-"
LIMITS = ("requests", "input-tokens", "output-tokens")
UNITS = {"requests": "requests", "input-tokens": "input tokens", "output-tokens": "output tokens"}
STOPS = {401: "the target refused the API key", 403: "the key may not use this target"}


class TargetUnusable(Exception):
    """The run cannot work against this target; str() says why."""


@dataclass
class Probe:
    """What the target answered."""

    status: int
    limits: dict[str, int] = field(default_factory=dict)  # per minute: requests, input-tokens, output-tokens
    error: str = ""


def probe(host_url: str, api_key: str, model: str, timeout: float = TIMEOUT_S) -> Probe:
    """Send the one check request. TargetUnusable when nothing listens there or the key is refused;
    an answer that is not HTTP, or none within `timeout`, is reported in the Probe (the run goes on
    and classifies such failures itself)."""
    parts = urlsplit(host_url)
    conn_cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    kwargs = {"context": ssl.create_default_context()} if parts.scheme == "https" else {}
    conn = conn_cls(parts.hostname or "", parts.port, timeout=timeout, **kwargs)
    body = {"model": model, "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]}
    headers = {
        "anthropic-version": "2023-06-01",
        "x-api-key": api_key,
        "content-type": "application/json",
        "x-mockclaude-fault": "none",
    }
    path = parts.path.rstrip("/") + "/v1/messages"
    try:
        try:
            conn.connect()
        except OSError as exc:
            reason = f"{type(exc).__name__}: {exc}"
            hint = "is `mockclaude serve` (or the API) running there?"
            raise TargetUnusable(f"cannot reach {host_url} ({reason}); {hint}") from None
        try:
            conn.request("POST", path, json.dumps(body), headers)
            resp = conn.getresponse()
            # A 200's body is not needed (and a broken target may never end it); an error's is its reason.
            content = b"" if resp.status == 200 else _read_some(resp, time.monotonic() + timeout)
        except (http.client.HTTPException, OSError) as exc:
            return Probe(0, error=f"no valid answer ({type(exc).__name__}: {exc or 'no details'})")
    finally:
        conn.close()
    result = Probe(resp.status)
    for name in LIMITS:
        value = resp.getheader(f"{LIMIT_PREFIX}{name}-limit")
        if value and value.isdigit():
            result.limits[name] = int(value)
    if resp.status != 200:
        result.error = f"HTTP {resp.status} {error_message(content)}"
    if resp.status in STOPS:
        raise TargetUnusable(f"{STOPS[resp.status]}: {result.error}")
    return result


def _read_some(resp: http.client.HTTPResponse, deadline: float) -> bytes:
    """Up to 64 kB of the body, giving up at `deadline` (a body that trickles forever is cut)."""
    out = b""
    while len(out) < 65536 and time.monotonic() < deadline:
        block = resp.read1(65536)
        if not block:
            break
        out += block
    return out


def warnings(result: Probe, planned_per_minute: dict[str, float]) -> list[str]:
    """A line for each rate limit the planned load exceeds, and for a check that did not get a 200."""
    out = []
    if result.status != 200:
        out.append(f"the check request got {result.error}; the run may fail the same way")
    for name, limit in result.limits.items():
        planned = planned_per_minute.get(name, 0.0)
        if limit and planned > limit:
            out.append(
                f"the planned load (~{planned:,.0f} {UNITS[name]}/min) exceeds the target's limit of {limit:,} "
                f"{UNITS[name]}/min: expect 429s (add --retry backoff, lower -u/--rate, or raise the limit)"
            )
    return out
