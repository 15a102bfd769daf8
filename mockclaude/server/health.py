"""The health of the mock's own parts, for /_mockclaude/stats and /metrics: worker restarts and
lost streams (from the supervisor's board, with `--workers N`), and whether the shared rate-limit
store is reachable (with `--redis`). Absent where the part is absent."""

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from mockclaude.limits import ratelimit
from mockclaude.limits.store_guard import GuardedStore
from mockclaude.server import supervision


def _guarded_store() -> GuardedStore | None:
    store = getattr(ratelimit.default_store, "store", None)
    return store if isinstance(store, GuardedStore) else None


def to_json() -> dict[str, Any]:
    """The figures as the admin API shows them."""
    out = supervision.to_json()
    store = _guarded_store()
    if store is not None:
        out["limits_store"] = store.status()
    return out


class HealthCollector:
    """The same figures as Prometheus metrics."""

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        """The metrics as they stand."""
        board = supervision.to_json()
        if board:
            yield CounterMetricFamily(
                "mockclaude_worker_restarts", "Workers restarted after they died", value=board["worker_restarts"]
            )
            yield CounterMetricFamily(
                "mockclaude_lost_streams",
                "Responses (streamed or not) in flight in a worker when it died: their connections closed",
                value=board["lost_streams"],
            )
        store = _guarded_store()
        if store is not None:
            yield GaugeMetricFamily(
                "mockclaude_limits_store_up", "1 while the shared rate-limit store answers", value=int(store.reachable)
            )
            yield CounterMetricFamily(
                "mockclaude_limits_store_outages", "Times the shared rate-limit store went away", value=store.outages
            )
            yield CounterMetricFamily(
                "mockclaude_limits_store_unchecked",
                "Requests admitted without a rate-limit check while the store was away (policy open)",
                value=store.unchecked,
            )
            yield CounterMetricFamily(
                "mockclaude_limits_store_refused",
                "Requests answered 529 while the store was away (policy closed)",
                value=store.refused,
            )
