"""`mockclaude replay ... --slo ... | --sweep`: the capacity questions, answered around Locust runs.

These options live in the `mockclaude replay` process only (Locust never sees them): it runs Locust
once (an SLO gate) or once per sweep step, reads each run's records from its report folder, and
prints the SLO table and the sweep table. The exit code is the CI gate: 0 only if every objective held
(in a sweep: if some rate met the SLO), 1 if one broke, 2 for bad options or a run that wrote no report.
"""

import argparse
import dataclasses
import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from replay import html_report, options, quantities, slo, sweep
from replay.records import RequestRecord
from replay.report import read_records

DEFAULT_SWEEP_USERS = 32
DEFAULT_STEP_S = 30.0
DEFAULT_WARMUP_S = 5.0
# Locust options a sweep sets for each step itself: the users (taken from the command line) and the rest.
_USERS = ("-u", "--users")
_STEP_OWNED = ("-t", "--run-time", "-r", "--spawn-rate", "--stop-timeout")
# How long requests sent within a step may take to finish after it (they are measured, not cut).
STOP_TIMEOUT_S = 120

type Launch = Callable[[options.ReplayConfig, list[str]], int]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--slo, --sweep, --sweep-rates, --sweep-step, --warmup."""
    parser.add_argument(
        "--slo",
        default="",
        help='objectives that must hold, e.g. "ttft_p95<2s,itl_p99<150ms,error_rate<1%%,rate_limited<5%%"; '
        "prints a pass/fail table and exits 1 if one breaks (grammar: README, Capacity planning)",
    )
    parser.add_argument(
        "--sweep",
        nargs="?",
        type=int,
        const=5,
        default=None,
        metavar="N",
        help="rate sweep: a synchronous baseline, a max-throughput step, then N open-loop rates between (default 5)",
    )
    parser.add_argument("--sweep-rates", default="", help="sweep these requests/s instead, e.g. 1,2,4,8")
    parser.add_argument("--sweep-step", default="", help=f"duration of each sweep step (default {DEFAULT_STEP_S:g}s)")
    parser.add_argument(
        "--warmup",
        default="",
        help=f"the start of each sweep step left out of its numbers (default {DEFAULT_WARMUP_S:g}s)",
    )


def wanted(args: argparse.Namespace) -> bool:
    """True when the run needs this module (an SLO or a sweep was asked for)."""
    return bool(args.slo or args.sweep is not None or args.sweep_rates or args.sweep_step or args.warmup)


def take_option(extra: list[str], names: Sequence[str]) -> tuple[str | None, list[str]]:
    """The value of the last of `names` in a Locust command line (`-u 5`, `-u5`, `--users=5`), and the rest."""
    value, rest, i = None, [], 0
    while i < len(extra):
        word = extra[i]
        flag, eq, inline = word.partition("=")
        if any(len(n) == 2 and word.startswith(n) and len(word) > 2 and not eq for n in names):
            value = word[2:]
        elif flag in names:
            if eq:
                value = inline
            elif i + 1 < len(extra):
                value, i = extra[i + 1], i + 1
        else:
            rest.append(word)
        i += 1
    return value, rest


def _summary(folder: Path) -> dict[str, Any]:
    path = folder / "summary.json"
    if not path.exists():
        raise FileNotFoundError(f"the run wrote no {path}; see Locust's output above")
    return json.loads(path.read_text(encoding="utf-8"))


def gate(objectives: Sequence[slo.Objective], cfg: options.ReplayConfig, extra: list[str], launch: Launch) -> int:
    """One run, then the SLO table; 0 only if every objective held."""
    folder = Path(cfg.report or tempfile.mkdtemp(prefix="mockclaude-slo-"))
    rc = launch(dataclasses.replace(cfg, report=str(folder)), extra)
    if rc not in (0, 1):  # 1 only says some request failed; the SLO decides whether that matters
        return rc
    try:
        summary = _summary(folder)
    except FileNotFoundError as exc:
        print(f"mockclaude replay: {exc}", file=sys.stderr)
        return 2
    rows = slo.evaluate(objectives, summary)
    (folder / "slo.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    records = read_records(folder / "records.jsonl")
    html_report.write(folder, "mockclaude replay report", summary=summary, records=records, slo_rows=rows)
    print("\n" + slo.format_table(rows), flush=True)
    return 0 if slo.passed(rows) else 1


def _step_config(cfg: options.ReplayConfig, step: sweep.Step, folder: Path) -> options.ReplayConfig:
    if step.kind == sweep.RATE:
        return dataclasses.replace(cfg, rate=step.rate, speed=0.0, report=str(folder))
    return dataclasses.replace(cfg, rate=0.0, speed=0.0, think_time="0", report=str(folder))


def run_sweep(
    args: argparse.Namespace, objectives: Sequence[slo.Objective], cfg: options.ReplayConfig, extra: list[str],
    launch: Launch,
) -> int:  # fmt: skip
    """Every step of the sweep, its table and knee in sweep.json; 0 when some rate met the SLO."""
    step_s = quantities.parse_duration(args.sweep_step, "--sweep-step") if args.sweep_step else DEFAULT_STEP_S
    warmup_s = quantities.parse_duration(args.warmup, "--warmup") if args.warmup else DEFAULT_WARMUP_S
    if warmup_s >= step_s:
        raise sweep.SweepError(f"--warmup ({warmup_s:g} s) must be shorter than --sweep-step ({step_s:g} s)")
    if args.sweep is not None and args.sweep < 1:
        raise sweep.SweepError(f"--sweep N needs N >= 1 rates, not {args.sweep}")
    steps = [sweep.Step(sweep.RATE, r) for r in sweep.parse_rates(args.sweep_rates)] if args.sweep_rates else None
    users_text, rest = take_option(extra, _USERS)
    _, rest = take_option(rest, _STEP_OWNED)
    if users_text is not None and not users_text.isdigit():
        raise sweep.SweepError(f"-u/--users must be a whole number of users, not {users_text!r}")
    users = int(users_text) if users_text else DEFAULT_SWEEP_USERS
    rest = [*rest, *(["--headless"] if "--headless" not in rest else [])]
    root = Path(cfg.report or tempfile.mkdtemp(prefix="mockclaude-sweep-"))

    def run_step(step: sweep.Step) -> list[RequestRecord]:
        folder = root / f"step-{len(list(root.glob('step-*'))) + 1:02d}-{step.label.replace('/s', 'rps')}"
        n = 1 if step.kind == sweep.SYNCHRONOUS else users
        print(f"\n== sweep step {step.label}: {step_s:g} s, {n} user(s), first {warmup_s:g} s not counted", flush=True)
        argv = [*rest, "-t", f"{step_s:g}s", "-u", str(n), "-r", str(n), "--stop-timeout", str(STOP_TIMEOUT_S)]
        rc = launch(_step_config(cfg, step, folder), argv)
        if rc not in (0, 1) or not (folder / "records.jsonl").exists():
            raise FileNotFoundError(f"sweep step {step.label} failed (exit {rc}); see Locust's output above")
        return read_records(folder / "records.jsonl")

    rows = sweep.run(steps, args.sweep or 5, objectives, step_s, warmup_s, run_step)
    knee_rps = sweep.knee(rows)
    result = {"step_s": step_s, "warmup_s": warmup_s, "users": users, "slo": [o.text for o in objectives],
              "knee_rps": knee_rps, "rows": rows}  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    (root / "sweep.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    html_report.write(root, "mockclaude sweep", sweep=result)
    print("\n" + sweep.format_table(rows, knee_rps, bool(objectives)), flush=True)
    print(f"sweep: {root}/report.html, sweep.json and one report folder per step", flush=True)
    return 0 if not objectives or knee_rps is not None else 1


def run(args: argparse.Namespace, cfg: options.ReplayConfig, extra: list[str], launch: Launch) -> int:
    """An SLO gate or a sweep, as the options ask; bad options print a clear error and return 2."""
    try:
        objectives = slo.parse(args.slo) if args.slo else ()
        if args.sweep is not None or args.sweep_rates:
            if cfg.rate or cfg.speed:
                raise sweep.SweepError("--sweep sets the rate of each step; drop --rate/--speed")
            return run_sweep(args, objectives, cfg, extra, launch)
        if args.sweep_step or args.warmup:
            raise sweep.SweepError("--sweep-step and --warmup apply to a sweep: add --sweep or --sweep-rates")
        return gate(objectives, cfg, extra, launch)
    except (slo.SloError, sweep.SweepError, options.OptionError, FileNotFoundError) as exc:
        print(f"mockclaude replay: {exc}", file=sys.stderr)
        return 2
