"""Round trip, all real processes: SDK → `mockclaude record` → `mockclaude serve` with distinctive timing
and 529s; then `mockclaude serve --fixtures` (default flags) replayed by `mockclaude replay`, and the
real (un-anonymized) requests sent again with the SDK.
"""

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anthropic
import pytest

from mockclaude.fixtures.format import iter_exchanges
from mockclaude.processes import mock_server, run_process
from mockclaude.wire.messages import message_from_events
from replay.summary import percentile

pytestmark = pytest.mark.timeout(150)
MODEL = "claude-sonnet-4-5"
REQUESTS = 48
# Upstream: TTFT 0.8 s, 25 tok/s, 5% 529s; with seed 1, 3 of the 48 requests get a 529.
UPSTREAM = ("--ttft", "0.8", "--tps", "25", "--fault", "529:0.05", "--seed", "1", "--output-tokens", "15-40")
READY = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
FILLER = "The quarterly report covers revenue, churn and the hiring plan for the next two quarters. "


def prompt(i: int) -> str:
    """Distinct prompts of varied size; every third one carries PII the recorder pseudonymizes."""
    text = f"Request {i}. " + FILLER * (1 + (i * 7) % 40)
    if i % 3 == 0:
        text = f"Dear Anna Kowalski, my email is anna.kowalski{i}@megacorp-internal.com. " + text
    return text


def send(client: anthropic.Anthropic, i: int) -> tuple[int, str | None, dict[str, Any] | None]:
    """One streamed request: (status, text, usage)."""
    try:
        with client.messages.stream(
            model=MODEL, max_tokens=200, messages=[{"role": "user", "content": prompt(i)}]
        ) as stream:
            msg = stream.get_final_message()
    except anthropic.APIStatusError as exc:
        return exc.status_code, None, None
    text = "".join(b.text for b in msg.content if b.type == "text")
    return 200, text, {"output_tokens": msg.usage.output_tokens, "stop_reason": msg.stop_reason}


def drive(url: str) -> list[tuple[int, str | None, dict[str, Any] | None]]:
    """The whole session, 12 at a time, no retries (each 529 is recorded once, as it happened)."""
    client = anthropic.Anthropic(base_url=url, api_key="sk-ant-roundtrip", max_retries=0, timeout=30)
    with ThreadPoolExecutor(12) as pool:
        return list(pool.map(lambda i: send(client, i), range(REQUESTS)))


def recorded_figures(fixture: Path) -> dict[str, Any]:
    """TTFT and TPOT per successful streamed exchange, and the 529 share, as the fixture says."""
    ttft, tpot, statuses = [], [], []
    for ex in iter_exchanges(fixture):
        statuses.append(ex["response"]["status"])
        t = ex["timing"]
        if ex["response"]["status"] == 200:
            n = ex["usage"]["output_tokens"]
            ttft.append(t["ttft_ms"] / 1000)
            tpot.append((t["total_ms"] - t["ttft_ms"]) / 1000 / (n - 1))
    return {"ttft": sorted(ttft), "tpot": sorted(tpot), "n": len(statuses), "529": statuses.count(529)}


def replayed_figures(records: Path) -> dict[str, Any]:
    """The same figures from the replay's own per-request records."""
    ttft, tpot, statuses = [], [], []
    for line in records.read_text().splitlines():
        r = json.loads(line)
        statuses.append(r["status"])
        if r["status"] == 200 and r["error_class"] == "ok":
            ttft.append(r["ttft_s"])
            tpot.append((r["e2e_s"] - r["ttft_s"]) / (r["output_tokens"] - 1))
    return {"ttft": sorted(ttft), "tpot": sorted(tpot), "n": len(statuses), "529": statuses.count(529)}


def test_record_serve_replay_keeps_timing_faults_and_content(tmp_path: Path) -> None:
    fixture = tmp_path / "prod.jsonl"
    with mock_server(*UPSTREAM) as upstream:
        argv = [sys.executable, "-m", "mockclaude", "record", "--upstream", upstream.url, "--port", "0",
                "--out", str(fixture)]  # fmt: skip
        with run_process(argv, ready=READY, timeout=60) as proxy:
            live = drive(proxy.url)
    rec = recorded_figures(fixture)
    assert rec["n"] == REQUESTS and rec["529"] == 3, rec
    assert (tmp_path / "prod.jsonl.key").exists()  # the recorder's session key, found beside the fixture

    with mock_server("--fixtures", str(fixture)) as served:
        report = tmp_path / "report"
        argv = [sys.executable, "-m", "mockclaude", "replay", str(fixture), "--host", served.url, "--headless",
                "--only-summary", "-u", "24", "-r", "50", "-t", "60s", "--speed", "1", "--max-requests",
                str(REQUESTS), "--report", str(report)]  # fmt: skip
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=90)
        assert proc.returncode in (0, 1), proc.stdout + proc.stderr
        again = drive(served.url)  # the app's real text, matched through the session key

    rep = replayed_figures(report / "records.jsonl")
    assert rep["n"] == REQUESTS
    for metric in ("ttft", "tpot"):
        for p in (50, 90):
            want, got = percentile(rec[metric], p), percentile(rep[metric], p)
            assert got == pytest.approx(want, rel=0.10), f"{metric} p{p}: recorded {want:.4f}, replayed {got:.4f}"
    assert abs(rep["529"] / rep["n"] - rec["529"] / rec["n"]) <= 0.03, (rec["529"], rep["529"])

    # Matched requests get exactly the recorded content (the fixture's anonymized text).
    by_prompt = {}
    for ex in iter_exchanges(fixture):
        body = ex["request"]["body"]
        content = message_from_events(ex["response"]["events"]) if ex["response"]["events"] else None
        by_prompt[body["messages"][0]["content"]] = (ex["response"]["status"], content)
    assert [status for status, _, _ in again] == [status for status, _, _ in live]
    pseudonymized = 0
    for i, (status, text, usage) in enumerate(again):
        recorded = next(v for k, v in by_prompt.items() if k.startswith(f"Request {i}.") or f" Request {i}." in k)
        assert status == recorded[0]
        if status == 200:
            assert recorded[1] is not None and usage is not None
            assert text == "".join(b.get("text", "") for b in recorded[1]["content"])
            assert usage["output_tokens"] == recorded[1]["usage"]["output_tokens"]
            assert usage["stop_reason"] == recorded[1]["stop_reason"]
        pseudonymized += i % 3 == 0 and "anna.kowalski" not in next(k for k in by_prompt if f"Request {i}." in k)
    assert pseudonymized == REQUESTS // 3  # those only matched through the session key
