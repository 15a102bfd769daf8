"""`./dev setup` shows progress while installing and says where `mockclaude` is once set up.

pip needs the package index, which tests may not reach: `.venv/bin/python` here is a stand-in that
answers `-m pip install` with pip's own kind of output; everything else is the real ./dev script.
"""

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FAKE_PYTHON = """#!/usr/bin/env bash
echo "Obtaining file:///somewhere"
echo "Collecting aiohttp==3.14.5 (from mockclaude==0.1.0)"
echo "  Downloading aiohttp-3.14.5-cp312-cp312-manylinux_2_17_x86_64.whl (1.7 MB)"
echo "Collecting locust==2.47.0 (from mockclaude==0.1.0)"
echo "Installing collected packages: aiohttp, locust, mockclaude"
echo "Successfully installed aiohttp-3.14.5 locust-2.47.0 mockclaude-0.1.0"
"""


def test_first_setup_prints_progress_and_the_path(tmp_path: Path) -> None:
    shutil.copy(ROOT / "dev", tmp_path / "dev")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    first = subprocess.run(["./dev", "setup"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[1:] == [
        "    collecting aiohttp==3.14.5 (from mockclaude==0.1.0)",
        "    collecting locust==2.47.0 (from mockclaude==0.1.0)",
        "    installing the collected packages ...",
        "    done",
        f"==> ready: {tmp_path}/.venv/bin/mockclaude",
        "    to type `mockclaude ...` as the README does: source .venv/bin/activate",
    ], first.stdout
    again = subprocess.run(["./dev", "setup"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert again.stdout.splitlines() == lines[-2:]  # nothing to install: only where it is
