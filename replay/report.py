"""The report folder: records.jsonl (the source of truth), summary.json, summary.txt and SVG plots."""

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mockclaude.pricing import TokenUsage, hit_ratio
from replay import plots
from replay.records import RequestRecord
from replay.summary import format_table


def write_records(path: Path, records: Sequence[RequestRecord]) -> None:
    """One JSON line per request."""
    with path.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r.to_dict(), separators=(",", ":")) + "\n")


def read_records(path: Path) -> list[RequestRecord]:
    """Records written by `write_records`."""
    with path.open(encoding="utf-8") as f:
        return [RequestRecord.from_dict(json.loads(line)) for line in f if line.strip()]


def write_plots(folder: Path, records: Sequence[RequestRecord]) -> list[Path]:
    """TTFT and TPOT distributions, throughput and errors over time, cache use per scenario; the files written."""
    ok = [r for r in records if r.ok]
    files = {
        "ttft.svg": plots.histogram([r.ttft_s for r in ok if r.ttft_s is not None], "TTFT", "seconds"),
        "tpot.svg": plots.histogram([t for r in ok if (t := r.tpot_s()) is not None], "TPOT", "seconds per token"),
    }
    if records:
        t0 = min(r.send_wall for r in records)
        end = max(r.send_wall + (r.e2e_s or 0.0) for r in records)
        secs = math.ceil(end - t0) or 1
        done = [(r.send_wall + (r.e2e_s or 0.0), r) for r in records]
        files["throughput.svg"] = plots.timeseries(
            {
                "output tokens/s": plots.per_second([(t, r.output_tokens or 0) for t, r in done if r.ok], t0, secs),
                "requests/s x10": plots.per_second([(t, 10.0) for t, r in done if r.ok], t0, secs),
            },
            "Throughput (by completion time)",
            "per second",
        )
        classes = sorted({r.error_class for r in records if not r.ok})
        files["errors.svg"] = plots.timeseries(
            {c: plots.per_second([(t, 1.0) for t, r in done if r.error_class == c], t0, secs) for c in classes}
            or {"no failures": [0.0] * secs},
            "Failures per second, by class",
            "failures/s",
        )
    files["cache.svg"] = cache_plot(ok)
    written = []
    for name, svg in files.items():
        (folder / name).write_text(svg, encoding="utf-8")
        written.append(folder / name)
    return written


def cache_plot(records: Sequence[RequestRecord]) -> str:
    """Input tokens per scenario, split into uncached, cache write and cache read, with the hit ratio."""
    by_scenario: dict[str, TokenUsage] = {}
    for r in records:
        if (tokens := r.token_usage()) is not None:
            by_scenario[r.scenario] = by_scenario.get(r.scenario, TokenUsage()) + tokens
    groups = {
        name: {"uncached input": u.input_tokens, "cache write": u.cache_write_tokens, "cache read": u.cache_read_tokens}
        for name, u in sorted(by_scenario.items())
    }
    notes = {name: f"hit {ratio:.1%}" for name, u in by_scenario.items() if (ratio := hit_ratio(u)) is not None}
    return plots.stacked_bars(groups, "Input tokens by scenario: uncached, cache write, cache read", "tokens", notes)


def write_report(folder: str | Path, records: Sequence[RequestRecord], summary: dict[str, Any]) -> Path:
    """Write everything into `folder` (created if needed); returns the folder."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    write_records(out / "records.jsonl", records)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out / "summary.txt").write_text(format_table(summary) + "\n", encoding="utf-8")
    write_plots(out, records)
    return out
