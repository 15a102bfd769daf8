"""The report folder: records.jsonl (the source of truth), summary.json, summary.txt and report.html."""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from replay import html_report
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


def write_report(folder: str | Path, records: Sequence[RequestRecord], summary: dict[str, Any]) -> Path:
    """Write everything into `folder` (created if needed); returns the folder."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    write_records(out / "records.jsonl", records)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out / "summary.txt").write_text(format_table(summary) + "\n", encoding="utf-8")
    html_report.write(out, "mockclaude replay report", summary=summary, records=records)
    return out
