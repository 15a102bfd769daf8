"""Rate sweeps: which request rate does the target sustain within the SLO?

A sweep is a series of Locust runs (steps) of a fixed duration against the same target. Without
`--sweep-rates` it runs, like GuideLLM's sweep, a synchronous baseline (one user, no think time), a
maximum-throughput step (every user, no think time), then `--sweep N` open-loop Poisson rates spread
evenly between the two achieved rates. Each step's first `--warmup` seconds are left out of its
numbers; requests sent within the step run to their end (Locust's --stop-timeout), so a long answer
at the end of a step is measured, not cut. The knee is the highest offered rate whose step meets every SLO objective.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from replay import slo
from replay.records import RequestRecord
from replay.summary import summarize

SYNCHRONOUS = "synchronous"
THROUGHPUT = "throughput"
RATE = "rate"


class SweepError(ValueError):
    """A bad sweep option; the message names the flag."""


@dataclass(frozen=True)
class Step:
    """One step of a sweep: closed loop (synchronous, throughput) or an open-loop Poisson rate."""

    kind: str
    rate: float = 0.0  # requests/s offered (kind == RATE)

    @property
    def label(self) -> str:
        """How the step is named in the table and its report folder."""
        return f"{self.rate:g}/s" if self.kind == RATE else self.kind


def parse_rates(text: str) -> tuple[float, ...]:
    """`--sweep-rates 1,2,4,8`: distinct positive rates, in increasing order."""
    try:
        rates = [float(x) for x in text.split(",")]
    except ValueError:
        raise SweepError(f"--sweep-rates must be comma-separated requests/s like 1,2,4,8, not {text!r}") from None
    if not rates or any(not math.isfinite(r) or r <= 0 for r in rates):
        raise SweepError(f"--sweep-rates must all be positive requests/s, not {text!r}")
    return tuple(sorted(set(rates)))


def spread(low: float, high: float, count: int) -> list[Step]:
    """`count` rate steps evenly between two achieved rates (both excluded)."""
    if high <= low:  # the target did not go faster with more users: probe around the baseline
        high = low * 2
    return [Step(RATE, round(low + (high - low) * i / (count + 1), 2)) for i in range(1, count + 1)]


def measured(records: Sequence[RequestRecord], warmup_s: float, step_s: float) -> list[RequestRecord]:
    """The records sent in the measured window: after the warm-up, before the step's end (both counted
    from the step's first request). Requests sent late by users finishing their task are left out."""
    if not records:
        return []
    t0 = min(r.send_wall for r in records)
    return [r for r in records if t0 + warmup_s <= r.send_wall < t0 + step_s]


def row(
    step: Step, records: Sequence[RequestRecord], objectives: Sequence[slo.Objective], window_s: float
) -> dict[str, Any]:
    """A step's line in the sweep table: achieved rate, latency percentiles, tokens/s, 429s, errors, SLO.

    The achieved rate is the successes per second of the measured window (the step after its warm-up).
    """
    s = summarize(records)
    checks = slo.evaluate(objectives, s)
    return {
        "step": step.label,
        "kind": step.kind,
        "offered_rps": step.rate if step.kind == RATE else None,
        "achieved_rps": round(s["successes"] / window_s, 3),
        "requests": s["requests"],
        "rate_limited": s["rate_limited"],
        "errors": s["failures"] - s["rate_limited"],
        "output_tokens_per_s": s["output_tokens_per_s"],
        **{m: {p: s[m][p] for p in ("p50", "p95", "p99")} for m in ("ttft_s", "itl_s", "tpot_s", "e2e_s")},
        "slo": checks,
        "slo_pass": slo.passed(checks) if objectives else None,
    }


def knee(rows: Sequence[dict[str, Any]]) -> float | None:
    """The highest offered rate whose step met every objective (None: none did, or no SLO)."""
    ok = [r["offered_rps"] for r in rows if r["kind"] == RATE and r["slo_pass"]]
    return max(ok) if ok else None


def run(
    steps: Sequence[Step] | None,
    count: int,
    objectives: Sequence[slo.Objective],
    step_s: float,
    warmup_s: float,
    run_step: Callable[[Step], list[RequestRecord]],
) -> list[dict[str, Any]]:
    """Run the steps (or baseline, throughput and `count` rates between) and return one row each."""

    def measure(step: Step) -> dict[str, Any]:
        return row(step, measured(run_step(step), warmup_s, step_s), objectives, step_s - warmup_s)

    rows = []
    if steps is None:
        rows += [measure(Step(SYNCHRONOUS)), measure(Step(THROUGHPUT))]
        steps = spread(rows[0]["achieved_rps"], rows[1]["achieved_rps"], count)
    rows += [measure(step) for step in steps]
    return rows


def _ms(d: dict[str, float | None], key: str) -> str:
    v = d.get(key)
    return "-" if v is None else f"{v * 1000:.0f}"


def format_table(rows: Sequence[dict[str, Any]], knee_rps: float | None, has_slo: bool) -> str:
    """One row per step: offered and achieved rate, TTFT/ITL/E2E p50/p95/p99 (ms), tokens/s, 429s, errors."""
    head = (
        f"{'step':<12} {'achieved':>8} {'TTFT p50/p95/p99':>17} {'ITL p50/p95/p99':>16} {'E2E p50/p95/p99':>17} "
        f"{'tok/s':>7} {'req':>5} {'429':>4} {'err':>4}  SLO"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lat = ["/".join(_ms(r[m], p) for p in ("p50", "p95", "p99")) for m in ("ttft_s", "itl_s", "e2e_s")]
        tps = r["output_tokens_per_s"]
        verdict = "-" if r["slo_pass"] is None else ("pass" if r["slo_pass"] else "FAIL")
        lines.append(
            f"{r['step']:<12} {r['achieved_rps']:>8.2f} {lat[0]:>17} {lat[1]:>16} {lat[2]:>17} "
            f"{(f'{tps:.0f}' if tps is not None else '-'):>7} {r['requests']:>5} {r['rate_limited']:>4} "
            f"{r['errors']:>4}  {verdict}"
        )
    lines.append("(latencies in ms; achieved = successful requests/s after the warm-up)")
    if has_slo:
        lines.append(f"knee: {knee_rps:g} requests/s" if knee_rps is not None else "knee: no rate met the SLO")
    return "\n".join(lines)
