"""Watch each client's requests and answers, and find how it handled errors and limits.

A client is an API key (named as the console names keys, by its last four characters), plus the
test scope (`x-mockclaude-scope`) when there is one. One logical request is a body: a request whose
body equals that of an earlier request of the same client that failed (an error status, a cut
connection, or a stream broken by a fault), within RETRY_WINDOW_S, is a retry of it; after a success
the same body starts a new logical request. Retries are then judged against what the failed answer
told the client (see kinds.py for the rules and their sources).
"""

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from mockclaude.verdict.kinds import CLEAN, FINDING, KINDS

RETRY_WINDOW_S = 600.0  # a re-send later than this is a new request, not a retry
TOLERANCE_S = 0.05  # timer and scheduling slack allowed when checking a wait
MIN_BACKOFF_S = 0.1  # an unguided retry sooner than this is "at once"
GROWTH = 1.25  # each unguided wait must be at least this much longer than the one before
MAX_ATTEMPTS = 5  # attempts for one request before it is a storm (the SDKs make at most 3)
SDK_MAX_NONSTREAMING_S = 600.0  # the SDKs' rule: 3600 s * max_tokens / 128,000 must stay under this
EXAMPLES = 3  # request ids kept per finding
RETRYABLE_4XX = (408, 409, 429)


@dataclass(slots=True)
class Seen:
    """One request and its answer, as the server saw them."""

    key: str  # the API key as the console shows it: "…" and its last four characters
    scope: str | None
    fingerprint: bytes  # hash of method, path and body
    request_id: str
    arrived: float  # monotonic seconds
    done: float
    status: int  # 0: the connection was cut before any status
    retry_after_s: float | None = None  # what the answer asked the client to wait
    should_retry: bool | None = None  # x-should-retry, when sent
    broken: str | None = None  # the fault that broke a 200 answer (midstream, disconnect, truncate, stall)
    quiet_until: float | None = None  # a ratelimit-*-remaining of 0 said: wait until then (monotonic)
    stream: bool = True
    max_tokens: int = 0
    in_flight: int = 1  # the client's requests open when this one arrived, itself included
    capacity: int | None = None  # requests the limit admits per minute, when limited
    stall: tuple[float, bool] | None = None  # (seconds held, the client gave up) for a stall fault

    @property
    def failed(self) -> bool:
        """The answer was an error, a cut line, or a broken stream."""
        return self.status != 200 or self.broken is not None


@dataclass
class _Finding:
    count: int = 0
    examples: list[str] = field(default_factory=list)
    detail: str = ""


@dataclass
class _Chain:
    """The attempts of one logical request that has not yet succeeded."""

    last: Seen
    attempts: int = 1
    last_unguided_gap: float | None = None
    storm: bool = False


@dataclass
class _Client:
    requests: int = 0
    retries: int = 0
    findings: dict[str, _Finding] = field(default_factory=dict)
    clean: Counter[str] = field(default_factory=Counter)
    chains: dict[bytes, _Chain] = field(default_factory=dict)
    quiet_until: float | None = None
    recent_retries: deque[float] = field(default_factory=deque)  # arrival times of the last minute's retries


class Judge:
    """Findings and clean behaviours per client; `observe` each finished request, read `verdict()`."""

    def __init__(self, max_attempts: int = MAX_ATTEMPTS) -> None:
        self.max_attempts = max_attempts
        self._clients: dict[tuple[str, str | None], _Client] = {}

    def reset(self) -> None:
        """Forget everything seen."""
        self._clients.clear()

    def forget(self, scope: str) -> None:
        """Forget what the clients of one scope did."""
        for who in [who for who in self._clients if who[1] == scope]:
            del self._clients[who]

    def observe(self, s: Seen) -> None:
        """Judge one finished request."""
        c = self._clients.get((s.key, s.scope))
        if c is None:  # not setdefault: a _Client for every request only to be thrown away cost ~2 us
            c = self._clients[s.key, s.scope] = _Client()
        c.requests += 1
        chain = c.chains.get(s.fingerprint)
        if chain is not None and s.arrived - chain.last.done > RETRY_WINDOW_S:
            chain = None
        if chain is not None:
            c.retries += 1
            self._judge_retry(c, chain, s)
        elif c.quiet_until is not None and s.arrived < c.quiet_until:
            self._find(c, "ignored_remaining", s, "sent while the limit headers said 0 remaining")
        if s.capacity is not None and s.in_flight > s.capacity:
            self._find(c, "concurrency_spike", s, f"{s.in_flight} requests in flight, limit {s.capacity} per minute")
        if _long_without_streaming(s.stream, s.max_tokens):
            self._find(c, "long_request_without_streaming", s, f"max_tokens {s.max_tokens} without stream")
        if s.stall is not None:
            held, gave_up = s.stall
            if gave_up:
                c.clean["gave_up_on_stall"] += 1
            else:
                self._find(c, "stalled_stream_waited", s, f"waited {held:.1f} s on a silent stream")
        c.quiet_until = s.quiet_until
        if s.failed:
            if chain is None:
                chain = c.chains[s.fingerprint] = _Chain(s)
            chain.last = s
        elif chain is not None:
            del c.chains[s.fingerprint]
            c.clean["recovered_by_retrying"] += 1
        if len(c.chains) > 10_000:  # bound memory: forget chains that can no longer be retried
            c.chains = {k: v for k, v in c.chains.items() if s.arrived - v.last.done <= RETRY_WINDOW_S}

    def passed(self, key: str, scope: str | None, stream: bool, max_tokens: int) -> bool:
        """Count a success that observe() would only count (True), or leave it to observe() (False).

        A success without limits (no capacity, no quiet_until), not broken, not stalled, that opens no
        finding changes nothing but the count of a client that has no failed request pending (no
        chain to end) and no quiet period to check. The caller vouches for the first part.
        """
        c = self._clients.get((key, scope))
        if c is None or c.chains or c.quiet_until is not None or _long_without_streaming(stream, max_tokens):
            return False
        c.requests += 1
        return True

    def _judge_retry(self, c: _Client, chain: _Chain, s: Seen) -> None:
        prev, gap = chain.last, s.arrived - chain.last.done
        chain.attempts += 1
        if chain.attempts > self.max_attempts and not chain.storm:
            chain.storm = True
            self._find(c, "retry_storm", s, f"{chain.attempts} attempts for one request")
        if s.capacity is not None:
            # Retries alone at more than the limit announces per minute can never all pass.
            c.recent_retries.append(s.arrived)
            while c.recent_retries[0] <= s.arrived - 60.0:
                c.recent_retries.popleft()
            if len(c.recent_retries) > s.capacity:
                detail = f"{len(c.recent_retries)} retries in 60 s, limit {s.capacity} per minute"
                self._find(c, "retry_storm", s, detail)
                c.recent_retries.clear()
        if prev.should_retry is False or (400 <= prev.status < 500 and prev.status not in RETRYABLE_4XX):
            self._find(c, "retried_non_retryable", s, f"retried a {prev.status} (x-should-retry: {prev.should_retry})")
        elif prev.retry_after_s is not None and 0 < prev.retry_after_s <= 60:
            if gap + TOLERANCE_S < prev.retry_after_s:
                self._find(c, "retry_after_ignored", s, f"waited {gap:.2f} s of retry-after {prev.retry_after_s:g} s")
            else:
                c.clean["honoured_retry_after"] += 1
        else:
            before, chain.last_unguided_gap = chain.last_unguided_gap, gap
            if gap < MIN_BACKOFF_S:
                self._find(c, "no_backoff", s, f"retried after {gap * 1000:.0f} ms")
            elif before is not None and gap < GROWTH * before:
                self._find(c, "no_backoff", s, f"waited {gap:.2f} s after waiting {before:.2f} s")
            else:
                c.clean["backed_off"] += 1

    @staticmethod
    def _find(c: _Client, kind: str, s: Seen, detail: str) -> None:
        f = c.findings.setdefault(kind, _Finding(detail=detail))
        f.count += 1
        if len(f.examples) < EXAMPLES:
            f.examples.append(s.request_id)

    def verdict(self, only_scope: str | None = None) -> dict[str, Any]:
        """Every client's findings and clean behaviours, as `GET /_mockclaude/verdict` returns them
        (with `only_scope`, the clients of that scope only)."""
        clients = [
            self._client_json(key, scope, c)
            for (key, scope), c in sorted(self._clients.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
            if only_scope is None or scope == only_scope
        ]
        findings = sum(f["count"] for cl in clients for f in cl["findings"] if f["severity"] == FINDING)
        warnings = sum(f["count"] for cl in clients for f in cl["findings"] if f["severity"] != FINDING)
        return {
            "verdict": "findings" if findings else "clean",
            "findings": findings,
            "warnings": warnings,
            "clients": clients,
        }

    def _client_json(self, key: str, scope: str | None, c: _Client) -> dict[str, Any]:
        clean = Counter(c.clean)
        clean["stopped_within_cap"] += sum(1 for ch in c.chains.values() if ch.attempts <= self.max_attempts)
        findings = [
            {
                "kind": kind,
                "severity": KINDS[kind].severity,
                "count": f.count,
                "examples": f.examples,
                "first": f.detail,
                "explanation": KINDS[kind].explanation,
                "fix": KINDS[kind].fix,
            }
            for kind, f in sorted(c.findings.items(), key=lambda kv: (KINDS[kv[0]].severity != FINDING, kv[0]))
        ]
        return {
            "client": f"{key} ({scope})" if scope else key,
            "key": key,
            "scope": scope,
            "requests": c.requests,
            "retries": c.retries,
            "verdict": "findings" if any(f["severity"] == FINDING for f in findings) else "clean",
            "findings": findings,
            "clean": [_clean(k, n) for k, n in sorted(clean.items()) if n],
        }


def _clean(behaviour: str, n: int) -> dict[str, Any]:
    return {"behaviour": behaviour, "count": n, "text": f"{CLEAN[behaviour]} {n} time{'s' if n != 1 else ''}"}


def _long_without_streaming(stream: bool, max_tokens: int) -> bool:
    """The SDKs refuse a non-streaming request that may take longer than their limit."""
    return not stream and 3600.0 * max_tokens / 128_000 > SDK_MAX_NONSTREAMING_S


def key_name(api_key: str) -> str:
    """A key as the console shows it: by its last four characters."""
    return f"…{api_key[-4:]}"
