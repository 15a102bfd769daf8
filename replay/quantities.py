"""Durations and percentages as the command line writes them: `30s`, `2m`, `500ms`, `10%`."""

import math
import re

from replay.options import OptionError

_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(ms|s|m|h)?\s*$", re.IGNORECASE)
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "": 1.0}


def parse_duration(text: str, flag: str) -> float:
    """Seconds from `30s`, `2m`, `500ms` or a bare number of seconds; OptionError naming `flag`."""
    m = _DURATION.match(text)
    if not m or float(m.group(1)) <= 0:
        raise OptionError(f"{flag} must be a positive duration like 30s, 2m or 500ms, not {text!r}")
    return float(m.group(1)) * _SECONDS[(m.group(2) or "").lower()]


def parse_percent(text: str, flag: str) -> float:
    """A fraction from `10%` (or `0.1`); OptionError naming `flag`."""
    body = text.strip().removesuffix("%")
    try:
        value = float(body) / (100 if text.strip().endswith("%") else 1)
    except ValueError:
        raise OptionError(f"{flag} must be a percentage like 10%, not {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise OptionError(f"{flag} must be a percentage >= 0, not {text!r}")
    return value
