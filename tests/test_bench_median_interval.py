"""bench.harness.median_interval: a median of noisy rounds, and how far it can be trusted."""

import math
import random
import sys

import pytest

from bench.harness import interpreter, median_interval


def test_the_interval_runs_between_order_statistics_from_the_binomial_tables() -> None:
    # Tables of the sign test's 95 % interval: n = 6 -> 1st and 6th values, 12 -> 3rd and 10th, 20 -> 6th and 15th.
    assert median_interval([5, 1, 4, 2, 6, 3]) == (3.5, 1, 6)
    assert median_interval(list(range(12, 0, -1))) == (6.5, 3, 10)
    assert median_interval(list(range(1, 21))) == (10.5, 6, 15)


def test_too_few_rounds_give_no_interval() -> None:
    assert median_interval([1.0, 2.0, 3.0, 4.0, 5.0]) is None
    assert median_interval([]) is None


@pytest.mark.parametrize("n", [6, 9, 12, 25])
def test_the_interval_covers_the_true_median_at_least_95_percent_of_the_time(n: int) -> None:
    # Skewed noise, as a shared host's is: lognormal, whose median is exp(mu).
    rng = random.Random(n)
    mu, trials = math.log(0.9), 4000
    covered = 0
    for _ in range(trials):
        interval = median_interval([rng.lognormvariate(mu, 0.15) for _ in range(n)])
        assert interval is not None
        covered += interval[1] <= 0.9 <= interval[2]
    # The exact coverage is >= 95 % (96.9 % for n = 6, 96.1 % for 12); 4000 trials put the estimate
    # within about 0.7 points of it. One order statistic further in would fall below 95 %.
    assert covered / trials >= 0.945


def test_an_interpreter_is_described_by_its_version_and_build() -> None:
    described = interpreter(sys.executable)
    version = ".".join(map(str, sys.version_info[:3]))
    assert described.startswith(f"{version} (configured "), described
    for flag in ("--enable-optimizations", "--with-lto", "--enable-shared"):
        assert f"with {flag}" in described or f"without {flag}" in described, described
