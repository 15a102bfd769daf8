"""The report folder: records.jsonl (the source of truth), summary.json, summary.txt and SVG plots."""

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
    """TTFT and TPOT distributions, throughput and errors over time; the files written."""
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
    written = []
    for name, svg in files.items():
        (folder / name).write_text(svg, encoding="utf-8")
        written.append(folder / name)
    return written


def write_report(folder: str | Path, records: Sequence[RequestRecord], summary: dict[str, Any]) -> Path:
    """Write everything into `folder` (created if needed); returns the folder."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    write_records(out / "records.jsonl", records)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out / "summary.txt").write_text(format_table(summary) + "\n", encoding="utf-8")
    write_plots(out, records)
    return out
