"""`--profile`: the classic load-test scenarios, as bundled fixtures or as filters on recorded ones."""

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mockclaude
from mockclaude.fixtures.format import FixtureError
from replay.options import OptionError, ReplayConfig
from replay.workload import Sample, Workload, load

log = logging.getLogger("mockclaude.replay")

# The bundled sessions ship inside the package (a link to the checkout's fixtures/), so they are
# found the same way from a checkout, an editable install and a wheel.
FIXTURES_DIR = Path(mockclaude.__file__).resolve().parent / "bundled_fixtures"

SHORT_INPUT = 1_024  # tokens
LONG_INPUT = 2_048
SHORT_OUTPUT = 256
LONG_OUTPUT = 512
BURST_GAP_S = 1.0


@dataclass(frozen=True)
class Profile:
    """A named scenario: its bundled fixture file and the filter it applies to recorded ones."""

    name: str
    description: str
    fixture: str
    select: Callable[[Workload], Workload]

    @property
    def path(self) -> Path:
        """The bundled fixture file for this scenario."""
        return FIXTURES_DIR / self.fixture


def _where(keep: Callable[[Sample], bool]) -> Callable[[Workload], Workload]:
    """A filter on generation requests (count_tokens calls belong to no size profile)."""
    return lambda w: w.filtered(lambda s: not s.counting and keep(s))


def _bursts(w: Workload) -> Workload:
    """Requests that arrived within BURST_GAP_S of a neighbour (of the same recording)."""
    arrivals = w.arrivals()
    in_burst = set()
    for a, b in itertools.pairwise(arrivals):
        if a.scenario == b.scenario and b.started_s - a.started_s <= BURST_GAP_S:
            in_burst.update((id(a), id(b)))
    return w.filtered(lambda s: id(s) in in_burst)


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "short-short",
            f"prompt <= {SHORT_INPUT} tokens, output <= {SHORT_OUTPUT} tokens",
            "short_short.jsonl",
            _where(lambda s: s.input_tokens <= SHORT_INPUT and s.expected_output <= SHORT_OUTPUT),
        ),
        Profile(
            "long-short",
            f"prompt >= {LONG_INPUT} tokens, output <= {SHORT_OUTPUT} tokens",
            "long_short.jsonl",
            _where(lambda s: s.input_tokens >= LONG_INPUT and s.expected_output <= SHORT_OUTPUT),
        ),
        Profile(
            "short-long",
            f"prompt <= {SHORT_INPUT} tokens, output >= {LONG_OUTPUT} tokens",
            "short_long.jsonl",
            _where(lambda s: s.input_tokens <= SHORT_INPUT and s.expected_output >= LONG_OUTPUT),
        ),
        Profile(
            "multi-turn",
            "conversations: requests with >= 3 messages",
            "multi_turn.jsonl",
            _where(lambda s: s.depth >= 3),
        ),
        Profile("streaming", "streaming requests only", "streaming.jsonl", _where(lambda s: s.stream)),
        Profile("burst", "requests recorded within 1 s of another (bursts)", "burst.jsonl", _bursts),
    )
}


def get(name: str) -> Profile:
    """The profile called `name` (ValueError listing the known ones otherwise)."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}") from None


def bundled_fixtures() -> list[Path]:
    """Every bundled scenario fixture that exists."""
    return [p.path for p in PROFILES.values() if p.path.exists()]


def resolve_workload(cfg: ReplayConfig) -> Workload:
    """The fixtures (given or bundled), filtered by the profile when fixtures were given."""
    try:
        profile = get(cfg.workload_profile) if cfg.workload_profile else None
    except ValueError as exc:
        raise OptionError(f"--profile: {exc}") from None
    if cfg.fixtures:
        paths: list[Any] = list(cfg.fixtures)
        for p in paths:
            if not Path(p).is_file():
                raise OptionError(f"fixture file not found: {p} (Locust options that take a value go after the files)")
    elif profile is not None:
        paths = [profile.path]
    else:
        paths = bundled_fixtures()
        if not paths:
            raise OptionError("no --fixtures given and no bundled fixtures found")

    def problem(err: FixtureError) -> None:
        log.warning("skipped %s", err)

    workload = load(paths, skip_bad_lines=cfg.skip_bad_lines, on_problem=problem)
    if profile is not None and cfg.fixtures:
        try:
            workload = profile.select(workload)
        except ValueError as exc:
            raise OptionError(f"--profile {profile.name}: {exc} in {', '.join(cfg.fixtures)}") from None
    return workload
