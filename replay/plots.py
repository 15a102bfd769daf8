"""Plots as plain SVG: histograms of latencies and time series of throughput and errors.

Written directly (no matplotlib): a few rectangles and polylines need no 40 MB dependency, and the
files open in any browser.
"""

import math
from collections.abc import Mapping, Sequence
from html import escape

from replay.summary import percentile

W, H = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 40, 50
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def _frame(
    title: str,
    xlabel: str,
    ylabel: str,
    x_max: float,
    y_max: float,
    body: list[str],
    x_min: float = 0.0,
    x_ticks: bool = True,
) -> str:
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{TOP + ph}" x2="{LEFT + pw}" y2="{TOP + ph}" stroke="black"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + ph}" stroke="black"/>',
        f'<text x="{LEFT + pw / 2}" y="{H - 10}" text-anchor="middle">{escape(xlabel)}</text>',
        f'<text x="14" y="{TOP + ph / 2}" text-anchor="middle" transform="rotate(-90 14 {TOP + ph / 2})">'
        f"{escape(ylabel)}</text>",
    ]
    for i in range(6):
        x = LEFT + pw * i / 5
        y = TOP + ph - ph * i / 5
        x_label = _num(x_min + (x_max - x_min) * i / 5)
        if x_ticks:
            parts.append(f'<text x="{x:.1f}" y="{TOP + ph + 15}" text-anchor="middle">{x_label}</text>')
        parts.append(f'<text x="{LEFT - 5}" y="{y + 4:.1f}" text-anchor="end">{_num(y_max * i / 5)}</text>')
    return "\n".join([*parts, *body, "</svg>\n"])


def _num(v: float) -> str:
    return f"{v:.3g}"


def histogram(values: Sequence[float], title: str, xlabel: str, bins: int = 40) -> str:
    """An SVG histogram of `values` with p50 and p99 marked."""
    v = sorted(values)
    if not v:
        return _frame(f"{title} (no data)", xlabel, "requests", 1, 1, [])
    # Zoom on the data: latencies cluster far from zero, and a 0-based axis would squeeze them.
    pad = (v[-1] - v[0]) * 0.05 or max(abs(v[0]) * 0.05, 1e-6)
    x_min, x_max = max(v[0] - pad, 0.0), v[-1] + pad
    width = x_max - x_min
    counts = [0] * bins
    for x in v:
        counts[min(int((x - x_min) / width * bins), bins - 1)] += 1
    # Whole-number ticks (counts are whole): five steps of at least 1.
    y_max = max(1, math.ceil(max(counts) / 5)) * 5
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    body = []
    for i, c in enumerate(counts):
        if c:
            h = ph * c / y_max
            body.append(
                f'<rect x="{LEFT + pw * i / bins:.1f}" y="{TOP + ph - h:.1f}" width="{pw / bins - 1:.1f}" '
                f'height="{h:.1f}" fill="{COLOURS[0]}"/>'
            )
    for p, colour in ((50, COLOURS[2]), (99, COLOURS[1])):
        q = percentile(v, p)
        x = LEFT + pw * (q - x_min) / width
        body.append(
            f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + ph}" stroke="{colour}" stroke-dasharray="4"/>'
        )
        # In the right half the label goes left of its line, so it never runs off the picture.
        anchor, dx = ("end", -3) if x > LEFT + pw / 2 else ("start", 3)
        body.append(
            f'<text x="{x + dx:.1f}" y="{TOP + 12 + 14 * (p == 99)}" fill="{colour}" text-anchor="{anchor}">'
            f"p{p} {_num(q)}</text>"
        )
    return _frame(f"{title} (n={len(v)})", xlabel, "count", x_max, y_max, body, x_min)


def timeseries(series: Mapping[str, Sequence[float]], title: str, ylabel: str, step_s: float = 1.0) -> str:
    """An SVG line chart: one line per named series of per-step values."""
    n = max((len(s) for s in series.values()), default=0)
    y_max = max((max(s) for s in series.values() if s), default=0.0) or 1.0
    x_max = max(n * step_s, step_s)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    body = []
    for k, (name, values) in enumerate(series.items()):
        colour = COLOURS[k % len(COLOURS)]
        pts = " ".join(
            f"{LEFT + pw * (i + 0.5) * step_s / x_max:.1f},{TOP + ph - ph * val / y_max:.1f}"
            for i, val in enumerate(values)
        )
        if pts:
            body.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        body.append(f'<text x="{LEFT + 10}" y="{TOP + 14 + 14 * k}" fill="{colour}">{escape(name)}</text>')
    return _frame(title, "seconds since start", ylabel, x_max, y_max, body)


def per_second(events: Sequence[tuple[float, float]], t0: float, seconds: int) -> list[float]:
    """Sum of `(time, amount)` events in each 1 s bucket from t0."""
    out = [0.0] * max(seconds, 1)
    for t, amount in events:
        i = math.floor(t - t0)
        if 0 <= i < len(out):
            out[i] += amount
    return out


def stacked_bars(groups: Mapping[str, Mapping[str, float]], title: str, ylabel: str, notes: Mapping[str, str]) -> str:
    """An SVG bar per group, stacked by part (same parts in every group), with a note above each bar."""
    parts = list(dict.fromkeys(p for g in groups.values() for p in g))
    # Headroom above the tallest bar for its note and the legend.
    y_max = 1.25 * max((sum(g.values()) for g in groups.values()), default=0.0) or 1.0
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    slot = pw / max(len(groups), 1)
    body = [f'<text x="{LEFT + 10}" y="{TOP + 14 + 14 * k}" fill="{COLOURS[k % len(COLOURS)]}">{escape(p)}</text>'
            for k, p in enumerate(parts)]  # fmt: skip
    for i, (name, group) in enumerate(groups.items()):
        x, base = LEFT + slot * i + slot * 0.2, TOP + ph
        for k, part in enumerate(parts):
            h = ph * group.get(part, 0.0) / y_max
            base -= h
            body.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{slot * 0.6:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[k % len(COLOURS)]}"/>'
            )
        centre = x + slot * 0.3
        note = escape(notes.get(name, ""))
        body.append(f'<text x="{centre:.1f}" y="{base - 4:.1f}" text-anchor="middle">{note}</text>')
        body.append(f'<text x="{centre:.1f}" y="{TOP + ph + 30}" text-anchor="middle">{escape(name[:24])}</text>')
    return _frame(title, "", ylabel, 1, y_max, body, x_ticks=False)
