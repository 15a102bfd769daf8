"""mockclaude: test and load-test Claude applications offline (serve, record, replay, fixtures, demo).

Each subcommand lives in its own module, imported only when that subcommand runs: the server must
never import Locust (gevent patches the process) and the replayer must never import aiohttp's
server. A command module offers `add_arguments(parser)` and `run(args) -> int`.
"""

import argparse
import importlib
import sys
from types import ModuleType

from mockclaude import __version__

# name → (module, one-line help). Modules are imported lazily, see above.
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("mockclaude.server.command", "run the mock Anthropic API server"),
    "record": ("recorder.command", "record real API traffic through mitmproxy into anonymized fixtures"),
    "replay": ("replay.command", "replay fixtures as a Locust load test against the mock or the real API"),
    "fixtures": ("mockclaude.fixtures.command", "inspect fixture files: stats, validate, scan, fit"),
    "demo": ("replay.demo", "start a mock, replay a bundled session for ~30 s, print the report"),
    "report": ("replay.report_command", "compare two replay report folders (exit 1 on a regression)"),
    "verdict": ("mockclaude.verdict.command", "how each client of a mock handled 429s, overloads and broken streams"),
}


def _load(name: str) -> ModuleType:
    return importlib.import_module(COMMANDS[name][0])


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `mockclaude` console script."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="mockclaude", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"mockclaude {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Only the chosen subcommand's module is imported; the others get a placeholder parser.
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (_, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            _load(name).add_arguments(p)
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module = _load(args.command)
    if extra and not getattr(module, "ACCEPTS_EXTRA_ARGS", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra_args = extra
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
