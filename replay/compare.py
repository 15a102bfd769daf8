"""Compare two replay runs, per scenario and metric, with a test on the per-request records.

A difference of percentiles alone cannot tell a regression from noise, so each latency is tested
with the one-sided Mann-Whitney U test (scipy): is a new request's latency stochastically larger than
a baseline one's? A metric is flagged as a regression only when both hold: the test is significant
(p < alpha) and the median grew by more than the threshold (and by more than a millisecond). The
failure rate (429s apart) is tested the same way with Fisher's exact test and a threshold in
percentage points. Fewer than MIN_SAMPLES requests on either side are reported as too few to tell,
never flagged.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scipy.stats import fisher_exact, mannwhitneyu

from replay.classify import RATE_LIMITED
from replay.records import RequestRecord
from replay.summary import percentile

MIN_SAMPLES = 20
ALL = "ALL"


@dataclass(frozen=True)
class Thresholds:
    """When a change counts as a regression."""

    latency: float = 0.10  # relative growth of the median
    error_points: float = 0.01  # growth of the failure rate, in absolute terms (0.01 = 1 point)
    alpha: float = 0.01  # significance level of the one-sided test
    # A median must also grow by this many seconds: sub-millisecond TPOTs change by 40% from noise.
    latency_floor_s: float = 0.001


def _values(records: Sequence[RequestRecord], metric: str) -> list[float]:
    ok = [r for r in records if r.ok]
    if metric == "tpot_s":
        return sorted(t for r in ok if (t := r.tpot_s()) is not None)
    return sorted(v for r in ok if (v := getattr(r, metric)) is not None)


def _latency_row(scenario: str, metric: str, base: list[float], new: list[float], th: Thresholds) -> dict[str, Any]:
    row: dict[str, Any] = {"scenario": scenario, "metric": metric, "n_base": len(base), "n_new": len(new)}
    if not base or not new:
        return {**row, "note": "no data on one side", "regression": False}
    for side, v in (("base", base), ("new", new)):
        row[f"{side}_p50"], row[f"{side}_p95"] = percentile(v, 50), percentile(v, 95)
    row["change"] = row["new_p50"] / row["base_p50"] - 1 if row["base_p50"] > 0 else None
    if min(len(base), len(new)) < MIN_SAMPLES:
        return {**row, "p_value": None, "note": f"too few samples to tell (< {MIN_SAMPLES})", "regression": False}
    p = float(mannwhitneyu(new, base, alternative="greater").pvalue)
    grew = row["new_p50"] - row["base_p50"] > th.latency_floor_s
    regression = p < th.alpha and grew and row["change"] is not None and row["change"] > th.latency
    return {**row, "p_value": p, "note": "", "regression": regression}


def _failure_row(scenario: str, base: Sequence[RequestRecord], new: Sequence[RequestRecord], th: Thresholds) -> dict:
    def failed(rs: Sequence[RequestRecord]) -> int:
        return sum(1 for r in rs if not r.ok and r.error_class != RATE_LIMITED)

    fb, fn = failed(base), failed(new)
    row: dict[str, Any] = {"scenario": scenario, "metric": "error_rate", "n_base": len(base), "n_new": len(new)}
    if not base or not new:
        return {**row, "note": "no data on one side", "regression": False}
    row["base_p50"], row["new_p50"] = fb / len(base), fn / len(new)
    row["change"] = row["new_p50"] - row["base_p50"]
    if min(len(base), len(new)) < MIN_SAMPLES:
        return {**row, "p_value": None, "note": f"too few samples to tell (< {MIN_SAMPLES})", "regression": False}
    p = float(fisher_exact([[fn, len(new) - fn], [fb, len(base) - fb]], alternative="greater").pvalue)
    return {**row, "p_value": p, "note": "", "regression": p < th.alpha and row["change"] > th.error_points}


def compare(base: Sequence[RequestRecord], new: Sequence[RequestRecord], th: Thresholds) -> list[dict[str, Any]]:
    """One row per scenario (ALL first) and metric: both values, the change, p-value, regression flag."""
    rows = []
    for scenario in [ALL, *sorted({r.scenario for r in base} | {r.scenario for r in new})]:
        b = [r for r in base if scenario in (ALL, r.scenario)]
        n = [r for r in new if scenario in (ALL, r.scenario)]
        for metric in ("ttft_s", "tpot_s", "e2e_s"):
            rows.append(_latency_row(scenario, metric, _values(b, metric), _values(n, metric), th))
        rows.append(_failure_row(scenario, b, n, th))
    return rows


def _cell(row: dict[str, Any], key: str) -> str:
    v = row.get(key)
    if v is None:
        return "-"
    return f"{v * 100:.1f}%" if row["metric"] == "error_rate" else f"{v * 1000:.1f}"


def format_table(rows: Sequence[dict[str, Any]], th: Thresholds) -> str:
    """The comparison table and a verdict line."""
    head = (
        f"{'scenario':<16} {'metric':<10} {'n base/new':>11} {'p50 base':>9} {'p50 new':>9} {'p95 base':>9} "
        f"{'p95 new':>9} {'change':>8} {'p':>8}  verdict"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        change = r.get("change")
        points = r["metric"] == "error_rate"
        shown = "-" if change is None else (f"{change * 100:+.1f}pt" if points else f"{change:+.1%}")
        p = r.get("p_value")
        verdict = "REGRESSION" if r["regression"] else (r.get("note") or "ok")
        lines.append(
            f"{r['scenario'][:16]:<16} {r['metric'].removesuffix('_s').upper():<10} "
            f"{f'{r["n_base"]}/{r["n_new"]}':>11} {_cell(r, 'base_p50'):>9} {_cell(r, 'new_p50'):>9} "
            f"{_cell(r, 'base_p95'):>9} {_cell(r, 'new_p95'):>9} {shown:>8} {'-' if p is None else f'{p:.2g}':>8}  "
            f"{verdict}"
        )
    flagged = sum(r["regression"] for r in rows)
    lines.append(
        f"(latencies in ms; ERROR_RATE excludes 429s; p = one-sided Mann-Whitney U / Fisher exact; a regression is "
        f"p < {th.alpha:g} and a median growth > {th.latency:.0%} and > {th.latency_floor_s * 1000:g} ms, or an error "
        f"rate growth > {th.error_points * 100:g} points)"
    )
    lines.append(f"compare: {flagged} regression(s)" if flagged else "compare: no regression")
    return "\n".join(lines)
