"""Open-loop arrival schedules: Poisson at a fixed rate, or the recorded timestamps sped up.

Each process takes its share of one global schedule (every W-th recorded arrival, or a Poisson
process of rate R/W, whose superposition over W workers is Poisson of rate R), so distributed runs
offer the same load as a single process.
"""

import random
from collections.abc import Iterator

from replay.workload import Sample, Workload

Arrival = tuple[float, Sample]  # (seconds after the schedule started, what to send)


def poisson(workload: Workload, rate: float, rng: random.Random, share: int = 1) -> Iterator[Arrival]:
    """Arrivals of a Poisson process at `rate / share` per second, each a random recorded request."""
    t = 0.0
    per_process = rate / share
    while True:
        t += rng.expovariate(per_process)
        yield t, rng.choice(workload.samples)


def period_s(order: list[Sample]) -> float:
    """Recorded seconds of one round of arrivals: first to last, plus one average gap before the next
    round's first (idle time before the first recorded request is not part of it)."""
    span = order[-1].started_s - order[0].started_s
    return span + (span / (len(order) - 1) if len(order) > 1 else 1.0)


def recorded(workload: Workload, speed: float, index: int = 0, share: int = 1) -> Iterator[Arrival]:
    """The recorded arrivals divided by `speed`, repeated forever; this process gets every `share`-th."""
    order = workload.arrivals()
    first = order[0].started_s
    period = period_s(order)
    i = 0
    round_ = 0
    while True:
        for s in order:
            if i % share == index:
                yield (s.started_s - first + round_ * period) / speed, s
            i += 1
        round_ += 1
