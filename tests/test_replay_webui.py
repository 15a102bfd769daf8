"""`mockclaude replay` in Locust's web UI mode: the LLM metrics tab, loopback binding and -t."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mockclaude.processes import mock_server
from tests.test_replay_locust import FAST, LIGHT, _free_port
from tests.test_replay_units import write_fixture

pytestmark = pytest.mark.timeout(120)


@contextmanager
def web_replay(url: str, fixture: Path, log: Path, *args: str) -> Iterator[str]:
    """`mockclaude replay` with its web UI on a free port; yields the UI's base URL."""
    port = _free_port()
    argv = [sys.executable, "-m", "mockclaude", "replay", str(fixture), "--host", url, "--web-port", str(port), *args]
    with log.open("w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(base + "/", timeout=2).close()
                break
            except OSError:
                assert proc.poll() is None, log.read_text()
                time.sleep(0.2)
        else:
            raise AssertionError("web UI did not come up:\n" + log.read_text())
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def get_json(url: str) -> Any:
    """GET `url` as JSON."""
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def test_llm_tab_is_declared_and_filled_live(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=4, stream=True)
    log = tmp_path / "locust.log"
    with (
        mock_server(*LIGHT, "--rate-limit", "20rpm") as mock,
        web_replay(mock.url, fx, log, "--autostart", "-u", "2", "-r", "2", "-t", "60s", "--think-time", "0.1") as ui,
    ):
        page = urllib.request.urlopen(ui + "/", timeout=5).read().decode()
        args = json.loads(re.search(r"window\.templateArgs = (.*)", page).group(1))
        assert args["extended_tabs"] == [{"title": "LLM metrics", "key": "llm"}]
        titles = [c["title"] for c in args["extended_tables"][0]["structure"]]
        assert "TTFT p50 (ms)" in titles and "ITL p50 (ms)" in titles and "429s" in titles
        deadline = time.monotonic() + 30
        rows: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            body = get_json(ui + "/stats/requests")
            rows = body["extended_stats"][0]["data"]
            if rows and rows[0]["requests"] >= 3 and rows[0]["ttft_p50"] is not None:
                break
            time.sleep(1)
        assert rows and rows[0]["scenario"] == "ALL", rows
        assert 400 <= rows[0]["ttft_p50"] <= 800  # the mock's TTFT is 0.5 s
        assert rows[0]["tpot_p50"] == pytest.approx(25, abs=3)  # 40 tokens/s
        assert rows[0]["output_tokens"] > 0 and rows[0]["output_tps"] > 0
        # Locust's own table has one row per API request kind, and its count is the API's.
        assert [(s["method"], s["name"]) for s in body["stats"]] == [("POST", "unit"), ("", "Aggregated")]
    assert "Starting web interface at http://127.0.0.1:" in log.read_text()  # loopback unless told otherwise


def test_run_time_is_honoured_when_the_run_starts_from_the_web_ui(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=4, stream=True)
    log = tmp_path / "locust.log"
    with mock_server(*FAST) as mock, web_replay(mock.url, fx, log, "-t", "4s", "--think-time", "0.2") as ui:
        form = urllib.parse.urlencode({"user_count": 2, "spawn_rate": 2, "host": mock.url}).encode()
        started = time.monotonic()
        assert get_json(urllib.request.Request(ui + "/swarm", data=form))["success"]
        state = ""
        while time.monotonic() - started < 20:
            state = get_json(ui + "/stats/requests")["state"]
            if state == "stopped":
                break
            time.sleep(0.25)
        took = time.monotonic() - started
    assert state == "stopped", log.read_text()
    assert 3.5 <= took <= 10, took
    assert "this run stops after 4 s (-t)" in log.read_text()
