"""The workload: what to send, sampled from fixtures so the replay keeps the recorded mix.

Conversations are replayed turn by turn (each recorded body already holds its history, so depth is
kept); think times are the recorded gaps between one response's end and the next request.
"""

import copy
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mockclaude.fixtures.format import FixtureError, expand_shape, iter_many
from mockclaude.tokens import count_request

MESSAGES_PATH = "/v1/messages"
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"
REPLAYED_PATHS = frozenset({MESSAGES_PATH, COUNT_TOKENS_PATH})
# Request fields that identify a recorded call but must not be re-sent as-is.
_VOLATILE_FIELDS = ("metadata",)


@dataclass(frozen=True)
class Sample:
    """One recorded request, with the figures that describe its shape."""

    scenario: str
    method: str
    path: str
    body: dict[str, Any] | None
    started_s: float
    total_s: float | None
    conversation: str | None
    turn: int
    input_tokens: int  # from the recorded usage, else the tiktoken estimate
    output_tokens: int | None
    max_tokens: int | None
    stream: bool
    tools: bool
    depth: int  # number of messages in the request
    model: str
    shape: bool  # text is `{"$tokens": N}` placeholders to regenerate
    headers: tuple[tuple[str, str], ...] = ()  # recorded anthropic-* request headers (beta flags, version)

    @property
    def counting(self) -> bool:
        """True for a count_tokens request (no generation)."""
        return urlsplit(self.path).path.rstrip("/") == COUNT_TOKENS_PATH

    @property
    def expected_output(self) -> int:
        """Recorded output tokens, else max_tokens (an upper bound), else 0."""
        return self.output_tokens if self.output_tokens is not None else (self.max_tokens or 0)


@dataclass
class Workload:
    """Samples grouped into conversations, with the recorded think times and arrival times."""

    samples: list[Sample]
    conversations: list[list[int]] = field(default_factory=list)  # sample indexes, in turn order
    think_times_s: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.samples:
            raise ValueError("the workload has no requests")
        if not self.conversations:
            self.conversations = _group_conversations(self.samples)
        if not self.think_times_s:
            self.think_times_s = _think_times(self.samples, self.conversations)

    def pick_conversation(self, rng: random.Random) -> list[Sample]:
        """A random recorded conversation (a single exchange when it was not part of one)."""
        return [self.samples[i] for i in rng.choice(self.conversations)]

    def pick_think_time(self, rng: random.Random) -> float:
        """A recorded think time (0 when the fixtures recorded none)."""
        return rng.choice(self.think_times_s) if self.think_times_s else 0.0

    def arrivals(self) -> list[Sample]:
        """Samples in the order they were recorded (for open loop at recorded timestamps)."""
        return sorted(self.samples, key=lambda s: s.started_s)

    def filtered(self, keep: Callable[[Sample], bool]) -> "Workload":
        """The samples for which `keep` is true (ValueError when none is)."""
        kept = [s for s in self.samples if keep(s)]
        if not kept:
            raise ValueError(f"none of the {len(self.samples)} recorded requests matches")
        return Workload(kept)


def _group_conversations(samples: Sequence[Sample]) -> list[list[int]]:
    groups: dict[str, list[int]] = {}
    singles: list[list[int]] = []
    for i, s in enumerate(samples):
        if s.conversation is None:
            singles.append([i])
        else:
            groups.setdefault(f"{s.scenario}\0{s.conversation}", []).append(i)
    for idx in groups.values():
        idx.sort(key=lambda i: (samples[i].turn, samples[i].started_s))
    return [*groups.values(), *singles]


def _gaps(ordered: Sequence[Sample]) -> list[float]:
    """Time from each response's end to the next request, for requests in order."""
    pairs = itertools.pairwise(ordered)
    return [max(0.0, b.started_s - (a.started_s + a.total_s)) for a, b in pairs if a.total_s is not None]


def _think_times(samples: Sequence[Sample], conversations: Sequence[Sequence[int]]) -> list[float]:
    """The gaps between the turns of each conversation (a user reading and typing); for recordings
    without conversations, the gaps between consecutive calls of the same recording."""
    turns = [g for conv in conversations if len(conv) > 1 for g in _gaps([samples[i] for i in conv])]
    if turns:
        return turns
    by_scenario: dict[str, list[Sample]] = {}
    for s in samples:
        by_scenario.setdefault(s.scenario, []).append(s)
    return [g for group in by_scenario.values() for g in _gaps(sorted(group, key=lambda s: s.started_s))]


def _sample(scenario: str, exchange: dict[str, Any], shape: bool) -> Sample:
    req = exchange["request"]
    body = req.get("body")
    usage = exchange.get("usage") or {}
    estimates = exchange.get("estimates") or {}
    timing = exchange.get("timing") or {}
    conv = exchange.get("conversation") or {}
    input_tokens = usage.get("input_tokens") or estimates.get("input_tokens")
    if input_tokens is None and isinstance(body, dict):
        input_tokens = count_request(body)
    output = usage.get("output_tokens", estimates.get("output_tokens"))
    body = body if isinstance(body, dict) else {}
    total_ms = timing.get("total_ms")
    return Sample(
        scenario=scenario,
        method=str(req.get("method") or "POST"),
        path=req["path"],
        body=body,
        started_s=float(exchange["started_s"]),
        total_s=None if total_ms is None else total_ms / 1000,
        conversation=None if conv.get("id") is None else str(conv["id"]),
        turn=int(conv.get("turn") or 0),
        input_tokens=int(input_tokens or 0),
        output_tokens=None if output is None else int(output),
        max_tokens=body.get("max_tokens") if isinstance(body.get("max_tokens"), int) else None,
        stream=bool(body.get("stream")),
        tools=bool(body.get("tools")),
        depth=len(body.get("messages") or []),
        model=str(body.get("model") or ""),
        shape=shape,
        headers=tuple(
            (k.lower(), str(v)) for k, v in (req.get("headers") or {}).items() if k.lower().startswith("anthropic-")
        ),
    )


def load(paths: Sequence[str | Path], *, skip_bad_lines: bool = False, on_problem: Any = None) -> Workload:
    """Read fixture files into a Workload (FixtureError names the file and line of bad input)."""
    samples: list[Sample] = []
    for path in paths:
        for header, exchange in iter_many([path], skip_bad_lines=skip_bad_lines, on_problem=on_problem):
            req = exchange["request"]
            if req.get("method", "POST") != "POST" or not isinstance(req.get("body"), dict):
                continue  # GETs (models list) carry no workload
            if urlsplit(req["path"]).path.rstrip("/") not in REPLAYED_PATHS:
                continue  # batches and other endpoints are not latency workload
            scenario = str(header.get("scenario") or Path(path).stem)
            if urlsplit(req["path"]).path.rstrip("/") == COUNT_TOKENS_PATH:
                scenario += ":count_tokens"  # its own row: milliseconds must not mix with generations
            shape = (header.get("anonymization") or {}).get("mode") == "shape"
            samples.append(_sample(scenario, exchange, shape))
    if not samples:
        raise FixtureError(paths[0] if paths else "-", 1, "no /v1/messages requests to replay")
    return Workload(samples)


def request_body(sample: Sample, text_of_tokens: Callable[[int], str]) -> dict[str, Any]:
    """The body to send: a copy without volatile fields, shape placeholders turned into text."""
    body = expand_shape(sample.body, text_of_tokens) if sample.shape else copy.deepcopy(sample.body)
    for key in _VOLATILE_FIELDS:
        body.pop(key, None)
    return body
