"""`mockclaude fixtures stats|validate|scan|fit FILE...`: look inside fixture files.

- stats: distributions of input/output tokens, TTFT, tokens/s, turns per conversation, stream
  share, model mix, status codes and arrival rate, as a table (or `--json`).
- validate: every problem with file and line number; exit 1 if there is any.
- scan: anything that still looks like a secret or PII; exit 1 if found, so CI can refuse to
  commit a fixture. Recorder pseudonyms are recognised and not reported (see mockclaude.sensitive);
  names are found by the same detector as the recorder's, so a name it missed is missed here too.
- fit: a latency profile per model for `serve --profile` (see mockclaude.profile_fit).
"""

import argparse
import itertools
import json
import statistics
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

from mockclaude import profile_fit
from mockclaude.fixtures import FixtureError, iter_exchanges, read_header
from mockclaude.sensitive import find, is_harmless, streamed_text_groups

DISTRIBUTIONS = (
    "input_tokens",
    "output_tokens",
    "ttft_ms",
    "output_tokens_per_s",
    "turns_per_conversation",
    "interarrival_s",
)
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "cookie", "set-cookie", "proxy-authorization"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Subcommands of `mockclaude fixtures`."""
    sub = parser.add_subparsers(dest="fixtures_command", metavar="ACTION", required=True)
    p = sub.add_parser("stats", help="distributions: tokens, TTFT, tokens/s, turns, stream share, models, arrivals")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p = sub.add_parser("validate", help="report every problem with file and line; exit 1 if any")
    p.add_argument("files", nargs="+", metavar="FILE")
    p = sub.add_parser("scan", help="find anything that still looks like a secret or PII; exit 1 if any")
    p.add_argument("files", nargs="+", metavar="FILE")
    profile_fit.add_arguments(sub.add_parser("fit", help="fit a latency profile per model, with goodness of fit"))


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action."""
    action = {"stats": _stats, "validate": _validate, "scan": _scan, "fit": profile_fit.run}[args.fixtures_command]
    return action(args)


# -- stats ----------------------------------------------------------------------------------
def summarize(values: list[float]) -> dict[str, float | int] | None:
    """count, mean, min, p50, p90, p99, max of a sample (None when empty)."""
    if not values:
        return None
    xs = sorted(values)

    def pct(p: float) -> float:
        # Nearest-rank percentile: always a value that was observed.
        return xs[min(len(xs) - 1, max(0, round(p / 100 * len(xs) + 0.5) - 1))]

    return {
        "count": len(xs),
        "mean": round(statistics.fmean(xs), 3),
        "min": xs[0],
        "p50": pct(50),
        "p90": pct(90),
        "p99": pct(99),
        "max": xs[-1],
    }


def _tokens(ex: dict[str, Any], key: str) -> int | None:
    for source in (ex.get("usage"), ex.get("estimates")):
        if isinstance(source, dict) and isinstance(source.get(key), int):
            return source[key]
    return None


def compute_stats(paths: list[str], problems: list[FixtureError]) -> dict[str, Any]:
    """The distributions `fixtures stats` prints, from one pass over the files."""
    inputs: list[float] = []
    outputs: list[float] = []
    ttfts: list[float] = []
    rates: list[float] = []
    arrivals: list[float] = []
    turns: dict[str, int] = {}
    models: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    paths_seen: Counter[str] = Counter()
    streamed = total = 0
    for path in paths:
        read_header(path)
        for ex in iter_exchanges(path, skip_bad_lines=True, on_problem=problems.append):
            total += 1
            req, resp = ex["request"], ex["response"]
            body = req.get("body") if isinstance(req.get("body"), dict) else {}
            paths_seen[str(req.get("path", "")).split("?")[0]] += 1
            status = resp.get("status")
            statuses[str(status) if status is not None else "no response"] += 1
            if isinstance(body.get("model"), str):
                models[body["model"]] += 1
            arrivals.append(float(ex["started_s"]))
            conv = ex.get("conversation")
            if isinstance(conv, dict) and isinstance(conv.get("turn"), int):
                cid = str(conv.get("id"))
                turns[cid] = max(turns.get(cid, 0), conv["turn"])
            if resp.get("events") is not None:
                streamed += 1
            # Token and timing figures only from complete, successful message calls.
            if status != 200 or resp.get("error") or str(req.get("path", "")).startswith("/v1/messages/count_tokens"):
                continue
            n_in, n_out = _tokens(ex, "input_tokens"), _tokens(ex, "output_tokens")
            if n_in is not None:
                inputs.append(n_in)
            if n_out is not None:
                outputs.append(n_out)
            timing = ex.get("timing") or {}
            ttft, e2e = timing.get("ttft_ms"), timing.get("total_ms")
            if isinstance(ttft, int | float):
                ttfts.append(ttft)
                # Decode rate after the first token: 1000 / TPOT, TPOT = (E2E - TTFT) / (N - 1).
                if isinstance(e2e, int | float) and n_out and n_out > 1 and e2e > ttft:
                    rates.append(round((n_out - 1) / ((e2e - ttft) / 1000), 3))
    arrivals.sort()
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(arrivals)]
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
    return {
        "files": paths,
        "exchanges": total,
        "endpoints": dict(paths_seen.most_common()),
        "stream_share": round(streamed / total, 4) if total else None,
        "models": dict(models.most_common()),
        "status_codes": dict(sorted(statuses.items())),
        "input_tokens": summarize(inputs),
        "output_tokens": summarize(outputs),
        "ttft_ms": summarize(ttfts),
        "output_tokens_per_s": summarize(rates),
        "turns_per_conversation": summarize([float(t) for t in turns.values()]),
        "arrival_rate_per_s": round((len(arrivals) - 1) / span, 4) if span > 0 else None,
        "interarrival_s": summarize(gaps),
        "skipped_lines": len(problems),
    }


def format_table(stats: dict[str, Any]) -> str:
    """A human-readable rendering of `compute_stats`."""
    lines = [f"files: {', '.join(stats['files'])}", f"exchanges: {stats['exchanges']}"]
    share = stats["stream_share"]
    lines.append(f"stream share: {'-' if share is None else f'{share:.1%}'}")
    rate = stats["arrival_rate_per_s"]
    lines.append(f"arrival rate: {'-' if rate is None else f'{rate:.3f}/s'}")
    for key in ("endpoints", "models", "status_codes"):
        counts = stats[key]
        lines.append(f"{key.replace('_', ' ')}: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "-"))
    cols = ("count", "mean", "min", "p50", "p90", "p99", "max")
    header = f"{'distribution':<26}" + "".join(f"{c:>10}" for c in cols)
    lines += ["", header, "-" * len(header)]
    for key in DISTRIBUTIONS:
        row = stats[key]
        cells = "".join(f"{row[c]:>10.4g}" if row else f"{'-':>10}" for c in cols)
        lines.append(f"{key:<26}{cells}")
    if stats["skipped_lines"]:
        lines.append(f"\n{stats['skipped_lines']} bad line(s) skipped; run `mockclaude fixtures validate` for details")
    return "\n".join(lines)


def _stats(args: argparse.Namespace) -> int:
    problems: list[FixtureError] = []
    try:
        stats = compute_stats(args.files, problems)
    except (OSError, FixtureError) as exc:
        print(f"mockclaude fixtures stats: {exc}", file=sys.stderr)
        return 1
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    print(json.dumps(stats, indent=2) if args.json else format_table(stats))
    return 0


# -- validate -------------------------------------------------------------------------------
def validate_files(paths: list[str]) -> tuple[int, list[str]]:
    """(exchanges read, every problem as "file:line: message")."""
    problems: list[str] = []
    count = 0
    for path in paths:
        try:
            for _ in iter_exchanges(path, skip_bad_lines=True, on_problem=lambda e: problems.append(str(e))):
                count += 1
        except FixtureError as exc:
            problems.append(str(exc))
        except OSError as exc:
            problems.append(f"{path}: {exc.strerror or exc}")
    return count, problems


def _validate(args: argparse.Namespace) -> int:
    count, problems = validate_files(args.files)
    for p in problems:
        print(p)
    print(f"{count} valid exchange(s), {len(problems)} problem(s) in {len(args.files)} file(s)", file=sys.stderr)
    return 1 if problems else 0


# -- scan -----------------------------------------------------------------------------------
def _strings(obj: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(obj, str):
        yield where, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _strings(k, f"{where}.<key>")
            yield from _strings(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _strings(v, f"{where}[{i}]")


def _texts(ex: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every string of an exchange, with streamed deltas also joined per content block."""
    yield from _strings(ex, "")
    events = (ex.get("response") or {}).get("events")
    if isinstance(events, list):
        for (index, field), idx in streamed_text_groups(events).items():
            joined = "".join(events[i]["data"]["delta"][field] for i in idx)
            yield f".response.events[block {index} joined {field}]", joined


def _mask(value: str) -> str:
    return value[:4] + "*" * min(12, max(0, len(value) - 4))


def scan_exchange(ex: dict[str, Any]) -> list[str]:
    """What in one exchange still looks like a secret or someone's data (masked)."""
    found: list[str] = []
    for side in ("request", "response"):
        headers = (ex.get(side) or {}).get("headers")
        if isinstance(headers, dict):
            found += [f"{side} header {h!r} must never be stored" for h in headers if h.lower() in SECRET_HEADERS]
    seen: set[tuple[str, str]] = set()
    for where, text in _texts(ex):
        for f in find(text):
            if is_harmless(f) or (f.kind, f.value) in seen:
                continue
            seen.add((f.kind, f.value))
            found.append(f"{f.kind} {_mask(f.value)!r} at {where.lstrip('.')}")
    return found


def scan_files(paths: list[str]) -> list[str]:
    """Every finding as "file:line: ..."; unreadable files and bad lines are findings too."""
    out: list[str] = []
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                for lineno, raw in enumerate(f, 1):
                    try:
                        obj = json.loads(raw)
                    except ValueError:
                        if raw.strip():
                            out.append(f"{path}:{lineno}: not JSON, cannot be scanned (run validate)")
                        continue
                    out += [f"{path}:{lineno}: {msg}" for msg in scan_exchange(obj if isinstance(obj, dict) else {})]
        except OSError as exc:
            out.append(f"{path}: {exc.strerror or exc}")
    return out


def _scan(args: argparse.Namespace) -> int:
    findings = scan_files(args.files)
    for line in findings:
        print(line)
    verdict = "found" if findings else "nothing found"
    print(f"scan: {len(findings)} finding(s) in {len(args.files)} file(s): {verdict}", file=sys.stderr)
    return 1 if findings else 0
