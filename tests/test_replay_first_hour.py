"""What a new user meets first with `mockclaude replay`: fixtures anywhere, the program named in
errors, a dead target stopped with its reason, rate limits checked before the run, error reasons."""

import subprocess
import sys
import time
from pathlib import Path

from mockclaude.processes import mock_server
from replay.command import split_fixtures
from tests.test_replay_locust import CHECK, FAST, _free_port, mock_stats, replay
from tests.test_replay_units import write_fixture


def run_replay(*args: str, timeout: float = 60) -> tuple[int, str, float]:
    """`mockclaude replay ARGS`: exit code, stdout + stderr, seconds taken."""
    started = time.monotonic()
    p = subprocess.run(
        [sys.executable, "-m", "mockclaude", "replay", *args], capture_output=True, text=True, timeout=timeout
    )
    return p.returncode, p.stdout + p.stderr, time.monotonic() - started


def test_fixture_files_may_follow_the_options() -> None:
    assert split_fixtures(["a.jsonl", "-u", "5", "--headless", "rec/prod.jsonl", "-t", "1m"]) == (
        ["a.jsonl", "rec/prod.jsonl"],
        ["-u", "5", "--headless", "-t", "1m"],
    )
    assert split_fixtures(["--csv", "out/run", "ReplayUser"]) == ([], ["--csv", "out/run", "ReplayUser"])


def test_fixtures_after_the_options_are_replayed(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=4, stream=True)
    with mock_server(*FAST) as mock:
        out, s = replay(mock.url, None, tmp_path / "r", "-u", "1", "-r", "1", "-t", "30s", "--max-requests", "3",
                        "--think-time", "0", str(fx))  # fmt: skip
        stats = mock_stats(mock.url)
    assert "Unknown User" not in out
    assert s["requests"] == 3 == stats["requests"] - CHECK and set(s["scenarios"]) == {"unit"}, out


def test_locust_errors_name_the_program(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=2)
    rc, out, _ = run_replay(str(fx), "--host", "http://127.0.0.1:9", "--headless", "--no-such-flag")
    assert rc != 0 and "mockclaude replay: error: unrecognized arguments: --no-such-flag" in out, out
    assert "__main__.py" not in out


def test_a_dead_target_stops_the_run_with_its_reason(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=2)
    url = f"http://127.0.0.1:{_free_port()}"
    rc, out, took = run_replay(str(fx), "--host", url, "--headless", "-u", "5", "-t", "20s")
    assert rc == 2 and took < 20, out
    assert f"mockclaude replay: cannot reach {url} (ConnectionRefusedError" in out
    assert out.count("Connection refused") == 1  # one line, no retry storm
    assert "connection_error" not in out


def test_planned_load_is_checked_against_the_target_rate_limits(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=4, stream=True)
    with mock_server(*FAST, "--rate-limit", "6rpm") as mock:
        out, _ = replay(mock.url, fx, tmp_path / "r", "-u", "4", "-r", "4", "-t", "3s", "--think-time", "0.5")
    assert "rate limits per minute: 6 requests" in out, out
    assert "requests/s (" in out  # the planned request rate, per second and per minute
    assert "WARNING: the planned load (~" in out and "exceeds the target's limit of 6 requests/min" in out


def test_a_load_within_the_limits_gets_no_warning(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=4, stream=True)
    with mock_server(*FAST, "--rate-limit", "6000rpm") as mock:
        out, _ = replay(mock.url, fx, tmp_path / "r", "-u", "1", "-r", "1", "-t", "2s", "--think-time", "1")
    assert "rate limits per minute: 6,000 requests" in out and "WARNING: the planned load" not in out, out


def test_failure_reasons_are_printed_once_each_during_the_run(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=4, stream=True)
    with mock_server(*FAST, "--fault", "529:1") as mock:
        out, s = replay(mock.url, fx, tmp_path / "r", "-u", "2", "-r", "2", "-t", "20s", "--max-requests", "6",
                        "--think-time", "0")  # fmt: skip
    assert s["errors"] == {"overloaded": 6}
    printed = [line for line in out.splitlines() if "further ones are counted, not printed" in line]
    assert len(printed) == 1 and "overloaded (HTTP 529): overloaded_error: Overloaded" in printed[0], out


def test_headless_console_shows_the_llm_view_live(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=4, stream=True)
    with mock_server(*FAST) as mock:
        rc, out, _ = run_replay(str(fx), "--host", mock.url, "--headless", "-u", "2", "-r", "2", "-t", "6s",
                                "--think-time", "0.2")  # fmt: skip
    assert rc == 0, out
    live = out.split("LLM metrics (live, Locust-rounded; exact figures at the end)\n", 1)[1].splitlines()
    assert live[0].split()[:5] == ["Scenario", "Requests", "Failures", "429s", "TTFT"], live[:3]
    assert live[1].startswith("ALL ") and live[2].startswith("unit ")
