"""What the mock did: counters for the admin API and the same figures as Prometheus metrics."""

import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client import Counter as PromCounter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from mockclaude.server import health, supervision
from mockclaude.wire.messages import InputUsage

_TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
_LATE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class AcceptQueue:
    """How long the requests already waiting when their connection was accepted had been waiting in the
    kernel (Linux; server.arrival measures it): the wait no handler sees, which their answers'
    schedules count in. One per process. Its histogram has frame lateness's bounds: both are delays."""

    def __init__(self) -> None:
        self.buckets = [0] * (len(_LATE_BUCKETS) + 1)  # by first bound >= the wait; the last is +Inf
        self.total_s = 0.0
        self.reset()

    def reset(self) -> None:
        """Zero the admin figures (the histogram stays monotonic, as scrapers expect)."""
        self.requests = 0
        self.max_wait_s = 0.0

    def waited(self, seconds: float) -> None:
        """A request had waited `seconds` before its connection was accepted."""
        self.requests += 1
        self.max_wait_s = max(self.max_wait_s, seconds)
        self.buckets[bisect_left(_LATE_BUCKETS, seconds)] += 1
        self.total_s += seconds

    def to_json(self) -> dict[str, Any]:
        """The admin figures."""
        return {"requests": self.requests, "max_wait_s": round(self.max_wait_s, 6)}


ACCEPT_QUEUE = AcceptQueue()


class Stats:
    """Request, stream, token and lateness counts of one server process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # The per-request metrics (requests, active streams, output tokens, TTFT, frame lateness) are
        # counted here and exposed by one collector, not by prometheus_client's Counter, Gauge and
        # Histogram: their labels()/inc()/observe() (locks, label tuples, bucket scans) on every
        # request were a measurable share of the mock's CPU. Monotonic, as scrapers expect: reset()
        # leaves these alone. The exposition is the one those classes gave (tests/test_hotpath_stats.py).
        born = time.time()
        self._requests: dict[tuple[str, int], list[float]] = {}  # (endpoint, status) -> [count, created]
        self._tokens = [0, born]
        self._ttft_buckets = [0] * (len(_TTFT_BUCKETS) + 1)  # by first bound >= the value; last: +Inf
        self._ttft_sum = 0.0
        self._ttft_created = born
        self._late_buckets = [0] * (len(_LATE_BUCKETS) + 1)  # writes later than the first bound, by bucket
        self._late_sum = 0.0
        self._frames_before_reset = 0
        self.frames = 0
        self.registry.register(_OwnCounts(self))
        self._faults = PromCounter(
            "mockclaude_faults_injected", "Faults injected, by kind", ["kind"], registry=self.registry
        )
        self._limited = PromCounter(
            "mockclaude_rate_limited", "429s produced by the rate limiter", registry=self.registry
        )
        self.registry.register(health.HealthCollector())
        # Responses in flight: a gauge of what is happening, so reset() leaves it (zeroing it made the
        # streams still running count down below zero); the supervisor counts them lost if this worker dies.
        self._in_flight = 0
        self._cache_lookups = PromCounter(
            "mockclaude_prompt_cache_lookups",
            "Requests with cache breakpoints, by result (hit: a cached prefix was read)",
            ["result"],
            registry=self.registry,
        )
        self._cache_read = PromCounter(
            "mockclaude_prompt_cache_read_tokens", "Input tokens read from the prompt cache", registry=self.registry
        )
        self._cache_written = PromCounter(
            "mockclaude_prompt_cache_written_tokens",
            "Input tokens written to the prompt cache, by TTL",
            ["ttl"],
            registry=self.registry,
        )
        self._cache_entries = Gauge(
            "mockclaude_prompt_cache_entries",
            "Live prompt-cache entries (shared store: all of them)",
            registry=self.registry,
        )
        self.reset()

    def reset(self) -> None:
        """Zero the admin counters (Prometheus counters stay monotonic, as scrapers expect)."""
        self._frames_before_reset += self.frames
        self.requests = 0
        self.by_status: Counter[int] = Counter()
        self.by_endpoint: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.rate_limited = 0
        self.output_tokens = 0
        self.client_disconnects = 0
        self.frames = 0
        self.late_frames = 0  # more than 10 ms behind schedule
        self.max_lateness_s = 0.0
        self.cache_hits = 0
        self.cache_misses = 0
        self.cache_read_tokens = 0
        self.cache_written_tokens = {"5m": 0, "1h": 0}

    def answered(self, endpoint: str, status: int) -> None:
        """Count one finished request."""
        self.requests += 1
        self.by_status[status] += 1
        self.by_endpoint[endpoint] += 1
        cell = self._requests.get((endpoint, status))
        if cell is None:
            cell = self._requests[endpoint, status] = [0, time.time()]
        cell[0] += 1

    def stream_started(self, scheduled_ttft_s: float) -> None:
        """A response began generating."""
        self._in_flight += 1
        supervision.set_in_flight(self._in_flight)
        self._ttft_buckets[bisect_left(_TTFT_BUCKETS, scheduled_ttft_s)] += 1
        self._ttft_sum += scheduled_ttft_s

    def stream_ended(self, tokens_out: int) -> None:
        """A response finished (or was cut) after `tokens_out` output tokens."""
        self._in_flight -= 1
        supervision.set_in_flight(self._in_flight)
        self.output_tokens += tokens_out
        self._tokens[0] += tokens_out

    def frame_sent(self, lateness_s: float) -> None:
        """A timed write (SSE frames, or a JSON answer's body) went out `lateness_s` after its deadline
        (<= 0: on time or early)."""
        self.frames += 1
        if lateness_s > 0.0:
            self._late_sum += lateness_s
            if lateness_s > self.max_lateness_s:
                self.max_lateness_s = lateness_s
            if lateness_s > _LATE_BUCKETS[0]:
                self._late_buckets[bisect_left(_LATE_BUCKETS, lateness_s)] += 1
                if lateness_s > 0.01:
                    self.late_frames += 1

    def lateness_histogram(self) -> tuple[list[tuple[str, int]], float]:
        """Cumulative (upper bound, writes) buckets of frame lateness since start, and its sum."""
        total = self._frames_before_reset + self.frames
        # Writes on time or within the first bound are the ones no bucket above counted.
        counts = [total - sum(self._late_buckets), *self._late_buckets[1:]]
        return _cumulative([*map(floatToGoString, _LATE_BUCKETS), "+Inf"], counts), self._late_sum

    def fault(self, kind: str) -> None:
        """An injected fault."""
        self.faults[kind] += 1
        self._faults.labels(kind).inc()

    def limited(self) -> None:
        """A 429 from the rate limiter (not an injected one)."""
        self.rate_limited += 1
        self._limited.inc()

    def cache_used(self, used: InputUsage, hit: bool) -> None:
        """A request with cache breakpoints read and wrote `used` (hit: it read a cached prefix)."""
        result = "hit" if hit else "miss"
        if hit:
            self.cache_hits += 1
        else:
            self.cache_misses += 1
        self._cache_lookups.labels(result).inc()
        self.cache_read_tokens += used.cache_read
        self._cache_read.inc(used.cache_read)
        for ttl, n in (("5m", used.cache_write_5m), ("1h", used.cache_write_1h)):
            self.cache_written_tokens[ttl] += n
            self._cache_written.labels(ttl).inc(n)

    def cache_entries_from(self, count: Callable[[], int]) -> None:
        """Read the entries gauge from `count` at each scrape."""
        self._cache_entries.set_function(count)

    def cache_json(self) -> dict[str, Any]:
        """The prompt-cache counters as the admin API shows them."""
        return {
            "hits": self.cache_hits,
            "misses": self.cache_misses,
            "read_tokens": self.cache_read_tokens,
            "written_tokens": sum(self.cache_written_tokens.values()),
            "written_5m_tokens": self.cache_written_tokens["5m"],
            "written_1h_tokens": self.cache_written_tokens["1h"],
        }

    def to_json(self) -> dict[str, Any]:
        """The counters as the admin API shows them."""
        return {
            "requests": self.requests,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_endpoint": dict(self.by_endpoint),
            "rate_limited": self.rate_limited,
            "faults_injected": dict(self.faults),
            "active_streams": self._in_flight,
            "output_tokens": self.output_tokens,
            "client_disconnects": self.client_disconnects,
            "frames": self.frames,
            "late_frames": self.late_frames,
            "max_lateness_s": round(self.max_lateness_s, 6),
            "accept_queue": ACCEPT_QUEUE.to_json(),  # this process's, as health's figures
            **health.to_json(),
            "prompt_cache": self.cache_json(),
        }

    def prometheus(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)


def _cumulative(bounds: list[str], counts: list[int]) -> list[tuple[str, int]]:
    """(upper bound, count at or below it) pairs from counts per bucket."""
    cumulative, acc = [], 0
    for bound, n in zip(bounds, counts, strict=True):
        acc += n
        cumulative.append((bound, acc))
    return cumulative


class _OwnCounts:
    """The metrics Stats counts itself, as the prometheus_client metrics they replace expose them."""

    def __init__(self, stats: Stats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        """Requests, active streams, output tokens, TTFT, frame lateness and the accept queue, as they stand."""
        st = self._stats
        requests = CounterMetricFamily(
            "mockclaude_requests", "Requests answered, by endpoint and HTTP status", labels=["endpoint", "status"]
        )
        for (endpoint, status), (count, created) in list(st._requests.items()):
            requests.add_metric([endpoint, str(status)], count, created=created)
        yield requests
        yield GaugeMetricFamily("mockclaude_active_streams", "Responses being generated right now", st._in_flight)
        yield CounterMetricFamily(
            "mockclaude_output_tokens", "Output tokens sent", st._tokens[0], created=st._tokens[1]
        )
        ttft = HistogramMetricFamily(
            "mockclaude_ttft_seconds",
            "Scheduled time to first content delta",
            buckets=_cumulative([*map(floatToGoString, _TTFT_BUCKETS), "+Inf"], st._ttft_buckets),
            sum_value=st._ttft_sum,
        )
        ttft.samples.append(Sample("mockclaude_ttft_seconds_created", {}, st._ttft_created))
        yield ttft
        buckets, total = st.lateness_histogram()
        yield HistogramMetricFamily(
            "mockclaude_frame_lateness_seconds",
            "How late SSE frames and JSON answers went out against their schedule (the mock's own overload)",
            buckets=buckets,
            sum_value=total,
        )
        yield HistogramMetricFamily(
            "mockclaude_accept_queue_seconds",
            "How long requests already sent when their connection was accepted had waited in the kernel (Linux)",
            buckets=_cumulative([*map(floatToGoString, _LATE_BUCKETS), "+Inf"], ACCEPT_QUEUE.buckets),
            sum_value=ACCEPT_QUEUE.total_s,
        )
