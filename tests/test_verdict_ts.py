"""The official TypeScript SDK with its default retries gets a clean verdict (npm `@anthropic-ai/sdk`, pinned)."""

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from mockclaude.processes import mock_server

PROJECT = Path(__file__).parent / "node" / "sdk_retries"


@pytest.fixture(scope="module")
def node_sdk() -> Path:
    """The pinned SDK installed from the lock file (npm ci); skipped, saying why, without Node."""
    if not (shutil.which("node") and shutil.which("npm")):
        if os.environ.get("CI"):
            pytest.fail("Node.js and npm are needed for the TypeScript SDK test, and CI has them")
        pytest.skip("Node.js and npm are needed for the TypeScript SDK test")
    if not (PROJECT / "node_modules" / "@anthropic-ai" / "sdk").is_dir():
        argv = ["npm", "ci", "--no-audit", "--no-fund"]
        subprocess.run(argv, cwd=PROJECT, check=True, capture_output=True, timeout=300)
    return PROJECT


def run_ts(project: Path, url: str, key: str, n: int, stream: bool) -> dict[str, int]:
    argv = ["node", "retries.mjs", url, key, str(n), "stream" if stream else "json"]
    out = subprocess.run(argv, cwd=project, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize(
    "flags", [("--fault", "429:0.3", "--seed", "4"), ("--rate-limit", "30rpm")], ids=["429s", "rpm"]
)
def test_typescript_sdk_defaults_are_clean(node_sdk: Path, flags: tuple[str, ...]) -> None:
    with mock_server("--ttft", "0", "--tps", "2000", "--output-tokens", "5", *flags) as mock:
        counts = run_ts(node_sdk, mock.url, "sk-ant-ts-0042", 33 if "--rate-limit" in flags else 12, stream=True)
        assert counts["ok"] >= 10
        with urllib.request.urlopen(mock.url + "/_mockclaude/verdict") as r:
            (client,) = json.load(r)["clients"]
        assert client["key"] == "…0042" and client["retries"] >= 1
        assert [f for f in client["findings"] if f["severity"] == "finding"] == [], client
        assert any(c["behaviour"] == "honoured_retry_after" for c in client["clean"])
