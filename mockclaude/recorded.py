"""`mockclaude serve --fixtures`: the index of recorded exchanges, and how a request finds its recording.

Every recorded /v1/messages exchange is indexed by `fixtures.match_key` of its (anonymized) request
body. An incoming request is looked up
1. as it is (the replayer sends the anonymized text of the fixture),
2. anonymized the way its fixture file was (`mockclaude.anonymize`: secrets redacted, PII replaced
   by the pseudonyms of the session key, which the user passes with --session-key), once with the
   names learnt from earlier requests (as the recorder did) and once without,
3. for shape fixtures, by structure: the same request with every text's token count within 5%
   (regenerated text rarely re-tokenizes to exactly the recorded count).
Several recordings of one request are served in turn, in recorded order. Unmatched requests get a
synthetic answer drawn from the latency profile fitted on the same files (`profile_fit`), or a 404
with --strict-fixtures.
"""

import dataclasses
import random
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from mockclaude import profile_fit
from mockclaude import turns as turn_counters
from mockclaude.anonymize import Anonymizer
from mockclaude.content import ContentSettings, OutputLength
from mockclaude.faults import KINDS, FaultInjector, FaultSpec
from mockclaude.fixtures import MATCH_FIELDS, SHAPE_KEY, Exchange, is_placeholder, iter_many, match_key, read_header
from mockclaude.models import resolve
from mockclaude.pacing import Timing
from mockclaude.pseudonyms import Pseudonymizer, key_fingerprint, key_path_for, load_or_create_key
from mockclaude.server.settings import Settings
from mockclaude.turns import LocalTurns, SharedTurns
from mockclaude.wire.errors import ApiError

# A shape fixture matches when every text's token count is within this share (or 2 tokens).
SHAPE_TOLERANCE = 0.05


@dataclass(frozen=True)
class Entry:
    """One recorded exchange (parsed for this request) and whether its text is shape placeholders."""

    exchange: Exchange
    shape: bool


@dataclass(frozen=True)
class _Stored:
    """An indexed exchange without its request, kept as compressed JSON and parsed when served, so
    a large recording costs a fraction of its answers' size in memory rather than Python objects."""

    blob: bytes
    shape: bool

    @classmethod
    def of(cls, ex: Exchange, shape: bool) -> "_Stored":
        kept = {k: v for k, v in ex.items() if k != "request"}
        return cls(zlib.compress(orjson.dumps(kept), 1), shape)

    def entry(self) -> Entry:
        return Entry(orjson.loads(zlib.decompress(self.blob)), self.shape)


@dataclass
class _KeyView:
    """Anonymizes incoming requests like the files recorded with one mode (and key) were."""

    mode: str
    anonymizer: Anonymizer
    pseudonymizer: Pseudonymizer | None = None

    def keys(self, body: dict[str, Any]) -> Iterator[str]:
        """Match keys of the anonymized body: with the session's learnt names, then without, then
        with the assistant's turns left as they are (a multi-turn client sends back the answers it
        was served, which are anonymized already; anonymizing them again would change them)."""
        yield match_key(self.anonymizer.body(body))
        if self.pseudonymizer is not None:
            yield match_key(Anonymizer(self.mode, self.pseudonymizer).body(body))
            if any(_is_assistant(m) for m in body.get("messages") or []):
                yield match_key(_anonymize_all_but_assistant(Anonymizer(self.mode, self.pseudonymizer), body))


def _is_assistant(message: Any) -> bool:
    return isinstance(message, dict) and message.get("role") == "assistant"


def _anonymize_all_but_assistant(anonymizer: Anonymizer, body: dict[str, Any]) -> dict[str, Any]:
    """`body` anonymized, except its assistant messages, which are kept verbatim."""
    messages = list(body.get("messages") or [])
    others = anonymizer.body({**body, "messages": [m for m in messages if not _is_assistant(m)]})
    rest = iter(others["messages"])
    return {**others, "messages": [m if _is_assistant(m) else next(rest) for m in messages]}


def _skeleton(shaped: dict[str, Any]) -> tuple[str, tuple[int, ...]]:
    """(key of the request's structure, its token counts in a fixed order) of a shape-mode body."""
    counts: list[int] = []

    def strip(v: Any) -> Any:
        if is_placeholder(v):
            counts.append(v[SHAPE_KEY])
            return {SHAPE_KEY: 0}
        if isinstance(v, dict):
            return {k: strip(v[k]) for k in sorted(v)}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v

    stripped = {k: strip(shaped[k]) for k in MATCH_FIELDS if k in shaped}
    return match_key(stripped), tuple(counts)


def _close(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= max(2, SHAPE_TOLERANCE * y) for x, y in zip(a, b, strict=True))


@dataclass
class Recordings:
    """The recorded exchanges a server answers with, and the profile for everything else."""

    index: dict[str, list[_Stored]]
    profile: profile_fit.Profile | None
    scale: float = 1.0
    strict: bool = False
    faults: FaultInjector | None = None
    notes: list[str] = field(default_factory=list)
    uncatalogued: tuple[str, ...] = ()  # recorded models the catalogue lacks or has retired
    _views: list[_KeyView] = field(default_factory=list)
    _shapes: dict[str, list[tuple[tuple[int, ...], str]]] = field(default_factory=dict)
    turns: LocalTurns | SharedTurns = field(default_factory=LocalTurns)
    _slots: dict[str, int] = field(default_factory=dict)
    _shape_view: Anonymizer | None = None

    # -- lookup ---------------------------------------------------------------------------
    def __post_init__(self) -> None:
        # Every worker indexes the same files in the same order, so a request's slot is the same in all.
        self._slots = {key: i for i, key in enumerate(self.index)}
        if isinstance(self.turns, SharedTurns) and len(self._slots) > self.turns.slots:
            raise ValueError(f"{len(self._slots)} distinct requests, room for {self.turns.slots} shared turn counters")

    def restart(self) -> None:
        """Serve every request's recordings from the first again (the admin API's reset)."""
        self.turns.clear()

    def find(self, body: dict[str, Any]) -> Entry | None:
        """The recording to answer `body` with (the next one in turn), or None."""
        key = self._key(body)
        if key is None:
            return None
        entries = self.index[key]
        turn = self.turns.take(self._slots[key]) if len(entries) > 1 else 0
        return entries[turn % len(entries)].entry()

    def _key(self, body: dict[str, Any]) -> str | None:
        key = match_key(body)
        if key in self.index:
            return key
        for view in self._views:
            for key in view.keys(body):
                if key in self.index:
                    return key
        if self._shape_view is None:
            return None
        shaped = self._shape_view.body(body)
        key = match_key(shaped)
        if key in self.index:
            return key
        skeleton, counts = _skeleton(shaped)
        near = [
            (sum(abs(x - y) for x, y in zip(counts, c, strict=True)), k)
            for c, k in self._shapes.get(skeleton, ())
            if _close(counts, c)
        ]
        return min(near)[1] if near else None

    def unmatched(self, body: dict[str, Any]) -> ApiError:
        """The --strict-fixtures answer to a request no recording matches."""
        return ApiError(
            404,
            f"mockclaude: no recorded exchange matches this request (model {body.get('model')!r}, "
            f"{len(body.get('messages') or [])} messages, key {match_key(body)[:19]}…); "
            "--strict-fixtures answers only recorded requests",
        )

    # -- unmatched requests ---------------------------------------------------------------
    def synthetic(
        self, model: str, input_tokens: int, settings: Settings, timing: Timing, rng: random.Random
    ) -> tuple[ContentSettings, Timing]:
        """Output length and timing for an unmatched request, drawn from the profile.

        What the user set with --ttft, --tps or --output-tokens keeps precedence.
        """
        content = settings.content
        if self.profile is None:
            return content, timing
        m = self.profile.for_model(model)
        drawn = m.draw_timing(input_tokens, rng, timing)
        # --time-scale applies to what was learnt from the recording, not to the model's defaults.
        timing = Timing(
            ttft_s=timing.ttft_s if settings.ttft or m.ttft is None else drawn.ttft_s * self.scale,
            tps=timing.tps if settings.tps or m.tps is None else drawn.tps / self.scale,
            chunk_tokens=drawn.chunk_tokens,
        )
        # The default length distribution is a stand-in: the recording knows better.
        n = m.draw_output_tokens(input_tokens, rng) if content.output_length.kind == "lognormal" else None
        if n is not None:
            content = dataclasses.replace(content, output_length=OutputLength("fixed", n, n))
        return content, timing

    def needs_any_model(self) -> bool:
        """True when a recorded model is unknown to the catalogue or retired."""
        return bool(self.uncatalogued)

    def pick_fault(self) -> str | None:
        """A fault at the recorded rates for an unmatched request (--faults-from-fixtures)."""
        return self.faults.pick() if self.faults is not None else None


# -- loading --------------------------------------------------------------------------------
def _key_for(path: Path, header: dict[str, Any], session_key: bytes | None, notes: list[str]) -> bytes | None:
    """The session key that made a pii fixture's pseudonyms, if we have it."""
    want = (header.get("anonymization") or {}).get("key_fingerprint")
    candidates = [session_key] if session_key is not None else []
    default = key_path_for(path)
    if default.exists():
        candidates.append(load_or_create_key(default))  # it exists: this only reads it
    for key in candidates:
        if want is None or key_fingerprint(key) == want:
            return key
    notes.append(
        f"{path}: pii fixture without its session key (--session-key FILE, or {default.name} beside it); "
        "requests whose text has PII will not match, everything else still does"
    )
    return None


def _index_file(
    path: str,
    shape: bool,
    index: dict[str, list[_Stored]],
    shapes: dict[str, list[tuple[tuple[int, ...], str]]],
    model_names: set[str],
    fitter: profile_fit.Fitter | None,
) -> None:
    """Add a file's answerable /v1/messages exchanges to the index (FixtureError on a bad line);
    the profile is fitted in the same pass."""
    for _, ex in iter_many([path]):
        if fitter is not None:
            fitter.add(path, ex)
        body = ex["request"].get("body")
        endpoint = str(ex["request"].get("path") or "").split("?")[0].rstrip("/")
        if endpoint != "/v1/messages" or not isinstance(body, dict):
            continue
        resp = ex["response"]
        if (resp.get("error") or {}).get("kind") == "client":
            continue  # the client gave up: only part of the answer was recorded
        if resp.get("status") == 200 and resp.get("events") is None and not isinstance(resp.get("body"), dict):
            continue  # nothing to answer with
        k = match_key(body)
        if k not in index and shape:
            skeleton, counts = _skeleton(body)
            shapes.setdefault(skeleton, []).append((counts, k))
        index.setdefault(k, []).append(_Stored.of(ex, shape))
        if isinstance(body.get("model"), str):
            model_names.add(body["model"])


def load(
    paths: list[str],
    *,
    session_key: str | None = None,
    scale: float = 1.0,
    strict: bool = False,
    profile_path: str | None = None,
    faults_from_fixtures: bool = False,
    seed: int | None = None,
) -> Recordings:
    """Index fixture files for serving (FixtureError names file and line; ValueError a bad option)."""
    if not scale > 0:
        raise ValueError(f"--time-scale must be > 0, not {scale}")
    if strict and not paths:
        raise ValueError("--strict-fixtures needs --fixtures FILE")
    key = load_or_create_key(session_key) if session_key and Path(session_key).exists() else None
    if session_key and key is None:
        raise ValueError(f"--session-key {session_key}: no such file")
    for p in [*paths, *([profile_path] if profile_path else [])]:
        if not Path(p).is_file():
            raise ValueError(f"{'--profile' if p == profile_path else '--fixtures'} {p}: no such file")
    notes: list[str] = []
    index: dict[str, list[_Stored]] = {}
    views: dict[tuple[str, bytes | None], _KeyView] = {}
    shapes: dict[str, list[tuple[tuple[int, ...], str]]] = {}
    shape_seen = False
    key_used = False
    model_names: set[str] = set()
    fitter = None if profile_path else profile_fit.Fitter()
    for p in paths:
        header = read_header(p)
        mode = (header.get("anonymization") or {}).get("mode", "off")
        file_key = _key_for(Path(p), header, key, notes) if mode == "pii" else None
        key_used |= file_key is not None and file_key == key
        if mode == "shape":
            shape_seen = True
        elif (mode, file_key) not in views:
            pseudo = Pseudonymizer(file_key) if file_key is not None else None
            # Without the key, pii files are still matched on secret redaction alone.
            views[(mode, file_key)] = _KeyView(
                mode if pseudo else "off", Anonymizer(mode if pseudo else "off", pseudo), pseudo
            )
        _index_file(p, mode == "shape", index, shapes, model_names, fitter)
    if key is not None and not key_used:
        raise ValueError(f"--session-key {session_key}: its fingerprint matches none of the pii fixtures given")
    profile = profile_fit.load(profile_path) if profile_path else None
    if fitter is not None and fitter.total:
        profile = fitter.profile(paths)
    if faults_from_fixtures and profile is None:
        raise ValueError("--faults-from-fixtures needs --fixtures FILE or --profile FILE")
    injector = None
    if faults_from_fixtures and profile is not None:
        rates = profile.models[profile_fit.POOLED].faults
        specs = [FaultSpec(k, v) for k, v in rates.items() if k in KINDS and v > 0]
        # Its own stream of draws, apart from the --fault injector's (seeded seed + 1).
        injector = FaultInjector(specs, seed=None if seed is None else seed + 2)
    total = sum(len(v) for v in index.values())
    odd = tuple(sorted(m for m in model_names if (info := resolve(m)) is None or info.lifecycle == "retired"))
    if odd:
        notes.append(f"fixtures use models the catalogue lacks or retired ({', '.join(odd)}): any model is accepted")
    if paths:
        notes.insert(0, f"{total} recorded exchanges ({len(index)} distinct requests) from {len(paths)} file(s)")
    return Recordings(
        index=index,
        profile=profile,
        scale=scale,
        strict=strict,
        faults=injector,
        notes=notes,
        uncatalogued=odd,
        _views=list(views.values()),
        _shapes=shapes,
        _shape_view=Anonymizer("shape") if shape_seen else None,
        turns=turn_counters.shared or LocalTurns(),
    )


def print_notes(rec: Recordings) -> None:
    """Tell the user what was loaded and what will not match."""
    for note in rec.notes:
        print(f"mockclaude: {note}", file=sys.stderr, flush=True)
