"""The leading peer mock of the Anthropic API, aimock (npm `@copilotkit/aimock`), installed and run for comparisons.

It is installed with npm into a cache directory outside the repository (`$XDG_CACHE_HOME` or
~/.cache, `mockclaude-bench/aimock-<version>`), once, and runs on 127.0.0.1 with one fixture
that answers the benchmark's prompt.
"""

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mockclaude.processes import Proc, run_process

PACKAGE = "@copilotkit/aimock"
VERSION = "1.43.0"  # pinned: figures in BENCHMARKS.md name the version they were measured against
INSTALL_TIMEOUT_S = 300.0
READY = re.compile(r"aimock server listening on (http://127\.0\.0\.1:\d+)")


def install_dir() -> Path:
    """Where the pinned version lives (outside the repository)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "mockclaude-bench" / f"aimock-{VERSION}"


def _cli() -> Path:
    return install_dir() / "node_modules" / "@copilotkit" / "aimock" / "dist" / "cli.js"


def unavailable(may_install: bool) -> str | None:
    """Why the peer cannot run here (no Node.js or npm; not installed when it may not be), or None when it can."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not found on PATH"
    if not may_install and not _cli().exists():
        return f"{PACKAGE}@{VERSION} is not installed in {install_dir()} and installing was not allowed"
    return None


def install() -> Path:
    """The peer's CLI script, installed with npm first if it is not there yet."""
    root, cli = install_dir(), _cli()
    if not cli.exists():
        # The only step of a benchmark that leaves this host: say so before it starts.
        print(f"# installing {PACKAGE}@{VERSION} into {root} with npm (once)", flush=True)
        root.mkdir(parents=True, exist_ok=True)
        argv = ["npm", "install", "--prefix", str(root), "--no-audit", "--no-fund", "--ignore-scripts"]
        done = subprocess.run(
            [*argv, f"{PACKAGE}@{VERSION}"], capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
        )
        if done.returncode != 0 or not cli.exists():
            raise RuntimeError(f"npm install {PACKAGE}@{VERSION} into {root} failed:\n{done.stdout}{done.stderr}")
    return cli


@contextlib.contextmanager
def server(user_text: str, answer_text: str) -> Iterator[Proc]:
    """aimock on 127.0.0.1 and a free port, answering a user message `user_text` with `answer_text`."""
    cli = install()
    with tempfile.TemporaryDirectory(prefix="aimock-fixtures-") as tmp:
        fixture = Path(tmp) / "bench.json"
        entry = {"match": {"userMessage": user_text}, "response": {"content": answer_text}}
        fixture.write_text(json.dumps({"fixtures": [entry]}), encoding="utf-8")
        argv = ["node", str(cli), "--port", "0", "--host", "127.0.0.1", "--fixtures", str(fixture)]
        with run_process(argv, ready=READY, timeout=60) as proc:
            yield proc
