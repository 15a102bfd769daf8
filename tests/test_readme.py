"""The README's shell blocks run as written (those that can run on their own; see its quick start).

A `bash` block runs in the checkout with bash -e and `.venv` activated (as the quick start leaves
a reader); port 8080 becomes a free port so parallel runs do not collide. A block marked
`<!-- readme-test: skip: REASON -->` on the line above is left out.
"""

import contextlib
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.test_replay_locust import _free_port

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"^```bash\n(.*?)^```$", re.S | re.M)
SKIP = re.compile(r"<!-- readme-test: skip: (.+?) -->\s*\Z")


def shell_blocks(text: str) -> list[tuple[int, str, str | None]]:
    """(line number, code, skip reason or None) of every bash block."""
    out = []
    for m in BLOCK.finditer(text):
        before = text[: m.start()]
        skip = SKIP.search(before.rstrip("\n").rsplit("\n", 1)[-1] + "\n")
        out.append((before.count("\n") + 1, m.group(1), skip.group(1) if skip else None))
    return out


BLOCKS = shell_blocks(README.read_text(encoding="utf-8"))
RUNNABLE = [(line, code) for line, code, reason in BLOCKS if reason is None]


def test_the_convention_finds_blocks_of_both_kinds() -> None:
    assert len(RUNNABLE) >= 2 and any(reason for _, _, reason in BLOCKS)
    assert shell_blocks("<!-- readme-test: skip: why -->\n```bash\nfalse\n```\n")[0][2] == "why"
    assert shell_blocks("text\n\n```bash\ntrue\n```\n")[0][2] is None


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("line", "code"), RUNNABLE, ids=[f"README.md:{line}" for line, _ in RUNNABLE])
def test_readme_block_runs_as_written(line: int, code: str) -> None:
    port = str(_free_port())
    script = "set -e\n" + code.replace("8080", port)
    venv = ROOT / ".venv"
    env = {**os.environ, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    with subprocess.Popen(
        ["bash", "-c", script], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    ) as proc:  # fmt: skip
        try:
            stdout, stderr = proc.communicate(timeout=240)
        finally:
            # Whatever the block started in the background (a server it failed to stop) goes too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, (
        f"README.md:{line}: this block failed (exit {proc.returncode}). If it cannot run on its own, put "
        f"`<!-- readme-test: skip: REASON -->` right above it.\n{stdout[-3000:]}\n{stderr[-3000:]}"
    )
