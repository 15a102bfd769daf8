"""SLO gates and rate sweeps: real `mockclaude replay` (real Locust) against a real `mockclaude serve`."""

import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anthropic
import pytest

from mockclaude.processes import mock_server
from mockclaude.targets import API_KEY_ENV, MOCK_KEY
from tests.test_replay_units import write_fixture

pytestmark = pytest.mark.timeout(240)
FAST = ("--ttft", "0.02", "--tps", "2000", "--output-tokens", "5", "--any-model", "--seed", "1")


def replay(url: str, fixture: Path, *args: str, timeout: float = 200) -> subprocess.CompletedProcess[str]:
    """Run `mockclaude replay` headless and return its exit code and output."""
    argv = [sys.executable, "-m", "mockclaude", "replay", str(fixture), "--host", url, "--headless",
            "--only-summary", *args]  # fmt: skip
    env = {**os.environ, API_KEY_ENV: MOCK_KEY}
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                          env=env) as p:  # fmt: skip
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            raise
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


def test_slo_gate_exits_0_when_it_holds_and_1_with_the_table_when_it_breaks(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=4, stream=True)
    common = ("-u", "2", "-r", "2", "-t", "60s", "--max-requests", "8", "--think-time", "0")
    with mock_server(*FAST) as mock:
        held = replay(mock.url, fx, *common, "--report", str(tmp_path / "ok"),
                      "--slo", "ttft_p95<5s,e2e_p99<10s,error_rate<1%,rate_limited<5%")  # fmt: skip
        broke = replay(mock.url, fx, *common, "--slo", "ttft_p50<1ms,error_rate<1%")
    assert held.returncode == 0, held.stdout + held.stderr
    assert "SLO: all objectives hold" in held.stdout and "FAIL" not in held.stdout
    rows = json.loads((tmp_path / "ok" / "slo.json").read_text())
    assert [r["pass"] for r in rows] == [True] * 4 and 0 < rows[0]["measured"] < 5
    assert broke.returncode == 1, broke.stdout + broke.stderr
    table = broke.stdout[broke.stdout.index("objective") :]
    assert "ttft_p50<1ms" in table and "FAIL" in table and "PASS" in table and "1 objective(s) broken" in table


def test_a_bad_slo_is_refused_before_any_load(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=2, stream=True)
    # Nothing listens on port 9: a run that started would fail differently; the SLO is checked first.
    bad = replay("http://127.0.0.1:9", fx, "--slo", "ttft_p95<2", timeout=60)
    assert bad.returncode == 2 and "--slo objective 'ttft_p95<2'" in bad.stderr and "unit" in bad.stderr


def _drain(url: str) -> int:
    """Empty the RPM bucket of the replay's key: requests until the first 429 (bounded); how many passed."""
    client = anthropic.Anthropic(base_url=url, api_key=MOCK_KEY, max_retries=0)

    def one(_: int) -> int:
        try:
            client.messages.create(model="claude-sonnet-4-5", max_tokens=1, messages=[{"role": "user", "content": "x"}])
            return 1
        except anthropic.RateLimitError:
            return 0

    with ThreadPoolExecutor(8) as pool:
        admitted = sum(pool.map(one, range(200)))
    assert admitted < 200, "the bucket never ran dry"
    return admitted


def test_sweep_over_a_rate_limited_mock_finds_the_knee_within_one_step(tmp_path: Path) -> None:
    """180 rpm = 3 requests/s once the burst allowance is spent: 2/s meets the SLO, 6/s cannot."""
    fx = write_fixture(tmp_path / "f.jsonl", count=4, stream=True)
    with mock_server(*FAST, "--rate-limit", "180rpm") as mock:
        admitted = _drain(mock.url)
        result = replay(mock.url, fx, "--sweep-rates", "2,6,12", "--sweep-step", "6s", "--warmup", "1s", "-u", "8",
                        "--report", str(tmp_path / "sweep"), "--slo", "rate_limited<5%,ttft_p95<2s")  # fmt: skip
    out = result.stdout + result.stderr
    assert 170 <= admitted <= 195, admitted  # the 180-request burst, plus what refilled while draining
    assert result.returncode == 0, out
    print(result.stdout[result.stdout.rindex("step ") :])  # the table, for `pytest -s`
    sweep = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    rows = {r["step"]: r for r in sweep["rows"]}
    assert list(rows) == ["2/s", "6/s", "12/s"]
    assert sweep["knee_rps"] == 2, out
    assert rows["2/s"]["slo_pass"] and rows["2/s"]["rate_limited"] == 0
    assert not rows["6/s"]["slo_pass"] and rows["6/s"]["rate_limited"] > 0.05 * rows["6/s"]["requests"]
    assert 0.8 < rows["2/s"]["achieved_rps"] < 3.6  # ~10 Poisson arrivals in the 5 s window: honest slack
    assert rows["12/s"]["achieved_rps"] < 4.5  # successes capped near the 3/s refill
    assert "knee: 2 requests/s" in result.stdout and "12/s" in result.stdout
    assert len(list((tmp_path / "sweep").glob("step-*/records.jsonl"))) == 3
    page = (tmp_path / "sweep" / "report.html").read_text()
    assert "Knee: 2 requests/s" in page and "Latency vs offered rate" in page and "Achieved vs offered rate" in page


def report_compare(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `mockclaude report compare`."""
    argv = [sys.executable, "-m", "mockclaude", "report", "compare", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_compare_flags_a_slower_mock_and_not_a_rerun_of_the_same_one(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=4, stream=True)
    load = ("-u", "4", "-r", "4", "-t", "60s", "--max-requests", "40", "--think-time", "0")
    timing = ("--tps", "2000", "--output-tokens", "5", "--any-model", "--seed", "1")
    with mock_server("--ttft", "0.1", *timing) as mock:
        for name in ("base", "again"):
            assert replay(mock.url, fx, *load, "--report", str(tmp_path / name)).returncode == 0
    with mock_server("--ttft", "0.2", *timing) as slower:
        assert replay(slower.url, fx, *load, "--report", str(tmp_path / "slow")).returncode == 0
    same = report_compare(str(tmp_path / "base"), str(tmp_path / "again"))
    worse = report_compare(str(tmp_path / "base"), str(tmp_path / "slow"), "--json")
    assert same.returncode == 0 and "compare: no regression" in same.stdout, same.stdout + same.stderr
    assert worse.returncode == 1, worse.stdout + worse.stderr
    rows = {(r["scenario"], r["metric"]): r for r in json.loads(worse.stdout)}
    ttft = rows["ALL", "ttft_s"]
    assert ttft["regression"] and ttft["n_base"] == ttft["n_new"] == 40 and 0.6 < ttft["change"] < 1.4
    assert not rows["ALL", "error_rate"]["regression"]
    missing = report_compare(str(tmp_path / "base"), str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "nowhere/records.jsonl: no such file" in missing.stderr
