"""report.html: the one-page, self-contained report of a replay run or a sweep.

Plots are drawn with Plotly (interactive: hover shows the exact value, zoom, toggle a series), and
its JavaScript is inlined once in the page, so the file opens offline with no network request.
The page holds the summary, the SLO table, the sweep table, the cost, the failure breakdown, the
rate-limit tier the measured traffic needs (mockclaude.fixtures.plan) and the plots
load-test readers look for: latency CDFs, percentiles over time, tokens/s over time, failures
over time; for a sweep, latency percentiles and achieved rate against the offered rate.
"""

import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from mockclaude.fixtures import plan
from mockclaude.limits import tiers
from mockclaude.pricing import TokenUsage, hit_ratio
from replay.records import RequestRecord
from replay.summary import percentile

FILE = "report.html"
LATENCIES = (("ttft_s", "TTFT"), ("itl_s", "ITL"), ("tpot_s", "TPOT"), ("e2e_s", "E2E"))
_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}
td,th{border:1px solid #ddd;padding:.25rem .6rem;text-align:right}th{background:#f5f5f5}
td:first-child,th:first-child{text-align:left}.pass{color:#17702b;font-weight:600}.fail{color:#b00020;font-weight:600}
.note{color:#555;font-size:.85rem}
"""


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1000:.1f}"


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ('<span class="pass">PASS</span>' if ok else '<span class="fail">FAIL</span>')


def summary_section(summary: Mapping[str, Any]) -> str:
    """Counts and, per scenario, latency percentiles in milliseconds."""
    s = summary
    tps = s.get("output_tokens_per_s")
    counts = _table(
        ["requests", "ok", "failures", "rate limited (429)", "retries", "input tokens", "output tokens",
         "output tokens/s", "duration s"],
        [[s["requests"], s["successes"], s["failures"], s["rate_limited"], s["retries"], s["input_tokens"],
          s["output_tokens"], "-" if tps is None else tps, s["duration_s"]]],
    )  # fmt: skip
    rows = []
    for name, part in [("ALL", s), *s.get("scenarios", {}).items()]:
        for key, label in LATENCIES:
            d = part[key]
            if d["n"]:
                rows.append(
                    [html.escape(name), label, d["n"], *(_ms(d[p]) for p in ("p50", "p90", "p95", "p99", "max"))]
                )
    latency = _table(["scenario", "metric", "n", "p50 ms", "p90 ms", "p95 ms", "p99 ms", "max ms"], rows)
    return f"<h2>Summary</h2>{counts}{latency}"


def failures_section(summary: Mapping[str, Any]) -> str:
    """Failures by class (429s separate from errors)."""
    errors = summary.get("errors") or {}
    if not errors:
        return "<h2>Failures</h2><p>No failed request.</p>"
    total = summary["requests"] or 1
    rows = [[html.escape(k), v, f"{v / total:.1%}"] for k, v in sorted(errors.items(), key=lambda kv: -kv[1])]
    return "<h2>Failures</h2>" + _table(["class", "requests", "share of all"], rows)


def _usd(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"


def cost_section(summary: Mapping[str, Any]) -> str:
    """The prompt cache and the cost at list prices (replay.cost): totals, per model, per category."""
    by_model = summary.get("cost_by_model")
    if by_model is None:
        return ""
    real = bool(summary.get("run", {}).get("real"))
    what = "What this run cost" if real else "What the same traffic would cost on the real API"
    ratio = summary.get("cache_hit_ratio")
    totals = _table(
        ["USD", "per 1,000 requests", "priced requests", "cache read tokens", "cache write tokens", "hit ratio"],
        [[_usd(summary.get("cost_usd")), _usd(summary.get("cost_per_1000_requests")), summary.get("priced_requests", 0),
          summary.get("cache_read_tokens", 0), summary.get("cache_write_tokens", 0),
          "-" if ratio is None else f"{ratio:.1%}"]],
    )  # fmt: skip
    rows = []
    for model, m in by_model.items():
        c = m["cost_by_category"]
        source = f"{m['price_source']} ({m['price_as_of']}{', estimate' if m['price_estimate'] else ''})"
        rows.append([html.escape(model), m["requests"], _usd(m["cost_usd"]), _usd(c["input"]),
                     _usd(c["cache_write_5m"] + c["cache_write_1h"]), _usd(c["cache_read"]), _usd(c["output"]),
                     html.escape(source)])  # fmt: skip
    head = ["model", "requests", "USD", "input", "cache write", "cache read", "output", "price source"]
    unpriced = summary.get("unpriced_models") or {}
    notes = "".join(
        f'<p class="note">{html.escape(k)}: {v} request(s) without a list price, not counted.</p>'
        for k, v in unpriced.items()
    )
    return (
        f"<h2>Prompt cache and cost</h2><p>{what}, at list prices; successful message calls.</p>"
        f"{totals}{_table(head, rows)}{notes}"
    )


def cache_figure(records: Sequence[RequestRecord]) -> go.Figure | None:
    """Input tokens per scenario, split into uncached, cache write and cache read, with the hit ratio."""
    by_scenario: dict[str, TokenUsage] = {}
    for r in records:
        if (tokens := r.token_usage()) is not None:
            by_scenario[r.scenario] = by_scenario.get(r.scenario, TokenUsage()) + tokens
    if not by_scenario:
        return None
    names = sorted(by_scenario)
    parts = (
        ("uncached input", "input_tokens"),
        ("cache write", "cache_write_tokens"),
        ("cache read", "cache_read_tokens"),
    )
    fig = go.Figure([go.Bar(x=names, y=[getattr(by_scenario[n], attr) for n in names], name=label)
                     for label, attr in parts])  # fmt: skip
    for n in names:
        if (ratio := hit_ratio(by_scenario[n])) is not None:
            total = sum(getattr(by_scenario[n], attr) for _, attr in parts)
            fig.add_annotation(x=n, y=total, text=f"hit {ratio:.1%}", showarrow=False, yshift=10)
    fig.update_layout(title="Input tokens by scenario: uncached, cache write, cache read", barmode="stack",
                      yaxis_title="tokens")  # fmt: skip
    return fig


def tier_section(records: Sequence[RequestRecord], summary: Mapping[str, Any]) -> str:
    """The rate-limit tier the measured traffic needs, at the measured request rate."""
    duration = summary.get("duration_s") or 0.0
    generations = [r for r in records if r.ok and not r.count_tokens and r.usage]  # count_tokens has its own limits
    if not generations or duration <= 0:
        return ""
    rate = summary["requests"] / duration
    rows = plan.plan(plan.traffic((r.model, r.usage) for r in generations), rate)
    body = [
        [html.escape(r["class"]), f"{r['share']:.0%}", f"{r['requests_per_min']:,.1f}",
         f"{r['uncached_input_per_min']:,.0f}", f"{r['cache_write_per_min']:,.0f}", f"{r['cache_read_per_min']:,.0f}",
         f"{r['output_per_min']:,.0f}", r["tier"] or "above Tier 4", f"{r['binding']} at {r['utilization']:.0%}"]
        for r in rows
    ]  # fmt: skip
    head = ["model class", "share", "RPM", "uncached in/min", "cache writes/min", "cache reads/min", "out/min",
            "lowest tier", "binding limit"]  # fmt: skip
    note = (
        f'<p class="note">At the measured {rate:.2f} requests/s. ITPM counts uncached input and cache writes. '
        f"Tiers: {html.escape(tiers.SOURCE)}.</p>"
    )
    return (
        "<h2>Rate-limit tier needed</h2>"
        + (_table(head, body) if body else "<p>No model in the tier table.</p>")
        + note
    )


def slo_section(rows: Sequence[Mapping[str, Any]]) -> str:
    """The SLO pass/fail table."""
    body = [[html.escape(r["objective"]), html.escape(r["shown"]), _verdict(r["pass"])] for r in rows]
    return "<h2>Service-level objectives</h2>" + _table(["objective", "measured", "result"], body)


def sweep_section(sweep: Mapping[str, Any]) -> str:
    """One row per sweep step, and the knee."""
    body = []
    for r in sweep["rows"]:
        lat = ["/".join(_ms(r[m][p]) for p in ("p50", "p95", "p99")) for m in ("ttft_s", "itl_s", "e2e_s")]
        tps = r["output_tokens_per_s"]
        body.append([html.escape(r["step"]), f"{r['achieved_rps']:.2f}", *lat, "-" if tps is None else f"{tps:.0f}",
                     r["requests"], r["rate_limited"], r["errors"], _verdict(r["slo_pass"])])  # fmt: skip
    knee = sweep.get("knee_rps")
    verdict = f"Knee: {knee:g} requests/s" if knee is not None else "No rate met the SLO" if sweep["slo"] else ""
    note = (
        f'<p class="note">Each step {sweep["step_s"]:g} s, the first {sweep["warmup_s"]:g} s not counted; '
        "achieved = successful requests/s after the warm-up; latencies p50/p95/p99 in ms.</p>"
    )
    head = ["step", "achieved rps", "TTFT", "ITL", "E2E", "tok/s", "requests", "429", "errors", "SLO"]
    return f"<h2>Sweep</h2><p><b>{verdict}</b></p>{_table(head, body)}{note}"


def _cdf(values: Sequence[float]) -> tuple[list[float], list[float]]:
    v = sorted(values)
    return [x * 1000 for x in v], [(i + 1) / len(v) for i in range(len(v))]


def run_figures(records: Sequence[RequestRecord]) -> list[go.Figure]:
    """Latency CDFs, TTFT/E2E percentiles over time, tokens/s over time and failures over time."""
    ok = [r for r in records if r.ok]
    values = {
        "TTFT": [r.ttft_s for r in ok if r.ttft_s is not None],
        "TPOT": [t for r in ok if (t := r.tpot_s()) is not None],
        "E2E": [r.e2e_s for r in ok if r.e2e_s is not None],
    }
    cdf = go.Figure([go.Scatter(x=_cdf(v)[0], y=_cdf(v)[1], name=k, mode="lines") for k, v in values.items() if v])
    cdf.update_layout(title="Latency CDF", xaxis_title="milliseconds", yaxis_title="share of requests",
                      xaxis_type="log")  # fmt: skip
    if not records:
        return [cdf]
    t0 = min(r.send_wall for r in records)
    span = max(r.send_wall + (r.e2e_s or 0.0) for r in records) - t0
    width = max(1.0, math.ceil(span / 30))  # about 30 windows, at least a second each
    windows = math.floor(span / width) + 1
    by_send: list[list[RequestRecord]] = [[] for _ in range(windows)]
    for r in ok:
        by_send[min(windows - 1, int((r.send_wall - t0) / width))].append(r)
    mids = [(i + 0.5) * width for i in range(windows)]
    over_time = go.Figure()
    for attr, label in (("ttft_s", "TTFT"), ("e2e_s", "E2E")):
        for p in (50, 95):
            ys = []
            for bucket in by_send:
                v = sorted(x for r in bucket if (x := getattr(r, attr)) is not None)
                ys.append(percentile(v, p) * 1000 if v else None)
            over_time.add_trace(go.Scatter(x=mids, y=ys, name=f"{label} p{p}", mode="lines+markers"))
    over_time.update_layout(title=f"Latency percentiles over time ({width:g} s windows, by send time)",
                            xaxis_title="seconds into the run", yaxis_title="milliseconds")  # fmt: skip
    tokens = [0.0] * windows
    done = [0.0] * windows
    failed: dict[str, list[float]] = {}
    for r in records:
        i = min(windows - 1, int((r.send_wall + (r.e2e_s or 0.0) - t0) / width))
        if r.ok:
            tokens[i] += (r.output_tokens or 0) / width
            done[i] += 1 / width
        else:
            failed.setdefault(r.error_class, [0.0] * windows)[i] += 1 / width
    throughput = go.Figure([
        go.Scatter(x=mids, y=tokens, name="output tokens/s", mode="lines+markers"),
        go.Scatter(x=mids, y=done, name="requests/s", mode="lines+markers", yaxis="y2"),
    ])  # fmt: skip
    throughput.update_layout(title="Throughput over time (by completion time)", xaxis_title="seconds into the run",
                             yaxis_title="output tokens/s",
                             yaxis2={"title": "requests/s", "overlaying": "y", "side": "right"})  # fmt: skip
    failures = go.Figure([go.Bar(x=mids, y=v, name=k, showlegend=True) for k, v in sorted(failed.items())])
    failures.update_layout(title="Failures per second, by class" + ("" if failed else ": none"), barmode="stack",
                           xaxis_title="seconds into the run", yaxis_title="failures/s")  # fmt: skip
    cache = cache_figure(ok)
    return [cdf, over_time, throughput, failures, *([cache] if cache else [])]


def sweep_figures(sweep: Mapping[str, Any]) -> list[go.Figure]:
    """Latency percentiles vs offered rate, achieved vs offered rate."""
    rows = [r for r in sweep["rows"] if r["offered_rps"] is not None]
    offered = [r["offered_rps"] for r in rows]
    latency = go.Figure()
    for key, label in (("ttft_s", "TTFT"), ("e2e_s", "E2E")):
        for p in ("p50", "p95", "p99"):
            ys = [None if r[key][p] is None else r[key][p] * 1000 for r in rows]
            latency.add_trace(go.Scatter(x=offered, y=ys, name=f"{label} {p}", mode="lines+markers"))
    latency.update_layout(title="Latency vs offered rate", xaxis_title="offered requests/s", yaxis_title="milliseconds")
    achieved = go.Figure([
        go.Scatter(x=offered, y=[r["achieved_rps"] for r in rows], name="achieved", mode="lines+markers"),
        go.Scatter(x=offered, y=offered, name="offered (ideal)", mode="lines", line={"dash": "dot"}),
    ])  # fmt: skip
    achieved.update_layout(title="Achieved vs offered rate", xaxis_title="offered requests/s",
                           yaxis_title="successful requests/s")  # fmt: skip
    return [latency, achieved]


def _plots(figures: Sequence[go.Figure]) -> str:
    parts = []
    for i, fig in enumerate(figures):
        fig.update_layout(template="plotly_white", height=380, margin={"l": 60, "r": 60, "t": 50, "b": 50})
        # The library is inlined once, with the first plot: the page needs no network.
        parts.append(pio.to_html(fig, full_html=False, include_plotlyjs=i == 0, config={"displaylogo": False}))
    return "<h2>Plots</h2>" + "".join(parts) if parts else ""


def render(
    title: str,
    *,
    summary: Mapping[str, Any] | None = None,
    records: Sequence[RequestRecord] = (),
    slo_rows: Sequence[Mapping[str, Any]] = (),
    sweep: Mapping[str, Any] | None = None,
) -> str:
    """The whole page."""
    sections = [slo_section(slo_rows) if slo_rows else ""]
    figures: list[go.Figure] = []
    if sweep is not None:
        sections.append(sweep_section(sweep))
        figures += sweep_figures(sweep)
    if summary is not None:
        sections += [summary_section(summary), cost_section(summary), failures_section(summary)]
        sections.append(tier_section(records, summary))
        figures += run_figures(records)
    sections.append(_plots(figures))
    body = "".join(sections)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    )


def write(folder: Path, title: str, **parts: Any) -> Path:
    """Write report.html into `folder`; its path."""
    path = folder / FILE
    path.write_text(render(title, **parts), encoding="utf-8")
    return path
