"""The replay's own options, shared by `mockclaude replay` and Locust's command line (`locust -f`).

They are registered as Locust custom arguments, so a distributed master forwards them to its
workers; `mockclaude replay` passes them to the Locust subprocess the same way.
"""

import argparse
import math
from dataclasses import dataclass, fields
from typing import Any

RETRY_POLICIES = ("none", "backoff")


@dataclass(frozen=True)
class ReplayConfig:
    """The workload and safety options of one replay run."""

    fixtures: tuple[str, ...] = ()
    workload_profile: str = ""
    rate: float = 0.0  # > 0: open loop, Poisson arrivals at this many requests/s (whole run)
    speed: float = 0.0  # > 0: open loop at the recorded arrival times, sped up this much
    think_time: str = "recorded"  # closed loop: "recorded" or a fixed number of seconds
    retry: str = "none"
    max_retries: int = 4
    report: str = ""
    real: bool = False
    max_requests: int = 0
    max_output_tokens: int = 0
    seed: int = 0
    skip_bad_lines: bool = False
    request_timeout: float = 600.0

    @property
    def open_loop(self) -> bool:
        """True when arrivals are scheduled (Poisson or recorded) rather than closed-loop users."""
        return self.rate > 0 or self.speed > 0

    def fixed_think_time(self) -> float | None:
        """The constant think time, or None for recorded think times."""
        return None if self.think_time == "recorded" else float(self.think_time)


class OptionError(ValueError):
    """A replay option has a bad value; the message names the flag."""


def _positive_or_zero(flag: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise OptionError(f"{flag} must be a number >= 0, not {value}")


def validate(cfg: ReplayConfig) -> ReplayConfig:
    """`cfg` when every option makes sense, else OptionError naming the flag."""
    _positive_or_zero("--rate", cfg.rate)
    _positive_or_zero("--speed", cfg.speed)
    if cfg.rate > 0 and cfg.speed > 0:
        raise OptionError("--rate (Poisson arrivals) and --speed (recorded arrivals) exclude each other")
    if cfg.think_time != "recorded":
        try:
            _positive_or_zero("--think-time", float(cfg.think_time))
        except ValueError:
            raise OptionError(f'--think-time must be "recorded" or seconds, not {cfg.think_time!r}') from None
    if cfg.retry not in RETRY_POLICIES:
        raise OptionError(f"--retry must be one of {', '.join(RETRY_POLICIES)}, not {cfg.retry!r}")
    for flag, value in (
        ("--max-retries", cfg.max_retries),
        ("--max-requests", cfg.max_requests),
        ("--max-output-tokens", cfg.max_output_tokens),
    ):
        _positive_or_zero(flag, value)
    if cfg.request_timeout <= 0:
        raise OptionError("--request-timeout must be > 0 seconds")
    return cfg


def add_arguments(parser: Any, *, cli: bool = False) -> None:
    """Register the options on an argparse (or Locust's configargparse) parser."""
    if not cli:
        parser.add_argument("--fixtures", default="", help="comma-separated fixture files (default: bundled ones)")
    # Locust already owns `--profile`, so inside Locust the option is `--workload-profile`.
    names = ("--profile", "--workload-profile") if cli else ("--workload-profile",)
    parser.add_argument(
        *names,
        dest="workload_profile",
        default="",
        help="scenario: short-short, long-short, short-long, "
        "multi-turn, streaming, burst (bundled fixtures, or a filter on the given ones)",
    )
    parser.add_argument("--rate", type=float, default=0.0, help="open loop: Poisson arrivals, requests/s")
    parser.add_argument("--speed", type=float, default=0.0, help="open loop: recorded arrival times, sped up X times")
    parser.add_argument("--think-time", default="recorded", help='closed loop: "recorded" (default) or seconds')
    parser.add_argument("--retry", default="none", choices=RETRY_POLICIES, help="none (see raw 429s) or backoff")
    parser.add_argument("--max-retries", type=int, default=4, help="attempts after the first with --retry backoff")
    parser.add_argument("--report", default="", help="write report.html, summary.json and records.jsonl to this folder")
    parser.add_argument("--real", action="store_true", default=False, help="allow a host outside 127.0.0.0/8")
    parser.add_argument("--max-requests", type=int, default=0, help="stop after this many requests (0: no limit)")
    parser.add_argument("--max-output-tokens", type=int, default=0, help="stop once this many output tokens came back")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice (sampling, arrivals)")
    parser.add_argument("--skip-bad-lines", action="store_true", default=False, help="skip invalid fixture lines")
    parser.add_argument("--request-timeout", type=float, default=600.0, help="seconds before one request times out")


def from_namespace(ns: argparse.Namespace) -> ReplayConfig:
    """A validated ReplayConfig from parsed options (Locust's or the CLI's)."""
    values: dict[str, Any] = {}
    for f in fields(ReplayConfig):
        if hasattr(ns, f.name):
            values[f.name] = getattr(ns, f.name)
    fx = values.get("fixtures")
    if isinstance(fx, str):
        values["fixtures"] = tuple(p for p in (x.strip() for x in fx.split(",")) if p)
    elif fx is not None:
        values["fixtures"] = tuple(fx)
    return validate(ReplayConfig(**values))


def to_locust_argv(cfg: ReplayConfig) -> list[str]:
    """The Locust command-line arguments that reproduce `cfg` (defaults omitted)."""
    argv: list[str] = []
    default = ReplayConfig()
    for f in fields(ReplayConfig):
        value = getattr(cfg, f.name)
        if value == getattr(default, f.name):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            argv.append(flag)
        elif isinstance(value, tuple):
            argv += [flag, ",".join(value)]
        else:
            argv += [flag, str(value)]
    return argv
