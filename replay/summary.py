"""Exact percentiles from per-request records: the numbers of summary.json and the end-of-run table."""

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from replay.classify import RATE_LIMITED
from replay.cost import DEFINITIONS as COST_DEFINITIONS
from replay.cost import cache_and_cost
from replay.records import RequestRecord

PERCENTILES = (50, 90, 95, 99)
# A request sent more than this after its scheduled arrival counts as late (open loop).
LATE_AFTER_S = 0.1

FORMULAS = {
    "ttfb_s": "request sent -> first response byte (status line and headers)",
    "ttft_s": "request sent -> first content_block_delta event (not the first byte)",
    "itl_s": "every gap between consecutive content_block_delta events",
    "tpot_s": "(E2E - TTFT) / (output_tokens - 1), per request; output_tokens from usage",
    "e2e_s": "request sent -> last byte of the response",
    "output_tps": "output_tokens / E2E, per request",
    "lateness_s": "open loop only: actual send time - scheduled arrival time",
}
# What other tools call the same quantity (DESIGN.md, "Metrics, named without ambiguity").
OTHER_TOOLS = {
    "ttft_s": "vLLM TTFT; GenAI-Perf time_to_first_token; GuideLLM TTFT; llmperf ttft_s (first chunk)",
    "itl_s": "vLLM ITL; GenAI-Perf has no per-gap name (its ITL is our TPOT); llmperf ITL includes TTFT",
    "tpot_s": "vLLM TPOT; GenAI-Perf inter_token_latency; GuideLLM TPOT includes the first token",
    "e2e_s": "vLLM E2EL; GenAI-Perf request_latency; GuideLLM request latency; llmperf e2e_latency_s",
}


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile (numpy's default) of already sorted values."""
    if not sorted_values:
        return math.nan
    k = (len(sorted_values) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def distribution(values: Iterable[float]) -> dict[str, float | None]:
    """{p50, p90, p95, p99, mean, max, n} of values; None for each statistic when there are none."""
    v = sorted(values)
    if not v:
        return {**{f"p{p}": None for p in PERCENTILES}, "mean": None, "max": None, "n": 0}
    out: dict[str, float | None] = {f"p{p}": round(percentile(v, p), 6) for p in PERCENTILES}
    out["n"] = len(v)
    out["mean"] = round(sum(v) / len(v), 6)
    out["max"] = round(v[-1], 6)
    return out


def latencies(ok: Sequence[RequestRecord]) -> dict[str, Any]:
    """The latency distributions of successful records."""
    return {
        "ttfb_s": distribution(r.ttfb_s for r in ok if r.ttfb_s is not None),
        "ttft_s": distribution(r.ttft_s for r in ok if r.ttft_s is not None),
        "itl_s": distribution(g for r in ok for g in r.itl_s()),
        "tpot_s": distribution(t for r in ok if (t := r.tpot_s()) is not None),
        "e2e_s": distribution(r.e2e_s for r in ok if r.e2e_s is not None),
        "output_tps": distribution(t for r in ok if (t := r.output_tps()) is not None),
    }


def summarize(records: Sequence[RequestRecord]) -> dict[str, Any]:
    """Counts and latency distributions of a set of records (successful requests only for latencies)."""
    ok = [r for r in records if r.ok]
    errors = Counter(r.error_class for r in records if not r.ok)
    sends = [r.send_wall for r in records]
    ends = [r.send_wall + (r.e2e_s or 0.0) for r in records]
    duration = (max(ends) - min(sends)) if records else 0.0
    out_tokens = sum(r.output_tokens or 0 for r in ok)
    lateness = [r.lateness_s for r in records if r.lateness_s is not None]
    return {
        "requests": len(records),
        "successes": len(ok),
        "failures": len(records) - len(ok),
        "rate_limited": errors.get(RATE_LIMITED, 0),
        "rate_limited_with_retry_after": sum(
            1 for r in records if r.error_class == RATE_LIMITED and r.retry_after_s is not None
        ),
        "retries": sum(1 for r in records if r.attempt > 0),
        "errors": dict(sorted(errors.items())),
        "input_tokens": sum(r.input_tokens or 0 for r in ok),
        "output_tokens": out_tokens,
        "duration_s": round(duration, 3),
        "output_tokens_per_s": round(out_tokens / duration, 3) if duration > 0 else None,
        **latencies(ok),
        "lateness_s": distribution(lateness),
        "late_requests": sum(1 for x in lateness if x > LATE_AFTER_S),
        **cache_and_cost(records),
    }


def build_summary(records: Sequence[RequestRecord], **run_info: Any) -> dict[str, Any]:
    """The whole summary.json: totals, then the same figures per scenario, then definitions."""
    scenarios = sorted({r.scenario for r in records})
    # count_tokens calls answer in milliseconds: their latencies stay in their own row, out of ALL.
    generations = [r for r in records if r.ok and not r.count_tokens]
    return {
        **summarize(records),
        **latencies(generations),
        "scenarios": {s: summarize([r for r in records if r.scenario == s]) for s in scenarios},
        "run": run_info,
        "definitions": {**FORMULAS, **COST_DEFINITIONS},
        "other_tools": OTHER_TOOLS,
    }


def _ms(d: dict[str, float | None], key: str) -> str:
    v = d.get(key)
    return "-" if v is None else f"{v * 1000:.1f}"


def format_table(summary: dict[str, Any]) -> str:
    """The end-of-run table: one row per scenario and metric, in milliseconds, then the counts."""
    metrics = ("ttfb_s", "ttft_s", "itl_s", "tpot_s", "e2e_s")
    head = f"{'scenario':<16} {'metric':<7} {'n':>6} {'p50':>9} {'p90':>9} {'p95':>9} {'p99':>9} {'mean':>9}  (ms)"
    lines = [head, "-" * len(head)]
    rows = [("ALL", summary), *list(summary.get("scenarios", {}).items())]
    for name, s in rows:
        for m in metrics:
            d = s[m]
            n = d["n"]
            if not n and name != "ALL":
                continue  # e.g. no TTFT for a scenario of non-streaming calls
            cells = " ".join(f"{_ms(d, k):>9}" for k in ("p50", "p90", "p95", "p99", "mean"))
            lines.append(f"{name[:16]:<16} {m[:-2].upper():<7} {n!s:>6} {cells}")
    s = summary
    lines.append("-" * len(head))
    lines.append(
        f"requests {s['requests']}  ok {s['successes']}  failures {s['failures']}  "
        f"rate_limited {s['rate_limited']} (retry-after seen {s['rate_limited_with_retry_after']})  "
        f"retries {s['retries']}"
    )
    if s["errors"]:
        lines.append("failures by class: " + ", ".join(f"{k} {v}" for k, v in s["errors"].items()))
    tps = s["output_tokens_per_s"]
    lines.append(
        f"tokens in {s['input_tokens']} (uncached; cache write {s['cache_write_tokens']}, "
        f"read {s['cache_read_tokens']})  out {s['output_tokens']}  "
        f"output tokens/s {tps if tps is not None else '-'} over {s['duration_s']} s"
    )
    per_request = s["output_tps"]
    if per_request["n"]:
        lines.append(
            f"output tokens/s per request (tokens / E2E): p50 {per_request['p50']:.1f}  p90 {per_request['p90']:.1f}  "
            f"mean {per_request['mean']:.1f}"
        )
    if s["lateness_s"]["p50"] is not None:
        late = s["lateness_s"]
        lines.append(
            f"open loop lateness p50 {_ms(late, 'p50')} ms  p99 {_ms(late, 'p99')} ms  max {_ms(late, 'max')} ms; "
            f"{s['late_requests']} of {s['requests']} sent > {LATE_AFTER_S * 1000:.0f} ms late"
        )
    lines += cost_lines(summary)
    lines.append("definitions:")
    lines += [f"  {k[:-2].upper():<9} = {v}" for k, v in FORMULAS.items() if k.endswith("_s")]
    lines.append("other tools' names:")
    lines += [f"  {k[:-2].upper():<9} ~ {v}" for k, v in OTHER_TOOLS.items()]
    return "\n".join(lines)


def _ratio(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def _dollars(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"


def cost_lines(summary: dict[str, Any]) -> list[str]:
    """The cache and cost part of the end-of-run table: per scenario, then per model."""
    real = bool((summary.get("run") or {}).get("real"))
    what = "what this run cost" if real else "what the same traffic would cost on the real API"
    head = (
        f"{'scenario':<16} {'priced':>6} {'cache read':>11} {'cache write':>11} {'hit ratio':>9} {'USD':>10} "
        f"{'USD/1k req':>10}"
    )
    lines = ["", f"prompt cache and cost ({what}, list prices; successful message calls)", head, "-" * len(head)]
    for name, s in [("ALL", summary), *list(summary.get("scenarios", {}).items())]:
        if name != "ALL" and not s["priced_requests"] and not s["cache_read_tokens"] + s["cache_write_tokens"]:
            continue  # e.g. a count_tokens scenario: nothing billed
        lines.append(
            f"{name[:16]:<16} {s['priced_requests']:>6} {s['cache_read_tokens']:>11} {s['cache_write_tokens']:>11} "
            f"{_ratio(s['cache_hit_ratio']):>9} {_dollars(s['cost_usd']):>10} "
            f"{_dollars(s['cost_per_1000_requests']):>10}"
        )
    for model, m in summary["cost_by_model"].items():
        c = m["cost_by_category"]
        estimate = ", price is an ESTIMATE" if m["price_estimate"] else ""
        lines.append(
            f"  {model}: {m['requests']} requests, USD {m['cost_usd']:.4f} = input {c['input']:.4f} + cache write 5m "
            f"{c['cache_write_5m']:.4f} + 1h {c['cache_write_1h']:.4f} + cache read {c['cache_read']:.4f} + output "
            f"{c['output']:.4f} (prices as of {m['price_as_of']}{estimate})"
        )
    for model, n in summary["unpriced_models"].items():
        lines.append(f"  {model}: {n} requests with no list price in mockclaude.pricing, left out of the cost")
    cost = summary["cost_per_1000_requests"]
    if cost is not None:
        lines.append(f"cost per 1,000 requests: USD {cost:.4f}")
    lines.append(f"  HIT RATIO = {COST_DEFINITIONS['cache_hit_ratio']}")
    return lines
