"""What the mock answers when no fixture matches: a plan of synthetic thinking, text and tool calls.

Everything is decided up front (`plan_response`), as single-token strings the server can pace, from
a corpus tokenized once at start-up: the hot path slices lists and never runs Faker or tiktoken,
except one small count per tool call. All randomness comes from the `rng` passed in, so the same
seed and the same request sequence give the same plans.
"""

import base64
import functools
import json
import math
import random
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from faker import Faker

from mockclaude.synth.schema_instance import SchemaError, instance_from_schema
from mockclaude.tokens import count_text, encoding
from mockclaude.wire.errors import ApiError
from mockclaude.wire.ids import tool_use_id
from mockclaude.wire.structured import output_schema

__all__ = [
    "ContentSettings",
    "OutputLength",
    "PlannedBlock",
    "ResponsePlan",
    "TokenSource",
    "instance_from_schema",
    "plan_response",
    "signature",
    "token_pieces",
    "tool_use_block",
]

StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use"]
# What a model that thinks by default does without a `thinking` field: elgorro/aiquila#410 (Opus 5
# and Sonnet 5 "omitting thinking entirely runs adaptive"); the docs via checkmarble/llmberjack#14:
# "on the newest models `display` defaults to "omitted", which returns thinking blocks with an empty
# `thinking` field".
DEFAULT_THINKING = {"type": "adaptive", "display": "omitted"}


@dataclass(frozen=True)
class OutputLength:
    """How many tokens an answer has: fixed, uniform between two bounds, or a chat-like lognormal."""

    kind: Literal["fixed", "uniform", "lognormal"]
    low: int
    high: int

    # "default": lognormal with median 300 tokens and sigma 0.7 (p10 ≈ 120, p90 ≈ 740, mean ≈ 385),
    # clipped to [1, 4096]. These numbers are our choice, not a measurement of Claude traffic: a
    # right-skewed length with a few-hundred-token median is what public chat logs look like, and
    # the long tail exercises max_tokens truncation and long streams.
    MEDIAN = 300
    SIGMA = 0.7
    CAP = 4096

    @classmethod
    def parse(cls, spec: str) -> "OutputLength":
        """`N`, `MIN-MAX` (uniform, inclusive) or `default` (the lognormal above)."""
        text = spec.strip().lower()
        if text == "default":
            return cls("lognormal", 1, cls.CAP)
        if m := re.fullmatch(r"(\d+)", text):
            n = int(m.group(1))
            if n >= 1:
                return cls("fixed", n, n)
        elif m := re.fullmatch(r"(\d+)\s*-\s*(\d+)", text):
            lo, hi = int(m.group(1)), int(m.group(2))
            if 1 <= lo <= hi:
                return cls("uniform", lo, hi)
        raise ValueError(
            f"bad output length {spec!r}: expected N (tokens, >= 1), MIN-MAX (uniform, 1 <= MIN <= MAX) "
            f"or 'default' (lognormal, median {cls.MEDIAN})"
        )

    def __str__(self) -> str:
        """The spec this was parsed from, in canonical form (parse(str(x)) == x)."""
        if self.kind == "lognormal":
            return "default"
        return str(self.low) if self.kind == "fixed" else f"{self.low}-{self.high}"

    def draw(self, rng: random.Random) -> int:
        """One length, >= 1."""
        if self.kind == "fixed":
            return self.low
        if self.kind == "uniform":
            return rng.randint(self.low, self.high)
        n = round(rng.lognormvariate(math.log(self.MEDIAN), self.SIGMA))
        return max(self.low, min(self.high, n))


class TokenSource:
    """A corpus of Faker en_US prose, tokenized once into single-token strings; answers are windows of it."""

    CORPUS_TOKENS = 40_000

    def __init__(self, seed: int | None, corpus_tokens: int = CORPUS_TOKENS) -> None:
        fake = Faker("en_US")
        fake.seed_instance(seed if seed is not None else random.SystemRandom().getrandbits(64))
        paragraphs: list[str] = []
        words = 0
        # ~1.3 tokens per word for this prose; stop a little past the target.
        while words * 1.3 < corpus_tokens:
            if fake.random.random() < 0.15:
                para = "\n".join(f"- {fake.sentence(nb_words=8)}" for _ in range(fake.random.randint(2, 5)))
            else:
                para = fake.paragraph(nb_sentences=fake.random.randint(2, 6))
            paragraphs.append(para)
            words += len(para.split())
        # A trailing break makes the wrap from the last token to the first read as a new paragraph.
        text = "\n\n".join(paragraphs) + "\n\n"
        enc = encoding()
        self._pieces = [enc.decode_single_token_bytes(t).decode() for t in enc.encode(text, disallowed_special=())]
        # Answers start at a paragraph start, so they do not open mid-sentence.
        self._starts = [i for i in range(len(self._pieces)) if i == 0 or self._pieces[i - 1].endswith("\n")]

    def __len__(self) -> int:
        return len(self._pieces)

    def tokens(self, n: int, rng: random.Random) -> list[str]:
        """n single-token strings: a window of the corpus from a random paragraph start, wrapping."""
        out: list[str] = []
        start = rng.choice(self._starts)
        while len(out) < n:
            out += self._pieces[start : start + n - len(out)]
            start = 0
        return out

    def text(self, n: int, rng: random.Random) -> str:
        """The text of `tokens(n, rng)`."""
        return "".join(self.tokens(n, rng))


@dataclass
class ContentSettings:
    """Knobs of synthetic answers (server flags and the admin API set them)."""

    output_length: OutputLength = field(default_factory=lambda: OutputLength.parse("default"))
    # P(tool call) when tools exist and tool_choice is auto or absent.
    tool_rate: float = 0.3
    # P(the answer ends on one of the request's stop_sequences), when it has any.
    stop_sequence_rate: float = 0.2
    # P(a short text block such as "I'll use the get_weather tool." before an auto tool call).
    text_before_tool_rate: float = 0.5
    # P(a second tool call) when parallel tool use is allowed.
    parallel_tool_rate: float = 0.2
    # Mean share of thinking.budget_tokens that thinking uses (drawn uniformly in ±50% of it).
    thinking_share: float = 0.3


@dataclass(slots=True)
class PlannedBlock:
    """One content block of a planned answer, in the pieces it will be streamed as."""

    kind: Literal["thinking", "text", "tool_use"]
    pieces: list[str] = field(default_factory=list)  # thinking and text: single-token strings
    signature: str = ""  # thinking
    tool_id: str = ""
    tool_name: str = ""
    tool_input: dict[str, Any] = field(default_factory=dict)
    input_json_pieces: list[str] = field(default_factory=list)  # "".join == json.dumps(tool_input)
    tokens: int = 0  # output tokens this block costs

    @property
    def text(self) -> str:
        """The whole text (or thinking) of the block."""
        return "".join(self.pieces)

    def api_block(self) -> dict[str, Any]:
        """The block as it appears in a non-streaming response's `content`."""
        if self.kind == "thinking":
            return {"type": "thinking", "thinking": self.text, "signature": self.signature}
        if self.kind == "text":
            return {"type": "text", "text": self.text}
        return {"type": "tool_use", "id": self.tool_id, "name": self.tool_name, "input": self.tool_input}


@dataclass(slots=True)
class ResponsePlan:
    """A whole answer: its blocks, why it stops, and the output tokens it reports."""

    blocks: list[PlannedBlock]
    stop_reason: StopReason
    stop_sequence: str | None
    output_tokens: int


def plan_response(
    body: dict[str, Any],
    max_output_tokens: int,
    settings: ContentSettings,
    source: TokenSource,
    rng: random.Random,
    *,
    thinks_by_default: bool = False,
) -> ResponsePlan:
    """Plan the answer to a Messages request body, within `max_output_tokens` (thinking included).

    `thinks_by_default`: the model thinks adaptively when the request has no `thinking`, and shows
    it as the newest models do by default, an empty `thinking` with its signature (display "omitted").

    A tool call that does not fit in what is left of max_tokens is dropped, not cut: the real API
    would stream partial JSON, but a non-streaming response has no faithful form for a half-built
    input, and dropping keeps both forms valid. Its tokens were spent, so output_tokens then equals
    max_tokens and stop_reason is `max_tokens`.

    With structured outputs (`output_config.format` or `output_format`) the text is one JSON document
    valid against the schema; cut by max_tokens it is cut mid-document, as the docs say the real API
    does ("Invalid outputs": stop_reason max_tokens, incomplete JSON).
    """
    budget = max(0, max_output_tokens)
    blocks: list[PlannedBlock] = []
    if budget == 0:
        return ResponsePlan(blocks, "max_tokens", None, 0)
    used = 0
    thinking = body.get("thinking")
    if thinking is None and thinks_by_default:
        thinking = DEFAULT_THINKING
    calls, forced = _tool_calls(body, settings, rng)
    # A forced tool_choice prefills the tool call, so adaptive thinking does not run (pydantic-ai-slim
    # 2.78 profiles: "Opus 5, Sonnet 4.6 and Sonnet 5 return a thinking block for `auto` but none for
    # `any` or `tool`, with adaptive thinking on"). Budget thinking with forcing is a 400 before this.
    thinks = isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")
    if thinks and not forced:
        want = _thinking_tokens(thinking, settings, rng)
        n = min(want, budget)
        pieces = source.tokens(n, rng)
        # display "omitted": the thinking is billed but not shown; only the signature comes back.
        shown = [] if thinking.get("display") == "omitted" else pieces
        blocks.append(PlannedBlock("thinking", shown, signature=signature(rng), tokens=n))
        used = n
        if want >= budget:
            return ResponsePlan(blocks, "max_tokens", None, budget)
    stops = [s for s in body.get("stop_sequences") or [] if isinstance(s, str) and s]
    structured = output_schema(body)
    if calls:
        # Text before a tool call would not be the JSON a structured-output client parses.
        preamble = structured is None and not forced
        return _plan_tool_calls(calls, preamble, blocks, used, budget, stops, settings, rng)
    if structured is not None:
        # The JSON text of the answer, paced and counted like prose.
        whole = token_pieces(json.dumps(_instance(structured[1], rng, f"{structured[0]}.schema", complete=True)))
        drawn = len(whole)
        pieces = whole[: budget - used]
    else:
        drawn = settings.output_length.draw(rng)
        pieces = source.tokens(min(drawn, budget - used), rng)
    stop_reason: StopReason = "max_tokens" if drawn > len(pieces) else "end_turn"
    pieces, seq = _cut_at_stop(pieces, stops)
    # The model "emits" a stop sequence here; like the real API, the sequence is not in the text.
    # Not inside a structured answer: the grammar decides that text, not a random cut.
    if structured is None and seq is None and stops and len(pieces) >= 2 and rng.random() < settings.stop_sequence_rate:
        pieces, seq = pieces[: rng.randint(1, len(pieces) - 1)], rng.choice(stops)
    if seq is not None:
        stop_reason = "stop_sequence"
    if pieces:
        blocks.append(PlannedBlock("text", pieces, tokens=len(pieces)))
    return ResponsePlan(blocks, stop_reason, seq, used + len(pieces))


def _plan_tool_calls(
    calls: list[dict[str, Any]],
    preamble: bool,
    blocks: list[PlannedBlock],
    used: int,
    budget: int,
    stops: list[str],
    settings: ContentSettings,
    rng: random.Random,
) -> ResponsePlan:
    # With a forced tool_choice the API starts the answer at the tool call: no text before it.
    if preamble and rng.random() < settings.text_before_tool_rate:
        pieces = list(_preamble(rng.randrange(len(_PREAMBLES)), calls[0]["name"]))[: budget - used]
        pieces, seq = _cut_at_stop(pieces, stops)
        if pieces:
            blocks.append(PlannedBlock("text", pieces, tokens=len(pieces)))
            used += len(pieces)
        if seq is not None:
            return ResponsePlan(blocks, "stop_sequence", seq, used)
        if used >= budget:
            return ResponsePlan(blocks, "max_tokens", None, budget)
    for tool in calls:
        tool_input = _instance(tool.get("input_schema") or {"type": "object"}, rng, f"tool {tool['name']!r}")
        if not isinstance(tool_input, dict):  # input_schema must be an object schema; be lenient
            tool_input = {}
        block = tool_use_block(tool["name"], tool_input, rng)
        if used + block.tokens > budget:
            return ResponsePlan(blocks, "max_tokens", None, budget)
        blocks.append(block)
        used += block.tokens
    return ResponsePlan(blocks, "tool_use", None, used)


def _instance(schema: dict[str, Any], rng: random.Random, what: str, *, complete: bool = False) -> Any:
    """A value for a tool input or a structured answer; a schema we cannot satisfy is a clear 400."""
    try:
        return instance_from_schema(schema, rng, complete=complete)
    except SchemaError as exc:
        # A clear 400 beats a 500 or a value that silently breaks the request's own schema.
        raise ApiError(400, f"mockclaude cannot build a value for {what}: {exc}") from None


def tool_use_block(name: str, tool_input: dict[str, Any], rng: random.Random) -> PlannedBlock:
    """A tool call with a fresh id, its input JSON split as the API streams it, and its token cost."""
    text = json.dumps(tool_input)
    return PlannedBlock(
        "tool_use",
        tool_id=tool_use_id(rng),
        tool_name=name,
        tool_input=tool_input,
        input_json_pieces=_json_pieces(text, rng),
        tokens=count_text(name + text),
    )


def token_pieces(text: str) -> list[str]:
    """`text` as single-token strings (a character split across tokens stays whole): the pieces a
    text or thinking block is streamed in."""
    enc = encoding()
    out: list[str] = []
    pending = b""
    for token in enc.encode(text, disallowed_special=()):
        pending += enc.decode_single_token_bytes(token)
        try:
            out.append(pending.decode())
            pending = b""
        except UnicodeDecodeError:
            continue
    if pending:
        out.append(pending.decode(errors="replace"))
    return out


def _thinking_tokens(thinking: dict[str, Any], settings: ContentSettings, rng: random.Random) -> int:
    """Enabled: a share of budget_tokens (never above it). Adaptive (no budget): an answer-sized draw."""
    if thinking.get("type") == "adaptive":
        return settings.output_length.draw(rng)
    budget = int(thinking.get("budget_tokens") or 1024)
    share = settings.thinking_share * rng.uniform(0.5, 1.5)
    return max(1, min(budget, round(budget * share)))


def _tool_calls(
    body: dict[str, Any], settings: ContentSettings, rng: random.Random
) -> tuple[list[dict[str, Any]], bool]:
    """The custom tools to call (0, 1 or 2) and whether tool_choice forced it."""
    listed = body.get("tools")
    if not listed:
        return [], False
    # Server tools (web_search_…) have no input_schema and are run by the API, not called by us.
    tools = [t for t in listed if isinstance(t, dict) and "input_schema" in t and t.get("name")]
    choice = body.get("tool_choice") if isinstance(body.get("tool_choice"), dict) else {}
    kind = choice.get("type", "auto")
    if kind == "none" or not tools:
        return [], False
    if kind == "tool":
        named = [t for t in tools if t["name"] == choice.get("name")]
        if not named:
            # Wording is ours: no real sample of this error was found.
            raise ApiError(400, f"tool_choice.name: tool {choice.get('name')!r} is not in tools")
        first, forced = named[0], True
    elif kind == "any":
        first, forced = rng.choice(tools), True
    elif rng.random() < settings.tool_rate:
        first, forced = rng.choice(tools), False
    else:
        return [], False
    calls = [first]
    if not choice.get("disable_parallel_tool_use") and rng.random() < settings.parallel_tool_rate:
        calls.append(first if kind == "tool" else rng.choice(tools))
    return calls, forced


def _cut_at_stop(pieces: list[str], stops: list[str]) -> tuple[list[str], str | None]:
    """Cut the text before the earliest stop sequence it contains (the sequence itself is dropped)."""
    if not stops or not pieces:
        return pieces, None
    text = "".join(pieces)
    hits = [(i, s) for s in stops if (i := text.find(s)) >= 0]
    if not hits:
        return pieces, None
    at, seq = min(hits)
    out: list[str] = []
    pos = 0
    for piece in pieces:
        if pos + len(piece) > at:
            if at > pos:
                out.append(piece[: at - pos])
            break
        out.append(piece)
        pos += len(piece)
    return out, seq


_PREAMBLES = (
    "I'll use the {tool} tool to help with that.",
    "Let me check that for you.",
    "I'll look that up using {tool}.",
    "Let me call {tool} to find out.",
)


@functools.lru_cache(maxsize=1024)
def _preamble(index: int, tool: str) -> tuple[str, ...]:
    """A short sentence before a tool call, as single-token strings (cached: tool names repeat)."""
    return tuple(token_pieces(_PREAMBLES[index].format(tool=tool)))


def _json_pieces(text: str, rng: random.Random) -> list[str]:
    """Split a tool input's JSON as the API streams input_json_delta: often "" first, then 1–12 chars."""
    pieces = [""] if rng.random() < 0.8 else []
    i = 0
    while i < len(text):
        step = rng.randint(1, 12)
        pieces.append(text[i : i + step])
        i += step
    return pieces


def signature(rng: random.Random) -> str:
    """A thinking signature shaped like the real ones: base64 of a protobuf-like blob, ~300–450 chars."""
    body = b"\x0a\x46\x08\x08\x18\x02\x2a\x40" + rng.randbytes(64) + b"\x12\x0c" + rng.randbytes(rng.randint(160, 250))
    n = len(body)
    return base64.b64encode(b"\x12" + bytes([0x80 | (n & 0x7F), n >> 7]) + body).decode()
