"""`mockclaude replay FIXTURES... --host URL [Locust options]`: run Locust on the ready locustfile.

Locust runs as a subprocess (`python -m locust -f replay/locustfile.py`) so gevent's monkey patching
stays out of this process. Every option this command does not know goes to Locust unchanged
(web UI by default, --headless, -u, -r, -t, --csv, --html, --master, --worker, ...).
"""

import argparse
import signal
import subprocess
import sys
from pathlib import Path

from mockclaude.fixtures.format import FixtureError
from replay import capacity, options, profiles
from replay.safety import UnsafeTarget, check_target

ACCEPTS_EXTRA_ARGS = True
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
FIXTURE_SUFFIX = ".jsonl"
# Locust names itself after argv[0] in its usage and errors: make them read "mockclaude replay: ...".
LOCUST = "import sys; sys.argv[0] = 'mockclaude replay'; from locust.main import main; main()"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Fixtures, the target, and the replay's own options; the rest is Locust's."""
    # Fixture files are the leading words, or *.jsonl anywhere (see split_fixtures): declaring them as
    # a positional would let argparse take the value of an unknown Locust option (`-u 50`) for a file.
    parser.usage = (
        "mockclaude replay [FIXTURE.jsonl ...] --host URL [replay options] [Locust options] [FIXTURE.jsonl ...]"
    )
    parser.add_argument("--fixtures", default="", help="comma-separated fixture files (or list them first)")
    parser.add_argument("--host", default="", help="target base URL, e.g. http://127.0.0.1:8080 (a mockclaude serve)")
    options.add_arguments(parser, cli=True)
    capacity.add_arguments(parser)
    parser.epilog = (
        "Every other option is passed to Locust: -u USERS, -r RATE, -t 5m, --headless, --csv PREFIX, --html FILE, "
        "--master/--worker, ... (see `locust --help`)."
    )


def split_fixtures(extra: list[str]) -> tuple[list[str], list[str]]:
    """Fixture files (the leading words, and any `*.jsonl` later on); the rest goes to Locust in order."""
    n = 0
    while n < len(extra) and not extra[n].startswith("-"):
        n += 1
    # Later words may be values of Locust's options (`-u 50`), so only *.jsonl names count there.
    later = [w for w in extra[n:] if not w.startswith("-") and w.lower().endswith(FIXTURE_SUFFIX)]
    return extra[:n] + later, [w for w in extra[n:] if w not in later]


def locust_argv(cfg: options.ReplayConfig, host: str, extra: list[str]) -> list[str]:
    """The Locust command line for this run."""
    argv = [sys.executable, "-c", LOCUST, "-f", str(LOCUSTFILE)]
    if host:
        argv += ["--host", host]
    return argv + options.to_locust_argv(cfg) + list(extra)


def run(args: argparse.Namespace) -> int:
    """Check the options, fixtures and target, then run Locust and return its exit code."""
    files, extra = split_fixtures(list(getattr(args, "extra_args", []) or []))
    args.fixtures = ",".join([*files, *([args.fixtures] if args.fixtures else [])])
    try:
        cfg = options.from_namespace(args)
        if "--worker" not in extra:  # a worker gets the workload and target from its master
            check_target(args.host, cfg.real)
            profiles.resolve_workload(cfg)
    except (options.OptionError, UnsafeTarget, FixtureError) as exc:
        print(f"mockclaude replay: {exc}", file=sys.stderr)
        return 2
    if capacity.wanted(args):
        return capacity.run(args, cfg, extra, lambda c, more: run_child(locust_argv(c, args.host, more)))
    return run_child(locust_argv(cfg, args.host, extra))


def run_child(argv: list[str]) -> int:
    """Run Locust and wait; Ctrl-C reaches it from the terminal, SIGTERM is passed on, so it can
    stop cleanly and still write its reports."""
    proc = subprocess.Popen(argv)
    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN),
        signal.SIGTERM: signal.signal(signal.SIGTERM, lambda signum, frame: proc.send_signal(signal.SIGTERM)),
    }
    try:
        return proc.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
