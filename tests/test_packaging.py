"""The wheel carries everything a plain install needs: the bundled sessions, and the demo runs from it."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mockclaude.fixtures.command import scan_files, validate_files
from mockclaude.fixtures.format import read_header

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted(p.name for p in (ROOT / "fixtures").glob("*.jsonl"))
# Build from a copy: setuptools writes build/ and *.egg-info next to the sources it builds.
SKIP = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", ".*_cache", ".hypothesis")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built offline (no index, no build isolation) from a copy of the checkout."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=SKIP)
    argv = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index", "--no-build-isolation"]
    subprocess.run([*argv, "-w", str(tmp / "dist"), str(src)], check=True, timeout=300, capture_output=True)
    (built,) = (tmp / "dist").glob("mockclaude-*.whl")
    return built


def test_wheel_ships_the_bundled_sessions(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("mockclaude/bundled_fixtures/"))
    assert BUNDLED and set(BUNDLED) <= set(shipped)
    for package in ("mockclaude/server/", "mockclaude/wire/", "recorder/", "replay/"):
        assert any(n.startswith(package) for n in names), package


def test_demo_runs_from_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    # The wheel's copy comes first on the path and the checkout is not the working directory, so
    # nothing below can be found through the repository.
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import mockclaude, replay.profiles as p; print(mockclaude.__file__, p.FIXTURES_DIR)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert all(part.startswith(str(site)) for part in where.stdout.split()), where.stdout
    report = tmp_path / "report"
    demo = subprocess.run(
        [sys.executable, "-m", "mockclaude", "demo", "--duration", "4", "--users", "2", "--report", str(report)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=150,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout + demo.stderr
    summary = json.loads((report / "summary.json").read_text())
    assert summary["requests"] > 0, summary


def test_bundled_sessions_are_valid_synthetic_and_scan_clean() -> None:
    paths = [str(ROOT / "fixtures" / name) for name in BUNDLED]
    count, problems = validate_files(paths)
    assert count > 0 and problems == []
    assert scan_files(paths) == []
    for path in paths:
        header = read_header(path)
        assert header["source"] == "synthetic" and "SYNTHETIC" in header["note"], path
