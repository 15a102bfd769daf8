"""The live LLM view: TTFT, ITL, TPOT, output tokens/s and 429s per scenario while a run goes on.

Locust's own stats hold one row per API request (so its RPS and failure % are true); these
figures live apart, in a `RequestStats` of their own that Locust's tables and CSV files never
see. Locust rounds the times it stores, so this is the live view only: the exact percentiles of
the summary come from the per-request records.
"""

import time
from dataclasses import dataclass, field
from typing import Any

from locust.stats import RequestStats

from replay.classify import RATE_LIMITED
from replay.records import RequestRecord

METRICS = ("TTFT", "ITL", "TPOT")
ALL = "ALL"

# The columns of the web UI's table and the console table: (key, title).
COLUMNS = (
    ("scenario", "Scenario"),
    ("requests", "Requests"),
    ("failures", "Failures"),
    ("rate_limited", "429s"),
    ("ttft_p50", "TTFT p50 (ms)"),
    ("ttft_p90", "TTFT p90 (ms)"),
    ("ttft_p99", "TTFT p99 (ms)"),
    ("itl_p50", "ITL p50 (ms)"),
    ("itl_p99", "ITL p99 (ms)"),
    ("tpot_p50", "TPOT p50 (ms)"),
    ("tpot_p90", "TPOT p90 (ms)"),
    ("output_tokens", "Output tokens"),
    ("output_tps", "Output tokens/s"),
)


@dataclass
class _Counts:
    requests: int = 0
    failures: int = 0
    rate_limited: int = 0
    output_tokens: int = 0


@dataclass
class LiveStats:
    """Per-scenario LLM figures, fed one record at a time."""

    times: RequestStats = field(default_factory=lambda: RequestStats(use_response_times_cache=False))
    counts: dict[str, _Counts] = field(default_factory=dict)
    first_send: float | None = None

    def add(self, rec: RequestRecord) -> None:
        """Count one finished attempt and log its TTFT, every ITL gap and its TPOT."""
        for name in (ALL, rec.scenario):
            c = self.counts.setdefault(name, _Counts())
            c.requests += 1
            c.failures += not rec.ok
            c.rate_limited += rec.error_class == RATE_LIMITED
            c.output_tokens += (rec.output_tokens or 0) if rec.ok else 0
        if rec.send_wall and (self.first_send is None or rec.send_wall < self.first_send):
            self.first_send = rec.send_wall
        if not rec.ok:
            return
        samples = [("TTFT", rec.ttft_s), ("TPOT", rec.tpot_s()), *(("ITL", gap) for gap in rec.itl_s())]
        for metric, seconds in samples:
            if seconds is not None:
                for name in (ALL, rec.scenario):
                    self.times.get(name, metric).log(round(seconds * 1000, 1), 0)

    def rows(self, now: float | None = None) -> list[dict[str, Any]]:
        """One dict per scenario (ALL first), keyed by COLUMNS."""
        elapsed = max((now or time.time()) - (self.first_send or 0.0), 1e-9) if self.first_send else None
        names = [ALL, *sorted(n for n in self.counts if n != ALL)] if self.counts else []
        out = []
        for name in names:
            c = self.counts[name]
            row: dict[str, Any] = {
                "scenario": name,
                "requests": c.requests,
                "failures": c.failures,
                "rate_limited": c.rate_limited,
                "output_tokens": c.output_tokens,
                "output_tps": round(c.output_tokens / elapsed, 1) if elapsed else None,
            }
            for metric, percentiles in (("TTFT", (50, 90, 99)), ("ITL", (50, 99)), ("TPOT", (50, 90))):
                entry = self.times.entries.get((name, metric))
                for p in percentiles:
                    has = entry is not None and entry.num_requests > 0
                    row[f"{metric.lower()}_p{p}"] = entry.get_response_time_percentile(p / 100) if has else None
            out.append(row)
        return out


def format_rows(rows: list[dict[str, Any]]) -> str:
    """The live view as a plain-text table (the headless console)."""
    titles = [title for _, title in COLUMNS]
    cells = [[("-" if r[key] is None else str(r[key])) for key, _ in COLUMNS] for r in rows]
    widths = [max(len(t), *(len(c[i]) for c in cells)) if cells else len(t) for i, t in enumerate(titles)]
    lines = ["  ".join(t.rjust(w) if i else t.ljust(w) for i, (t, w) in enumerate(zip(titles, widths, strict=True)))]
    for c in cells:
        lines.append("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(c, widths, strict=True))))
    return "\n".join(lines)
