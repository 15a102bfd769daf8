"""Latency profiles fitted from recorded traffic: what `mockclaude fixtures fit` prints and
`mockclaude serve --profile` (or `--fixtures`) draws unmatched answers from.

Per model (and pooled under "*"):
- TTFT = intercept + slope x input tokens (the recorder's tiktoken estimate: the scale on which the
  server counts incoming prompts), least squares (slope >= 0, intercept >= 0), times a residual
  factor drawn from the recorded ratios observed / predicted;
- decode rate in tokens/s after the first token, (output_tokens - 1) / (E2E - TTFT), per request;
- tokens per streamed text delta; output tokens per input-size bucket; think time between a
  response's end and the next request; the share of 429, 529, other 5xx, mid-stream errors and
  dropped connections.

Distributions are stored as 21-point quantile tables (p0, p5, ..., p100) and sampled by inverse
CDF with linear interpolation. Goodness of fit: R² and the median absolute percentage error of
the TTFT model; the Kolmogorov-Smirnov distance between each sample and its table. A profile
holds numbers and model names only, never request or response text, so it can be shared.
"""

import bisect
import itertools
import json
import math
import os
import random
import statistics
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mockclaude.fixtures import SHAPE_KEY, Exchange, is_placeholder, iter_many
from mockclaude.pacing import Range, Timing
from mockclaude.sensitive import DELTA_TEXT_FIELDS
from mockclaude.tokens import count_text

FORMAT = "mockclaude-latency-profile"
VERSION = 1
POOLED = "*"
KNOTS = 21  # p0, p5, ..., p100
# Output lengths are kept per prompt size: a bucket is every request with input tokens below its edge.
INPUT_BUCKETS = (256, 1024, 4096, 16384, 65536)
MIN_BUCKET = 5  # fewer samples: the bucket falls back to the model's whole distribution
FAULT_KINDS = ("429", "500", "529", "midstream", "disconnect")
# Tokens per delta are measured on at most this many deltas per model (plenty for a quantile table,
# and it keeps fitting a large recording fast).
MAX_DELTAS = 50_000


class ProfileError(ValueError):
    """A profile file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Quantiles:
    """A distribution as a quantile table: `q[i]` is the value at probability i / (len(q) - 1)."""

    q: tuple[float, ...]
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> "Quantiles | None":
        """The table of a sample (None when it is empty)."""
        xs = sorted(values)
        if not xs:
            return None
        return cls(tuple(round(_interpolate(xs, i / (KNOTS - 1)), 6) for i in range(KNOTS)), len(xs))

    def sample(self, rng: random.Random) -> float:
        """One draw by inverse CDF."""
        return _interpolate(self.q, rng.random())

    def at(self, p: float) -> float:
        """The value at probability p (0..1)."""
        return _interpolate(self.q, p)

    def cdf(self, x: float, *, left: bool = False) -> float:
        """P(X <= x) under the table, piecewise linear between knots; P(X < x) with `left`."""
        q = self.q
        if x < q[0] or (left and x == q[0]):
            return 0.0
        if x > q[-1] or (not left and x == q[-1]):
            return 1.0
        # Repeated knots are a jump (a value seen often): the side decides which end of it counts.
        i = (bisect.bisect_left(q, x) if left else bisect.bisect_right(q, x)) - 1
        lo, hi = q[i], q[i + 1]
        frac = 0.0 if hi == lo else (x - lo) / (hi - lo)
        return (i + frac) / (len(q) - 1)

    def ks(self, values: Iterable[float]) -> float:
        """Kolmogorov-Smirnov distance between a sample and this table (0 = identical CDFs).

        Compared at each distinct value and just below it, so samples with ties (token counts,
        zero think times) are judged fairly.
        """
        xs = sorted(values)
        n = len(xs)
        if not n:
            return 0.0
        d = 0.0
        for x in sorted(set(xs)):
            below, upto = bisect.bisect_left(xs, x) / n, bisect.bisect_right(xs, x) / n
            d = max(d, abs(self.cdf(x) - upto), abs(self.cdf(x, left=True) - below))
        return d

    def to_json(self) -> dict[str, Any]:
        """The table as stored in a profile."""
        return {"n": self.n, "q": list(self.q)}

    @classmethod
    def from_json(cls, obj: Any, where: str) -> "Quantiles | None":
        """Read a table (None for null); ProfileError names `where` when it is malformed."""
        if obj is None:
            return None
        q = obj.get("q") if isinstance(obj, dict) else None
        if not isinstance(q, list) or len(q) < 2 or not all(isinstance(x, int | float) for x in q):
            raise ProfileError(f'{where}: expected {{"n": N, "q": [at least 2 numbers]}}')
        if any(b < a for a, b in itertools.pairwise(q)):
            raise ProfileError(f"{where}: quantiles must not decrease")
        return cls(tuple(float(x) for x in q), int(obj.get("n") or 0))


def _interpolate(xs: tuple[float, ...] | list[float], p: float) -> float:
    """Linear-interpolated quantile of sorted values at probability p."""
    k = (len(xs) - 1) * p
    lo = math.floor(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


@dataclass(frozen=True)
class TtftModel:
    """TTFT = intercept_s + slope_s_per_token x input tokens, times a residual factor."""

    intercept_s: float
    slope_s_per_token: float
    residual: Quantiles
    r2: float | None
    median_ape: float

    def predict(self, input_tokens: int) -> float:
        """The fitted (median-free) TTFT for a prompt size, in seconds."""
        return self.intercept_s + self.slope_s_per_token * input_tokens

    def draw(self, input_tokens: int, rng: random.Random) -> float:
        """A TTFT for a prompt size, with the recorded scatter."""
        return max(0.0, self.predict(input_tokens) * self.residual.sample(rng))


def fit_ttft(points: list[tuple[int, float]]) -> TtftModel | None:
    """Least-squares line through (input tokens, TTFT s), constrained to intercept >= 0, slope >= 0."""
    if not points:
        return None
    xs = [float(x) for x, _ in points]
    ys = [y for _, y in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx > 0 else 0.0
    intercept = my - slope * mx
    if slope <= 0:
        # No visible prefill cost (or too little spread in prompt sizes): a constant TTFT.
        slope, intercept = 0.0, statistics.median(ys)
    elif intercept < 0:
        # Through the origin instead: a negative intercept would predict negative TTFTs.
        intercept, slope = 0.0, sum(x * y for x, y in points) / sum(x * x for x in xs)
    predicted = [intercept + slope * x for x in xs]
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - p) ** 2 for y, p in zip(ys, predicted, strict=True))
    ratios = [y / p for y, p in zip(ys, predicted, strict=True) if p > 0]
    residual = Quantiles.of(ratios) or Quantiles((1.0, 1.0), 0)
    return TtftModel(
        intercept_s=round(intercept, 6),
        slope_s_per_token=slope,
        residual=residual,
        r2=round(1 - ss_res / ss_tot, 4) if ss_tot > 0 else None,
        median_ape=round(statistics.median(abs(r - 1) for r in ratios), 4) if ratios else 0.0,
    )


@dataclass
class ModelProfile:
    """What was learnt about one model (or all of them pooled)."""

    requests: int = 0
    ttft: TtftModel | None = None
    tps: Quantiles | None = None
    delta_tokens: Quantiles | None = None
    output_tokens: Quantiles | None = None
    output_by_input: dict[int | None, Quantiles] = field(default_factory=dict)  # bucket edge (None: above all)
    think_time_s: Quantiles | None = None
    faults: dict[str, float] = field(default_factory=dict)
    fit: dict[str, float] = field(default_factory=dict)  # KS distance per distribution

    def draw_output_tokens(self, input_tokens: int, rng: random.Random) -> int | None:
        """An answer length for a prompt of this size (None when nothing was recorded)."""
        table = self.output_by_input.get(bucket_of(input_tokens)) or self.output_tokens
        return None if table is None else max(1, round(table.sample(rng)))

    def draw_timing(self, input_tokens: int, rng: random.Random, default: Timing) -> Timing:
        """A response's timing: recorded TTFT model, decode rate and delta sizes, else `default`'s."""
        ttft = self.ttft.draw(input_tokens, rng) if self.ttft else default.ttft_s
        tps = max(0.1, self.tps.sample(rng)) if self.tps else default.tps
        chunk = default.chunk_tokens
        if self.delta_tokens:
            lo = max(1, round(self.delta_tokens.at(0.1)))
            chunk = Range(lo, max(lo, round(self.delta_tokens.at(0.9))))
        return Timing(ttft_s=ttft, tps=tps, chunk_tokens=chunk)


def bucket_of(input_tokens: int) -> int | None:
    """The input-size bucket (its upper edge; None above the last edge)."""
    return next((edge for edge in INPUT_BUCKETS if input_tokens < edge), None)


@dataclass
class Profile:
    """Fitted model profiles, keyed by model name, with "*" pooling every model."""

    models: dict[str, ModelProfile]
    exchanges: int = 0
    created_at: str = ""

    def for_model(self, model: str) -> ModelProfile:
        """The model's own profile, else the pooled one."""
        return self.models.get(model) or self.models[POOLED]

    def to_json(self) -> dict[str, Any]:
        """The profile file's content: numbers and model names only."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "created_at": self.created_at,
            "exchanges": self.exchanges,
            "models": {name: _model_json(m) for name, m in self.models.items()},
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the profile as indented JSON."""
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f, indent=1)
            f.write("\n")


def _model_json(m: ModelProfile) -> dict[str, Any]:
    def table(q: Quantiles | None) -> dict[str, Any] | None:
        return None if q is None else q.to_json()

    ttft = None
    if m.ttft is not None:
        ttft = {
            "intercept_s": m.ttft.intercept_s,
            "slope_s_per_1k_input": round(m.ttft.slope_s_per_token * 1000, 6),
            "residual": m.ttft.residual.to_json(),
            "r2": m.ttft.r2,
            "median_ape": m.ttft.median_ape,
        }
    return {
        "requests": m.requests,
        "ttft": ttft,
        "tps": table(m.tps),
        "delta_tokens": table(m.delta_tokens),
        "output_tokens": table(m.output_tokens),
        "output_tokens_by_input": [
            {"input_below": edge, **q.to_json()} for edge, q in sorted(m.output_by_input.items(), key=_edge_order)
        ],
        "think_time_s": table(m.think_time_s),
        "faults": m.faults,
        "ks": m.fit,
    }


def _edge_order(item: tuple[int | None, Quantiles]) -> float:
    return math.inf if item[0] is None else item[0]


def load(path: str | os.PathLike[str]) -> Profile:
    """Read a profile file; ProfileError names the file and the bad field."""
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
    except OSError as exc:
        raise ProfileError(f"{path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: not JSON ({exc})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ProfileError(
            f'{path}: not a latency profile (expected "format": "{FORMAT}"; '
            "make one with `mockclaude fixtures fit FILE -o PROFILE`)"
        )
    if not isinstance(obj.get("version"), int) or obj["version"] > VERSION:
        raise ProfileError(f"{path}: profile version {obj.get('version')!r} is not one this mockclaude reads")
    models = obj.get("models")
    if not isinstance(models, dict) or POOLED not in models:
        raise ProfileError(f'{path}: "models" must be an object with a pooled "{POOLED}" entry')
    return Profile(
        models={name: _model_from_json(m, f"{path}: models.{name}") for name, m in models.items()},
        exchanges=int(obj.get("exchanges") or 0),
        created_at=str(obj.get("created_at") or ""),
    )


def _model_from_json(m: Any, where: str) -> ModelProfile:
    if not isinstance(m, dict):
        raise ProfileError(f"{where}: expected an object")
    ttft = None
    t = m.get("ttft")
    if t is not None:
        try:
            ttft = TtftModel(
                intercept_s=float(t["intercept_s"]),
                slope_s_per_token=float(t["slope_s_per_1k_input"]) / 1000,
                residual=Quantiles.from_json(t["residual"], f"{where}.ttft.residual") or Quantiles((1.0, 1.0), 0),
                r2=t.get("r2"),
                median_ape=float(t.get("median_ape") or 0),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ProfileError):
                raise
            raise ProfileError(f"{where}.ttft: needs numeric intercept_s, slope_s_per_1k_input, residual") from None
    by_input: dict[int | None, Quantiles] = {}
    for i, row in enumerate(m.get("output_tokens_by_input") or []):
        q = Quantiles.from_json(row, f"{where}.output_tokens_by_input[{i}]")
        if q is not None:
            by_input[row.get("input_below")] = q
    faults = m.get("faults") or {}
    if not isinstance(faults, dict) or any(k not in FAULT_KINDS or not 0 <= v <= 1 for k, v in faults.items()):
        raise ProfileError(f"{where}.faults: expected rates between 0 and 1 for {', '.join(FAULT_KINDS)}")
    return ModelProfile(
        requests=int(m.get("requests") or 0),
        ttft=ttft,
        tps=Quantiles.from_json(m.get("tps"), f"{where}.tps"),
        delta_tokens=Quantiles.from_json(m.get("delta_tokens"), f"{where}.delta_tokens"),
        output_tokens=Quantiles.from_json(m.get("output_tokens"), f"{where}.output_tokens"),
        output_by_input=by_input,
        think_time_s=Quantiles.from_json(m.get("think_time_s"), f"{where}.think_time_s"),
        faults={k: float(v) for k, v in faults.items()},
        fit=dict(m.get("ks") or {}),
    )


# -- fitting --------------------------------------------------------------------------------
@dataclass
class _Sample:
    """The figures of one model's exchanges, gathered in one pass."""

    requests: int = 0
    ttft: list[tuple[int, float]] = field(default_factory=list)
    tps: list[float] = field(default_factory=list)
    deltas: list[float] = field(default_factory=list)
    outputs: list[tuple[int, float]] = field(default_factory=list)
    think: list[float] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)


def _tokens(ex: Exchange, key: str, prefer: tuple[str, str] = ("usage", "estimates")) -> int | None:
    """A token count from the first of `prefer` that has it (recorded usage, the tiktoken estimate)."""
    for source in (ex.get(prefer[0]), ex.get(prefer[1])):
        if isinstance(source, dict) and isinstance(source.get(key), int):
            return source[key]
    return None


def fault_kind(ex: Exchange) -> str | None:
    """Which fault an exchange shows: 429, 529, 500 (any other 5xx), midstream, disconnect, or None."""
    resp = ex["response"]
    status = resp.get("status")
    if status == 429 or status == 529:
        return str(status)
    if isinstance(status, int) and status >= 500:
        return "500"
    if status is None or (resp.get("error") or {}).get("kind") in ("disconnect", "upstream"):
        return "disconnect"
    events = resp.get("events") or []
    if any(isinstance(e.get("data"), dict) and e["data"].get("type") == "error" for e in events):
        return "midstream"
    return None


def _delta_tokens(events: list[dict[str, Any]]) -> Iterable[int]:
    """Tokens in each text or thinking delta (placeholders count as recorded)."""
    for ev in events:
        data = ev.get("data")
        if not isinstance(data, dict) or data.get("type") != "content_block_delta":
            continue
        delta = data.get("delta") or {}
        field_name = DELTA_TEXT_FIELDS.get(delta.get("type"))
        if field_name in ("text", "thinking"):
            value = delta.get(field_name)
            yield value[SHAPE_KEY] if is_placeholder(value) else count_text(str(value))


def _observe(s: _Sample, ex: Exchange, deltas: list[int]) -> None:
    s.requests += 1
    kind = fault_kind(ex)
    if kind:
        s.faults[kind] = s.faults.get(kind, 0) + 1
        return
    if ex["response"].get("status") != 200:
        return
    # Prompt sizes on the server's scale: it counts incoming requests with tiktoken, as the recorder's
    # estimate did; answer lengths as the API reported them, which is what the mock reports back.
    n_in = _tokens(ex, "input_tokens", ("estimates", "usage"))
    n_out = _tokens(ex, "output_tokens")
    if n_in is None:
        return
    if n_out is not None:
        s.outputs.append((n_in, float(n_out)))
    timing = ex.get("timing") or {}
    ttft, total = timing.get("ttft_ms"), timing.get("total_ms")
    events = ex["response"].get("events")
    if events is None or not isinstance(ttft, int | float):
        return
    s.ttft.append((n_in, ttft / 1000))
    if isinstance(total, int | float) and n_out and n_out > 1 and total > ttft:
        s.tps.append((n_out - 1) / ((total - ttft) / 1000))
    if len(s.deltas) < MAX_DELTAS:
        s.deltas.extend(deltas)


def _is_message_call(ex: Exchange) -> bool:
    req = ex["request"]
    path = str(req.get("path") or "").split("?")[0].rstrip("/")
    return path == "/v1/messages" and isinstance(req.get("body"), dict)


@dataclass(frozen=True)
class _Arrival:
    """What think times need of one exchange (kept instead of the exchange, to stay small)."""

    model: str
    started_s: float
    total_s: float | None
    conversation: str | None
    turn: int


class Fitter:
    """Fits a profile from exchanges fed one by one, keeping only numbers (not the exchanges)."""

    def __init__(self) -> None:
        self.samples: dict[str, _Sample] = {}
        self.arrivals: dict[str, list[_Arrival]] = {}
        self.total = 0

    def add(self, path: str, ex: Exchange) -> None:
        """Learn from one exchange of file `path` (anything but a /v1/messages call is ignored)."""
        if not _is_message_call(ex):
            return
        self.total += 1
        model = str(ex["request"]["body"].get("model") or "unknown")
        # Delta sizes need the tokenizer: measure each exchange once, and only while wanted.
        wanted = any(len(self.samples.get(n, _Sample()).deltas) < MAX_DELTAS for n in (model, POOLED))
        deltas = list(_delta_tokens(ex["response"].get("events") or [])) if wanted else []
        for name in (model, POOLED):
            _observe(self.samples.setdefault(name, _Sample()), ex, deltas)
        total_ms = (ex.get("timing") or {}).get("total_ms")
        conv = ex.get("conversation") or {}
        self.arrivals.setdefault(path, []).append(
            _Arrival(
                model=model,
                started_s=float(ex["started_s"]),
                total_s=total_ms / 1000 if isinstance(total_ms, int | float) else None,
                conversation=None if conv.get("id") is None else str(conv["id"]),
                turn=int(conv.get("turn") or 0),
            )
        )

    def profile(self, paths: list[str]) -> Profile:
        """The fitted profile (ValueError when no /v1/messages exchange was seen)."""
        if not self.total:
            raise ValueError(f"no /v1/messages exchanges in {', '.join(paths)}: nothing to fit")
        for model, gap in _think_times(self.arrivals):
            for name in (model, POOLED):
                self.samples[name].think.append(gap)
        return Profile(
            models={name: _fit_model(s) for name, s in self.samples.items()},
            exchanges=self.total,
            created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )


def fit(paths: list[str], *, skip_bad_lines: bool = False, on_problem: Any = None) -> Profile:
    """Fit a profile per model (and pooled) from fixture files (FixtureError on bad input)."""
    fitter = Fitter()
    for path in paths:
        for _, ex in iter_many([path], skip_bad_lines=skip_bad_lines, on_problem=on_problem):
            fitter.add(path, ex)
    return fitter.profile(paths)


def _think_times(arrivals: dict[str, list[_Arrival]]) -> list[tuple[str, float]]:
    """(model of the earlier request, gap from its response's end to the next request).

    As the replayer counts them: between the turns of each conversation (a user reading and
    typing); for recordings without conversations, between consecutive calls of a file.
    """
    turns: list[tuple[str, float]] = []
    files: list[tuple[str, float]] = []
    for path, exchanges in arrivals.items():
        files += _gaps(sorted(exchanges, key=lambda a: a.started_s))
        convs: dict[str, list[_Arrival]] = {}
        for a in exchanges:
            if a.conversation is not None:
                convs.setdefault(f"{path}\0{a.conversation}", []).append(a)
        for group in convs.values():
            turns += _gaps(sorted(group, key=lambda a: (a.turn, a.started_s)))
    return turns or files


def _gaps(ordered: list[_Arrival]) -> list[tuple[str, float]]:
    return [
        (a.model, max(0.0, b.started_s - (a.started_s + a.total_s)))
        for a, b in itertools.pairwise(ordered)
        if a.total_s is not None
    ]


def _fit_model(s: _Sample) -> ModelProfile:
    m = ModelProfile(requests=s.requests)
    m.ttft = fit_ttft(s.ttft)
    m.faults = {k: round(v / s.requests, 6) for k, v in sorted(s.faults.items())}
    named = {
        "tps": s.tps,
        "delta_tokens": s.deltas,
        "output_tokens": [y for _, y in s.outputs],
        "think_time_s": s.think,
    }
    for name, values in named.items():
        table = Quantiles.of(values)
        setattr(m, name, table)
        if table is not None:
            m.fit[name] = round(table.ks(values), 4)
    buckets: dict[int | None, list[float]] = {}
    for n_in, n_out in s.outputs:
        buckets.setdefault(bucket_of(n_in), []).append(n_out)
    m.output_by_input = {
        edge: q for edge, values in buckets.items() if len(values) >= MIN_BUCKET and (q := Quantiles.of(values))
    }
    return m


# -- report ---------------------------------------------------------------------------------
def format_report(profile: Profile) -> str:
    """The profile as a table per model, with goodness of fit."""
    lines = [f"latency profile from {profile.exchanges} exchanges"]
    for name, m in sorted(profile.models.items(), key=lambda kv: (kv[0] == POOLED, kv[0])):
        lines += ["", f"model {name if name != POOLED else '* (all models pooled)'}: {m.requests} requests"]
        if m.ttft is not None:
            t = m.ttft
            r2 = "-" if t.r2 is None else f"{t.r2:.3f}"
            lines.append(
                f"  TTFT = {t.intercept_s * 1000:.0f} ms + {t.slope_s_per_token * 1e6:.3f} ms per 1k input tokens"
                f"  (n={t.residual.n}, R²={r2}, median abs error {t.median_ape:.1%})"
            )
        header = f"  {'distribution':<16}{'n':>6}{'p10':>10}{'p50':>10}{'p90':>10}{'max':>10}{'KS':>8}"
        lines.append(header)
        for key in ("tps", "delta_tokens", "output_tokens", "think_time_s"):
            q = getattr(m, key)
            if q is None:
                lines.append(f"  {key:<16}{0:>6}{'-':>10}{'-':>10}{'-':>10}{'-':>10}{'-':>8}")
                continue
            cells = "".join(f"{q.at(p):>10.4g}" for p in (0.1, 0.5, 0.9, 1.0))
            lines.append(f"  {key:<16}{q.n:>6}{cells}{m.fit.get(key, 0):>8.3f}")
        for edge, q in sorted(m.output_by_input.items(), key=_edge_order):
            label = f"< {edge}" if edge is not None else f">= {INPUT_BUCKETS[-1]}"
            lines.append(f"  output tokens for input {label:<9} n={q.n:<5} p50={q.at(0.5):.0f} p90={q.at(0.9):.0f}")
        faults = ", ".join(f"{k} {v:.1%}" for k, v in m.faults.items()) or "none"
        lines.append(f"  faults: {faults}")
    lines += [
        "",
        "KS: Kolmogorov-Smirnov distance between the sample and its stored 21-point quantile table.",
        "TTFT residuals (observed / predicted) are stored too and applied when drawing.",
    ]
    return "\n".join(lines)


# -- `mockclaude fixtures fit` --------------------------------------------------------------
def add_arguments(p: Any) -> None:
    """Flags of `mockclaude fixtures fit`."""
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("-o", "--out", help="write the profile (JSON, no prompt text) here, for `serve --profile`")
    p.add_argument("--json", action="store_true", help="print the profile JSON instead of the report")
    p.add_argument("--skip-bad-lines", action="store_true", help="skip invalid lines (reported) instead of stopping")


def run(args: Any) -> int:
    """Fit, print the report (or JSON), and save the profile when asked."""
    problems: list[Any] = []
    try:
        profile = fit(args.files, skip_bad_lines=args.skip_bad_lines, on_problem=problems.append)
        if args.out:
            profile.save(args.out)
    except (OSError, ValueError) as exc:
        print(f"mockclaude fixtures fit: {exc}", file=sys.stderr)
        return 1
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    print(json.dumps(profile.to_json(), indent=1) if args.json else format_report(profile))
    if args.out:
        print(f"\nprofile written to {args.out} (numbers and model names only; share it with `serve --profile`)")
    return 0
