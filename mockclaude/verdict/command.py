"""`mockclaude verdict URL`: print how each client handled errors and limits; exit 1 on findings (for CI)."""

import argparse
import json
import sys
import urllib.error
import urllib.request

from mockclaude.verdict.table import format_verdict

ADMIN_TOKEN_HEADER = "x-mockclaude-admin-token"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The `verdict` flags."""
    p.add_argument("url", help="the mock's base URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--admin-token", default=None, help="the mock's --admin-token, if it has one")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")


def fetch(url: str, admin_token: str | None = None, timeout_s: float = 10.0) -> dict:
    """The verdict JSON from a running mock."""
    req = urllib.request.Request(url.rstrip("/") + "/_mockclaude/verdict")
    if admin_token:
        req.add_header(ADMIN_TOKEN_HEADER, admin_token)
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:
        return json.load(resp)


def run(args: argparse.Namespace) -> int:
    """Print the verdict; 0 when clean (warnings allowed), 1 on findings, 2 when the mock can't be asked."""
    try:
        v = fetch(args.url, args.admin_token)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"mockclaude verdict: could not read {args.url}/_mockclaude/verdict: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(v, indent=2) if args.json else format_verdict(v))
    return 1 if v["findings"] else 0
