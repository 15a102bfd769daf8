"""Service-level objectives: `--slo "ttft_p95<2s,itl_p99<150ms,error_rate<1%,rate_limited<5%"`.

Grammar (whitespace around the parts is ignored, names are case-insensitive):

    slo       := objective ("," objective)*
    objective := metric op value
    op        := "<" | "<=" | ">" | ">="
    metric    := LATENCY "_" STAT     value: NUMBER "ms" | NUMBER "s"      e.g. ttft_p95<2s
               | "error_rate"         value: NUMBER "%"                    failures other than 429s / requests
               | "rate_limited"       value: NUMBER "%"                    429s / requests
               | "output_tps"         value: NUMBER                        output tokens/s of the whole run
    LATENCY   := ttfb | ttft | itl | tpot | e2e
    STAT      := p50 | p90 | p95 | p99 | mean | max

Objectives are checked against a summary (`replay.summary.summarize`); an objective with no data
(e.g. a TTFT objective when no request streamed) fails, so a CI gate never passes on nothing.
"""

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LATENCIES = ("ttfb", "ttft", "itl", "tpot", "e2e")
STATS = ("p50", "p90", "p95", "p99", "mean", "max")
RATIOS = ("error_rate", "rate_limited")
GRAMMAR = (
    "comma-separated METRIC OP VALUE with OP one of < <= > >=; METRIC one of "
    f"{{{'|'.join(LATENCIES)}}}_{{{'|'.join(STATS)}}} (VALUE like 2s or 150ms), "
    "error_rate or rate_limited (VALUE like 1%), output_tps (VALUE tokens/s); "
    'e.g. "ttft_p95<2s,itl_p99<150ms,error_rate<1%,rate_limited<5%"'
)
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_OBJECTIVE = re.compile(r"^\s*([a-z0-9_]+)\s*(<=|>=|<|>)\s*([0-9]*\.?[0-9]+)\s*(ms|s|%)?\s*$", re.IGNORECASE)


class SloError(ValueError):
    """An --slo string that does not follow the grammar; the message names the bad part."""


@dataclass(frozen=True)
class Objective:
    """One objective: `metric op threshold`, threshold in seconds, a fraction, or tokens/s."""

    metric: str
    op: str
    threshold: float
    text: str  # as the user wrote it, for the table

    def measure(self, summary: Mapping[str, Any]) -> float | None:
        """This objective's metric in `summary`; None when there is no data for it."""
        if self.metric in RATIOS:
            requests = summary["requests"]
            if not requests:
                return None
            limited = summary["rate_limited"]
            return (limited if self.metric == "rate_limited" else summary["failures"] - limited) / requests
        if self.metric == "output_tps":
            value = summary.get("output_tokens_per_s")
            return None if value is None else float(value)
        latency, stat = self.metric.split("_")
        value = summary[f"{latency}_s"][stat]
        return None if value is None else float(value)

    def holds(self, measured: float | None) -> bool:
        """True when `measured` meets the objective (never for missing data)."""
        return measured is not None and _OPS[self.op](measured, self.threshold)

    def format(self, value: float | None) -> str:
        """`value` in this objective's unit."""
        if value is None:
            return "no data"
        if self.metric in RATIOS:
            return f"{value * 100:.2f}%"
        if self.metric == "output_tps":
            return f"{value:.1f} tok/s"
        return f"{value * 1000:.1f} ms"


def _objective(part: str, spec: str) -> Objective:
    m = _OBJECTIVE.match(part)
    if not m:
        raise SloError(f"bad --slo objective {part.strip()!r} in {spec!r}: expected {GRAMMAR}")
    name, op, number, unit = m.group(1).lower(), m.group(2), float(m.group(3)), (m.group(4) or "").lower()
    where = f"--slo objective {part.strip()!r}"
    if name in RATIOS:
        if unit != "%":
            raise SloError(f"{where}: {name} is a percentage, write it like {name}<1%")
        return Objective(name, op, number / 100, part.strip())
    if name == "output_tps":
        if unit:
            raise SloError(f"{where}: output_tps is in tokens/s and takes no unit, e.g. output_tps>500")
        return Objective(name, op, number, part.strip())
    latency, _, stat = name.partition("_")
    if latency not in LATENCIES or stat not in STATS:
        raise SloError(f"{where}: unknown metric {name!r}; expected {GRAMMAR}")
    if unit not in ("s", "ms"):
        raise SloError(f"{where}: a latency needs a unit, s or ms, e.g. {name}<2s")
    return Objective(name, op, number / 1000 if unit == "ms" else number, part.strip())


def parse(spec: str) -> tuple[Objective, ...]:
    """The objectives of an --slo string; SloError naming the bad part otherwise."""
    parts = spec.split(",")
    if not spec.strip() or any(not p.strip() for p in parts):
        raise SloError(f"bad --slo {spec!r}: an empty objective; expected {GRAMMAR}")
    objectives = tuple(_objective(p, spec) for p in parts)
    names = [o.metric for o in objectives]
    if len(set(names)) != len(names):
        raise SloError(f"bad --slo {spec!r}: a metric appears twice")
    return objectives


def evaluate(objectives: Sequence[Objective], summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per objective: its text, the measured value and whether it holds."""
    rows = []
    for o in objectives:
        value = o.measure(summary)
        rows.append({"objective": o.text, "metric": o.metric, "measured": value, "shown": o.format(value),
                     "pass": o.holds(value)})  # fmt: skip
    return rows


def passed(rows: Sequence[Mapping[str, Any]]) -> bool:
    """True when every objective holds."""
    return all(r["pass"] for r in rows)


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The pass/fail table printed at the end of a run."""
    width = max([len("objective"), *(len(r["objective"]) for r in rows)])
    head = f"{'objective':<{width}}  {'measured':>14}  result"
    lines = [head, "-" * len(head)]
    lines += [f"{r['objective']:<{width}}  {r['shown']:>14}  {'PASS' if r['pass'] else 'FAIL'}" for r in rows]
    verdict = "all objectives hold" if passed(rows) else f"{sum(not r['pass'] for r in rows)} objective(s) broken"
    lines.append(f"SLO: {verdict}")
    return "\n".join(lines)
