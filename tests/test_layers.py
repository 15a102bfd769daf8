"""The import layers hold (import-linter contracts in pyproject.toml), and an upward import breaks them."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT = str(Path(sys.executable).with_name("lint-imports"))


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}  # before the editable install's path
    return subprocess.run([LINT, "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120)


def test_the_tree_keeps_its_layers() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for name in ("mockclaude", "recorder", "replay"):
        shutil.copytree(ROOT / name, tree / name, symlinks=True)
    shutil.copy(ROOT / "pyproject.toml", tree)
    with (tree / "mockclaude" / "synth" / "content.py").open("a") as f:
        f.write("\nfrom mockclaude.server import settings  # noqa: E402,F401\n")
    with (tree / "recorder" / "connection_log.py").open("a") as f:
        f.write("\nimport replay.summary  # noqa: E402,F401\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "mockclaude.synth.content -> mockclaude.server.settings" in result.stdout
    assert "recorder.connection_log -> replay.summary" in result.stdout
