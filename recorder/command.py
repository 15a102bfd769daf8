"""`mockclaude record`: run mitmdump with the recorder addon in front of the real API.

    mockclaude record --upstream https://api.anthropic.com --port 8080 --out fixtures/prod.jsonl
    ANTHROPIC_BASE_URL=http://127.0.0.1:8080 python my_app.py

The process becomes mitmdump (exec), so Ctrl-C and SIGTERM reach mitmproxy directly and the addon
flushes every finished exchange before exit. Arguments this command does not know are passed on
to mitmdump (e.g. `--set ssl_insecure=true`).
"""

import argparse
import importlib.util
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from mockclaude.fixtures.format import ANONYMIZATION_MODES, read_header
from mockclaude.listen import ListenError, check_listen

ACCEPTS_EXTRA_ARGS = True
ADDON = Path(__file__).resolve().with_name("addon.py")
# mitmdump names itself after argv[0] in its messages: make them read "mockclaude record: ...".
MITMDUMP = "import sys; sys.argv[0] = 'mockclaude record'; from mitmproxy.tools.main import mitmdump; mitmdump()"
# mitmdump runs asyncio.run(): a uvloop policy set first makes it run on uvloop.
UVLOOP = "import asyncio, uvloop; asyncio.set_event_loop_policy(uvloop.EventLoopPolicy()); "


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `mockclaude record`."""
    parser.add_argument("--upstream", help="API to forward to, e.g. https://api.anthropic.com (reverse proxy mode)")
    parser.add_argument(
        "--regular",
        action="store_true",
        help="run as a regular HTTP(S) proxy for apps that use HTTPS_PROXY instead of a base URL "
        "(needs mitmproxy's CA certificate, see README)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on; 0 picks a free one (default 8080)")
    parser.add_argument("--out", required=True, help="fixture file to append to (JSON Lines)")
    parser.add_argument(
        "--anonymize",
        choices=ANONYMIZATION_MODES,
        default="pii",
        help="pii (default): redact secrets, pseudonymize PII; shape: keep no text at all; "
        "off: keep text (secrets are still redacted)",
    )
    parser.add_argument("--key-file", help="session secret for consistent pseudonyms (default: OUT.key, mode 0600)")
    parser.add_argument("--fsync", action="store_true", help="fsync the fixture after every exchange")
    parser.add_argument("-v", "--verbose", action="store_true", help="let mitmdump print every flow")
    parser.add_argument(
        "--uvloop",
        action="store_true",
        help="run the proxy on uvloop (the optional extra `speed`): less proxy CPU per request, see BENCHMARKS.md",
    )


def _escape(s: str) -> str:
    return s.replace("{", "{{").replace("}", "}}")


def mitmdump_argv(args: argparse.Namespace) -> list[str]:
    """The mitmdump command line for these arguments (raises ValueError on a bad combination)."""
    if args.regular == bool(args.upstream):
        raise ValueError("give either --upstream URL (reverse proxy) or --regular (HTTPS_PROXY), not both or neither")
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be 0-65535, not {args.port}")
    if args.upstream:
        parts = urlsplit(args.upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--upstream must be an http(s) URL like https://api.anthropic.com, not {args.upstream!r}")
        mode = f"reverse:{parts.scheme}://{parts.netloc}@{args.host}:{args.port}"
        target = f"{parts.scheme}://{parts.netloc}"
    else:
        mode = f"regular@{args.host}:{args.port}"
        target = "any host (regular proxy)"
    ready = (
        f"mockclaude record: proxying {{url}} -> {_escape(target)}, writing {_escape(args.out)} "
        f"(anonymize={args.anonymize}); listening on {{url}}"
    )
    settings = {
        "mockclaude_out": args.out,
        "mockclaude_anonymize": args.anonymize,
        "mockclaude_ready": ready,
        "flow_detail": "1" if args.verbose else "0",
        # mitmproxy's six log lines per connection are dispatched to every addon on the proxy's loop.
        "mockclaude_connection_log": "true" if args.verbose else "false",
        # Read the request before connecting upstream, so a refused connection is still recorded
        # (the client then gets mitmproxy's 502 instead of a dropped connection).
        "connection_strategy": "lazy",
    }
    if args.key_file:
        settings["mockclaude_key_file"] = args.key_file
    if args.fsync:
        settings["mockclaude_fsync"] = "true"
    extra = list(getattr(args, "extra_args", []) or [])
    # mitmdump refuses an option set twice: the user's own --set wins over our default.
    for arg in extra:
        settings.pop(arg.split("=", 1)[0], None)
    code = MITMDUMP
    if getattr(args, "uvloop", False):
        if importlib.util.find_spec("uvloop") is None:
            raise ValueError("--uvloop: uvloop is not installed (pip install 'mockclaude[speed]')")
        code = UVLOOP + MITMDUMP
    argv = [sys.executable, "-c", code, "--mode", mode]
    argv += ["-s", str(ADDON)]
    for key, value in settings.items():
        argv += ["--set", f"{key}={value}"]
    return argv + extra


def check_out(path: str) -> None:
    """Fail early, with one clear line, when the fixture cannot be written or is not a fixture."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and out.stat().st_size > 0:
        read_header(out)
    with out.open("a"):
        pass


def run(args: argparse.Namespace) -> int:
    """Replace this process with mitmdump running the recorder addon."""
    try:
        argv = mitmdump_argv(args)
        # Before anything is written: mitmproxy on a taken port would print an error and never exit.
        check_listen(args.host, args.port)
        check_out(args.out)
    except (ValueError, OSError, ListenError) as exc:  # FixtureError is a ValueError
        print(f"mockclaude record: {exc}", file=sys.stderr)
        return 2
    env = dict(os.environ)
    # The addon imports recorder/ and mockclaude/ from this checkout even when not installed.
    root = str(ADDON.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    sys.stdout.flush()
    os.execve(argv[0], argv, env)
    return 0  # not reached
