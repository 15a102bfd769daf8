"""Real short headless Locust runs of `mockclaude replay` against a real `mockclaude serve`."""

import csv as csv_module
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mockclaude.processes import mock_server
from tests.test_replay_units import write_fixture

pytestmark = pytest.mark.timeout(180)
LIGHT = ("--ttft", "0.5", "--tps", "40", "--output-tokens", "41", "--any-model", "--seed", "1")
FAST = ("--ttft", "0.02", "--tps", "2000", "--output-tokens", "5", "--any-model", "--seed", "1")
# Before the run, replay checks the target with one small request (replay/preflight.py); the mock
# counts it, Locust and the summary do not (it is not part of the load).
CHECK = 1


def replay(
    url: str, fixture: Path | None, report: Path, *args: str, timeout: float = 90, env: dict[str, str] | None = None
) -> tuple[str, dict[str, Any]]:
    """Run `mockclaude replay` headless; its output and summary.json."""
    argv = [sys.executable, "-m", "mockclaude", "replay", *([str(fixture)] if fixture else []), "--host", url,
            "--headless", "--only-summary", "--report", str(report), *args]  # fmt: skip
    # A session of its own, so a timeout stops Locust too (it is a child of `mockclaude replay`).
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, **(env or {})},
    ) as p:  # fmt: skip
        try:
            stdout, stderr = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            raise
    proc = subprocess.CompletedProcess(argv, p.returncode, stdout, stderr)
    out = proc.stdout + proc.stderr
    assert proc.returncode in (0, 1), out  # Locust exits 1 when some requests failed
    return out, json.loads((report / "summary.json").read_text())


def mock_stats(url: str) -> dict[str, Any]:
    """The mock's own counters."""
    with urllib.request.urlopen(f"{url}/_mockclaude/stats", timeout=5) as r:
        return json.load(r)


def test_light_load_reports_the_mock_timing(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=4, stream=True)
    csv = tmp_path / "csv" / "run"
    csv.parent.mkdir()
    with mock_server(*LIGHT) as mock:
        out, s = replay(mock.url, fx, tmp_path / "r", "-u", "2", "-r", "2", "-t", "40s", "--max-requests", "10",
                        "--think-time", "0.1", "--csv", str(csv), "--html", str(tmp_path / "r.html"))  # fmt: skip
        stats = mock_stats(mock.url)
    assert s["requests"] == 10 == stats["requests"] - CHECK, out
    assert s["failures"] == 0, s["errors"]
    assert s["ttft_s"]["p50"] == pytest.approx(0.5, rel=0.10)
    assert s["tpot_s"]["p50"] == pytest.approx(0.025, rel=0.10)
    assert s["output_tokens"] == 10 * 41 and s["input_tokens"] > 0
    for key in ("ttft_s", "itl_s", "tpot_s", "e2e_s"):
        assert all(s[key][k] is not None for k in ("p50", "p90", "p95", "p99", "mean"))
    assert "TTFT" in out and "(E2E - TTFT) / (output_tokens - 1)" in out  # the end-of-run table
    assert "expected volume over 40 s" in out and "stops at 10 requests" in out  # printed before starting
    assert s["output_tps"]["p50"] == pytest.approx(41 / s["e2e_s"]["p50"], rel=0.05)
    # One API request is one Locust request: Locust's counts, RPS and failure % are the API's.
    with (tmp_path / "csv" / "run_stats.csv").open() as f:
        rows = list(csv_module.DictReader(f))
    assert [(r["Type"], r["Name"]) for r in rows] == [("POST", "unit"), ("", "Aggregated")], rows
    assert int(rows[-1]["Request Count"]) == 10 == stats["requests"] - CHECK
    assert int(rows[-1]["Failure Count"]) == 0
    assert "TTFT" not in (tmp_path / "r.html").read_text()  # the LLM figures live in their own view
    lines = (tmp_path / "r" / "records.jsonl").read_text().splitlines()
    assert len(lines) == 10 and json.loads(lines[0])["delta_s"]
    page = (tmp_path / "r" / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "Latency CDF" in page and "Throughput over time" in page


def test_429_count_equals_the_mock_rate_limiter(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=4, stream=True)
    with mock_server(*FAST, "--rate-limit", "6rpm") as mock:
        out, s = replay(mock.url, fx, tmp_path / "r", "-u", "3", "-r", "3", "-t", "40s", "--max-requests", "15",
                        "--think-time", "0")  # fmt: skip
        stats = mock_stats(mock.url)
    assert stats["rate_limited"] > 0
    assert s["rate_limited"] == stats["rate_limited"] == stats["by_status"].get("429"), out
    assert s["rate_limited_with_retry_after"] == s["rate_limited"]
    assert s["requests"] == 15 == stats["requests"] - CHECK
    assert s["errors"] == {"rate_limited": s["rate_limited"]}
    assert "rate_limited (HTTP 429)" in out  # Locust's own failure table


def test_retry_backoff_is_counted_separately(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=4, stream=True)
    with mock_server(*FAST, "--fault", "429:0.5") as mock:
        _, s = replay(mock.url, fx, tmp_path / "r", "-u", "4", "-r", "4", "-t", "40s", "--max-requests", "16",
                        "--think-time", "0", "--retry", "backoff", "--max-retries", "3")  # fmt: skip
        stats = mock_stats(mock.url)
    assert s["retries"] > 0 and s["rate_limited"] == stats["faults_injected"]["429"]
    assert s["requests"] == 16 == stats["requests"] - CHECK
    records = [json.loads(line) for line in (tmp_path / "r" / "records.jsonl").read_text().splitlines()]
    retried = [r for r in records if r["attempt"] > 0]
    assert len(retried) == s["retries"]
    # A retry waits for retry-after (1 s), so it starts at least 1 s after a 429.
    first_429 = min(r["send_wall"] for r in records if r["status"] == 429)
    assert min(r["send_wall"] for r in retried) >= first_429 + 1.0


def test_failure_classes_match_injected_faults(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=4, stream=True)
    with mock_server(*FAST, "--fault", "midstream:0.3", "--fault", "disconnect:0.2", "--fault", "529:0.1") as mock:
        out, s = replay(mock.url, fx, tmp_path / "r", "-u", "3", "-r", "3", "-t", "40s", "--max-requests", "30",
                        "--think-time", "0")  # fmt: skip
        faults = mock_stats(mock.url)["faults_injected"]
    assert s["errors"].get("midstream_error", 0) == faults.get("midstream", 0) > 0, out
    assert s["errors"].get("interrupted", 0) == faults.get("disconnect", 0) > 0
    assert s["errors"].get("overloaded", 0) == faults.get("529", 0)
    assert s["failures"] == sum(faults.values()) and s["successes"] == 30 - s["failures"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_distributed_master_and_two_workers_match_a_single_process(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=4, stream=True)
    common = ("-u", "4", "-r", "4", "-t", "60s", "--max-requests", "16", "--think-time", "0.1")
    with mock_server(*LIGHT) as mock:
        _, single = replay(mock.url, fx, tmp_path / "single", *common)
    port = _free_port()
    worker_argv = [sys.executable, "-m", "mockclaude", "replay", "--worker", "--master-host", "127.0.0.1",
                   "--master-port", str(port), "--headless"]  # fmt: skip
    workers = [subprocess.Popen(worker_argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    try:
        with mock_server(*LIGHT) as mock:
            out, dist = replay(mock.url, fx, tmp_path / "dist", *common, "--master", "--expect-workers", "2",
                               "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port))  # fmt: skip
            stats = mock_stats(mock.url)
    finally:
        for w in workers:
            try:
                w.wait(20)
            except subprocess.TimeoutExpired:
                w.kill()
                w.wait(5)
    assert dist["run"]["workers"] == 2, out
    assert dist["requests"] == single["requests"] == 16 == stats["requests"] - CHECK
    assert dist["failures"] == single["failures"] == 0
    assert dist["output_tokens"] == single["output_tokens"] == 16 * 41
    records = [json.loads(line) for line in (tmp_path / "dist" / "records.jsonl").read_text().splitlines()]
    assert {r["worker"] for r in records} == {"0", "1"}  # both workers' records reached the master
    assert dist["itl_s"]["n"] == single["itl_s"]["n"] > 0
    for key in ("ttft_s", "tpot_s", "e2e_s"):
        assert dist[key]["p50"] == pytest.approx(single[key]["p50"], rel=0.10), key


def test_open_loop_reports_lateness_instead_of_turning_closed(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=4, stream=True)
    with mock_server("--ttft", "0.3", "--tps", "100", "--output-tokens", "30", "--any-model") as mock:
        out, slow = replay(mock.url, fx, tmp_path / "slow", "-u", "1", "-r", "1", "-t", "4s", "--rate", "6")
        _, fine = replay(mock.url, fx, tmp_path / "fine", "-u", "12", "-r", "12", "-t", "4s", "--rate", "3")
    assert slow["late_requests"] > 0 and slow["lateness_s"]["max"] > 0.5
    assert "open loop fell behind" in out
    assert fine["late_requests"] == 0 and fine["lateness_s"]["n"] == fine["requests"] > 0


def test_recorded_arrivals_and_max_output_tokens(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=6, stream=True)
    with mock_server(*FAST) as mock:
        _, s = replay(mock.url, fx, tmp_path / "r", "-u", "4", "-r", "4", "-t", "30s", "--speed", "4",
                      "--max-output-tokens", "30")  # fmt: skip
    # 5 tokens per answer: the run stops once 30 output tokens came back, by itself, long before -t.
    assert s["output_tokens"] >= 30 and s["requests"] <= 6 + 3
    assert s["duration_s"] < 10


def test_non_loopback_host_needs_real(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl")
    argv = [sys.executable, "-m", "mockclaude", "replay", str(fx), "--host", "https://api.anthropic.com", "--headless"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2 and "--real" in proc.stderr
    proc = subprocess.run([*argv, "--real"], capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2 and "ANTHROPIC_API_KEY" in proc.stderr


def test_bundled_shape_profile_regenerates_text_of_the_recorded_lengths(tmp_path: Path) -> None:
    from replay import profiles
    from replay.workload import load

    recorded = sorted({s.input_tokens for s in load([profiles.get("long-short").path]).samples})
    with mock_server(*FAST) as mock:
        _, s = replay(mock.url, None, tmp_path / "r", "--profile", "long-short", "-u", "3", "-r", "3", "-t", "30s",
                      "--max-requests", "9", "--think-time", "0")  # fmt: skip
    assert s["requests"] == 9 and s["failures"] == 0 and set(s["scenarios"]) == {"long-short"}
    records = [json.loads(line) for line in (tmp_path / "r" / "records.jsonl").read_text().splitlines()]
    for r in records:  # the mock counts the regenerated prompt like the recorded one, within 2%
        assert min(abs(r["input_tokens"] - n) / n for n in recorded) < 0.02, (r["input_tokens"], recorded)


def test_demo_runs_offline_and_prints_the_summary(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "mockclaude", "demo", "--duration", "4", "--users", "4", "--report", str(tmp_path)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "TTFT" in proc.stdout and f"report: {tmp_path}" in proc.stdout
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["requests"] > 0 and (tmp_path / "locust.html").exists()


def test_auth_and_unknown_model_failures_are_classified(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=4, stream=True)
    with mock_server(*FAST, "--api-key", "sk-ant-right") as mock:
        # A refused key stops the run at the check request, with the reason, before any user starts.
        refused = subprocess.run(
            [sys.executable, "-m", "mockclaude", "replay", str(fx), "--host", mock.url, "--headless", "-t", "20s"],
            capture_output=True, text=True, timeout=60, env={**os.environ, "ANTHROPIC_API_KEY": "sk-ant-wrong"},
        )  # fmt: skip
        _, good_key = replay(mock.url, fx, tmp_path / "b", "-u", "2", "-r", "2", "-t", "20s", "--max-requests", "4",
                             env={"ANTHROPIC_API_KEY": "sk-ant-right"})  # fmt: skip
        stats = mock_stats(mock.url)
    assert refused.returncode == 2, refused.stderr
    assert "the target refused the API key: HTTP 401 authentication_error: invalid x-api-key" in refused.stderr
    assert good_key["failures"] == 0
    assert stats["by_status"] == {"401": CHECK, "200": 4 + CHECK}
    fx = tmp_path / "unknown.jsonl"
    known = write_fixture(tmp_path / "g.jsonl", count=2).read_text()
    fx.write_text(known.replace("claude-sonnet-4-5", "claude-nope-1"))
    with mock_server("--ttft", "0.02", "--tps", "2000", "--output-tokens", "5") as mock:
        _, s = replay(mock.url, fx, tmp_path / "c", "-u", "1", "-r", "1", "-t", "20s", "--max-requests", "3")
    assert s["errors"] == {"not_found": 3}


def test_count_tokens_calls_are_replayed_and_checked(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=2, stream=True)
    lines = fx.read_text().splitlines()
    counting = json.loads(lines[1])
    counting["request"]["path"] = "/v1/messages/count_tokens"
    fx.write_text("\n".join([*lines, json.dumps(counting)]) + "\n")
    with mock_server(*FAST) as mock:
        _, s = replay(mock.url, fx, tmp_path / "r", "-u", "2", "-r", "2", "-t", "20s", "--max-requests", "12",
                      "--think-time", "0")  # fmt: skip
        stats = mock_stats(mock.url)
    counted = s["scenarios"]["unit:count_tokens"]
    assert s["failures"] == 0 and counted["requests"] > 0 and counted["ttft_s"]["n"] == 0
    assert stats["by_endpoint"].get("/v1/messages/count_tokens") == counted["requests"]
