"""Frame lateness counted by Stats itself: the same Prometheus histogram a prometheus_client Histogram gives."""

import random
import re

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from mockclaude.server.stats import _LATE_BUCKETS, Stats


def lateness_samples(text: str) -> dict[str, float]:
    """The frame-lateness samples (bucket, count, sum) of an exposition."""
    pattern = re.compile(r"^mockclaude_frame_lateness_seconds_(bucket\{le=\"[^\"]+\"\}|count|sum) (\S+)$", re.M)
    return {m.group(1): float(m.group(2)) for m in pattern.finditer(text)}


def test_lateness_histogram_matches_prometheus_client() -> None:
    rng = random.Random(3)
    # Early, on time, exactly on bucket bounds, between them, and past the last one.
    values = [rng.choice([-0.01, 0.0, *_LATE_BUCKETS, rng.uniform(0, 0.03), rng.uniform(0, 3)]) for _ in range(5000)]
    stats = Stats()
    reference = Histogram(
        "mockclaude_frame_lateness_seconds", "x", buckets=_LATE_BUCKETS, registry=(registry := CollectorRegistry())
    )
    for v in values:
        stats.frame_sent(v)
        reference.observe(max(0.0, v))
    ours = lateness_samples(stats.prometheus().decode())
    theirs = lateness_samples(generate_latest(registry).decode())
    assert len(ours) == len(_LATE_BUCKETS) + 3
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        assert abs(ours[key] - value) < 1e-9, key
    admin = stats.to_json()
    assert admin["frames"] == len(values)
    assert admin["late_frames"] == sum(v > 0.01 for v in values)
    assert admin["max_lateness_s"] == round(max(values), 6)


def test_reset_zeroes_the_admin_counts_but_not_prometheus() -> None:
    stats = Stats()
    for v in (0.0, 0.02, 0.5):
        stats.frame_sent(v)
    stats.reset()
    stats.frame_sent(0.002)
    assert stats.to_json()["frames"] == 1 and stats.to_json()["late_frames"] == 0
    assert stats.to_json()["max_lateness_s"] == 0.002
    samples = lateness_samples(stats.prometheus().decode())
    assert samples["count"] == 4 and samples['bucket{le="0.001"}'] == 1 and samples['bucket{le="0.005"}'] == 2
    assert abs(samples["sum"] - 0.522) < 1e-9


def test_reset_keeps_the_streams_still_running() -> None:
    # active_streams says what is running now: a reset between a stream's start and end must not
    # make it 0 while it runs, nor -1 after it ends.
    stats = Stats()
    stats.stream_started(0.1)
    stats.stream_started(0.1)
    stats.stream_ended(5)
    stats.reset()
    assert stats.to_json()["active_streams"] == 1
    stats.stream_ended(7)
    assert stats.to_json()["active_streams"] == 0
    assert stats.to_json()["output_tokens"] == 7
    assert re.search(r"^mockclaude_active_streams 0\.0$", stats.prometheus().decode(), re.M)


def _without_created(text: str) -> str:
    """An exposition with the `_created` timestamps blanked (they differ between two registries)."""
    return re.sub(r"^(\w+_created(?:\{[^}]*\})?) \S+$", r"\1 T", text, flags=re.M)


def test_per_request_metrics_match_prometheus_client() -> None:
    # The metrics Stats counts itself expose what prometheus_client's Counter, Gauge and Histogram
    # exposed for the same calls: names, help, label order, first-seen order, values, `_created`.
    from prometheus_client import Counter, Gauge

    from mockclaude.server.stats import _TTFT_BUCKETS

    rng = random.Random(5)
    registry = CollectorRegistry()
    requests = Counter(
        "mockclaude_requests",
        "Requests answered, by endpoint and HTTP status",
        ["endpoint", "status"],
        registry=registry,
    )
    active = Gauge("mockclaude_active_streams", "Responses being generated right now", registry=registry)
    tokens = Counter("mockclaude_output_tokens", "Output tokens sent", registry=registry)
    ttft = Histogram(
        "mockclaude_ttft_seconds", "Scheduled time to first content delta", buckets=_TTFT_BUCKETS, registry=registry
    )
    stats = Stats()
    for _ in range(3000):
        endpoint = rng.choice(["/v1/messages", "/v1/messages/count_tokens", "unmatched"])
        status = rng.choice([200, 200, 400, 429, 529])
        stats.answered(endpoint, status)
        requests.labels(endpoint, str(status)).inc()
        value = rng.choice([0.0, *_TTFT_BUCKETS, rng.uniform(0, 2), rng.uniform(0, 100)])
        stats.stream_started(value)
        active.inc()
        ttft.observe(value)
        if rng.random() < 0.9:
            n = rng.randrange(0, 500)
            stats.stream_ended(n)
            active.dec()
            tokens.inc(n)
        if rng.random() < 0.001:
            stats.reset()
    ours = _without_created(stats.prometheus().decode())
    theirs = _without_created(generate_latest(registry).decode())
    assert theirs in ours
    assert ours.index(theirs) == 0  # first, in the order they were registered before
