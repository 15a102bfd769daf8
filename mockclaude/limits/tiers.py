"""Anthropic's published rate-limit tiers (Messages API, standard usage tiers 1-4), per model class.

Source: the "Rate limits" page of the Claude API docs (docs.claude.com/en/api/rate-limits, the
"Rate limits" tables of Tiers 1-4), read 2026-12-06 through copies of it; Tier 1 agrees with
/work/shared/reference/anthropic-api.md §5.4 and Tier 4 Sonnet with the mock's nominal headers
(limits.ratelimit.NOMINAL). Limits are per organization and model class: the Opus 4.x models share
one set of buckets, so do the Sonnet 4.x models. ITPM counts uncached input and cache writes; cache
reads do not count for these models. Anthropic changes these numbers and has announced renamed tiers
(Start, Build, Scale): check the Console for your organization's own limits. Models without a row
here (Claude 5.x and later, Haiku 3.x) get no tier advice.
"""

import re
from dataclasses import dataclass

from mockclaude.models import resolve

SOURCE = "docs.claude.com/en/api/rate-limits (Tiers 1-4), read 2026-12-06"


@dataclass(frozen=True)
class Limits:
    """One tier's per-minute limits for one model class."""

    rpm: int
    itpm: int
    otpm: int


# class -> tier name -> limits, lowest tier first.
TIERS: dict[str, dict[str, Limits]] = {
    "Claude Opus 4.x": {
        "Tier 1": Limits(50, 30_000, 8_000),
        "Tier 2": Limits(1_000, 450_000, 90_000),
        "Tier 3": Limits(2_000, 800_000, 160_000),
        "Tier 4": Limits(4_000, 2_000_000, 400_000),
    },
    "Claude Sonnet 4.x": {
        "Tier 1": Limits(50, 30_000, 8_000),
        "Tier 2": Limits(1_000, 450_000, 90_000),
        "Tier 3": Limits(2_000, 800_000, 160_000),
        "Tier 4": Limits(4_000, 2_000_000, 400_000),
    },
    "Claude Haiku 4.5": {
        "Tier 1": Limits(50, 50_000, 10_000),
        "Tier 2": Limits(1_000, 450_000, 90_000),
        "Tier 3": Limits(2_000, 1_000_000, 200_000),
        "Tier 4": Limits(4_000, 4_000_000, 800_000),
    },
}
_CLASS = re.compile(r"^claude-(opus|sonnet|haiku)-4(?:-(\d))?(?:\D|$)")


def model_class(model: str) -> str | None:
    """The tier table's class of a model id or alias (resolved through the catalogue), or None."""
    info = resolve(model)
    m = _CLASS.match(info.id if info else model)
    if not m:
        return None
    line, minor = m.group(1), m.group(2)
    if line == "haiku":
        return "Claude Haiku 4.5" if minor == "5" else None
    return f"Claude {line.capitalize()} 4.x"
