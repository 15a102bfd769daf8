"""`mockclaude fixtures stats|validate|scan` on files written with the real FixtureWriter."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mockclaude.fixtures.format import FixtureWriter, make_header
from mockclaude.privacy.anonymize import Anonymizer
from mockclaude.privacy.pseudonyms import Pseudonymizer


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `mockclaude ARGS...` and capture its output."""
    return subprocess.run([sys.executable, "-m", "mockclaude", *args], capture_output=True, text=True)


def exchange(
    seq: int,
    *,
    started: float,
    ttft: float | None,
    total: float,
    out_tokens: int,
    stream: bool = True,
    status: int = 200,
    text: str = "Hello",
    model: str = "claude-a",
    conv: str = "c1",
    turn: int = 1,
) -> dict[str, Any]:
    """One exchange shaped like the recorder writes it."""
    events = None
    body = None
    if stream:
        events = [
            {"t_ms": 1.0, "event": "message_start", "data": {"type": "message_start"}},
            {"t_ms": ttft, "event": "content_block_delta",
             "data": {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}},
            {"t_ms": total, "event": "message_stop", "data": {"type": "message_stop"}},
        ]  # fmt: skip
    else:
        body = {"type": "message", "content": [{"type": "text", "text": text}]}
    return {
        "type": "exchange",
        "seq": seq,
        "started_s": started,
        "conversation": {"id": conv, "turn": turn},
        "request": {"method": "POST", "path": "/v1/messages", "headers": {}, "body": {"model": model, "messages": []}},
        "response": {"status": status, "headers": {}, "body": body, "events": events, "error": None},
        "timing": {"ttfb_ms": 1.0, "ttft_ms": ttft, "total_ms": total},
        "usage": {"input_tokens": 100 + seq, "output_tokens": out_tokens},
        "estimates": {"input_tokens": 90, "output_tokens": out_tokens},
    }


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """Four exchanges: three streamed (TTFT 100/200/300 ms), one non-streamed, one 429."""
    path = tmp_path / "s.jsonl"
    with FixtureWriter(path, make_header("synthetic", anonymization="pii")) as w:
        w.write(exchange(0, started=0.0, ttft=100.0, total=1100.0, out_tokens=51))
        w.write(exchange(1, started=1.0, ttft=200.0, total=2200.0, out_tokens=101, turn=2))
        w.write(exchange(2, started=2.0, ttft=300.0, total=1300.0, out_tokens=11, model="claude-b", conv="c2"))
        w.write(exchange(3, started=3.0, ttft=None, total=50.0, out_tokens=5, stream=False))
        w.write(exchange(4, started=4.0, ttft=None, total=5.0, out_tokens=0, stream=False, status=429))
    return path


def test_stats_json(sample: Path) -> None:
    run = cli("fixtures", "stats", "--json", str(sample))
    assert run.returncode == 0, run.stderr
    stats = json.loads(run.stdout)
    assert stats["exchanges"] == 5
    assert stats["stream_share"] == 0.6
    assert stats["models"] == {"claude-a": 4, "claude-b": 1}
    assert stats["status_codes"] == {"200": 4, "429": 1}
    assert stats["ttft_ms"] == {"count": 3, "mean": 200.0, "min": 100.0, "p50": 200.0, "p90": 300.0, "p99": 300.0,
                                "max": 300.0}  # fmt: skip
    # (N - 1) / (E2E - TTFT): 50 tokens in 1 s, 100 in 2 s, 10 in 1 s
    assert stats["output_tokens_per_s"]["p50"] == 50.0 and stats["output_tokens_per_s"]["min"] == 10.0
    assert stats["output_tokens"]["count"] == 4  # the 429 has no output
    assert stats["turns_per_conversation"]["max"] == 2 and stats["turns_per_conversation"]["count"] == 2
    assert stats["arrival_rate_per_s"] == 1.0


def test_stats_table(sample: Path) -> None:
    run = cli("fixtures", "stats", str(sample))
    assert run.returncode == 0
    assert "stream share: 60.0%" in run.stdout
    row = next(line for line in run.stdout.splitlines() if line.startswith("ttft_ms"))
    assert row.split()[1:5] == ["3", "200", "100", "200"]


def test_validate_reports_every_problem_with_line_numbers(sample: Path) -> None:
    assert cli("fixtures", "validate", str(sample)).returncode == 0
    lines = sample.read_text().splitlines(keepends=True)
    broken = json.loads(lines[2])
    broken["started_s"] = -1
    lines[2] = json.dumps(broken) + "\n"
    lines.insert(4, "{not json\n")
    sample.write_text("".join(lines) + '{"type": "exchange", "seq": 9, "star')  # torn last line
    run = cli("fixtures", "validate", str(sample))
    assert run.returncode == 1
    out = run.stdout.splitlines()
    assert any(line.startswith(f"{sample}:3:") and "started_s" in line for line in out)
    assert any(line.startswith(f"{sample}:5:") and "invalid JSON" in line for line in out)
    assert any(line.startswith(f"{sample}:8:") and "torn last line" in line for line in out)
    # stats still reads the good lines and reports the skipped ones
    stats = cli("fixtures", "stats", "--json", str(sample))
    assert stats.returncode == 0 and json.loads(stats.stdout)["exchanges"] == 4
    assert "torn last line" in stats.stderr


def test_validate_rejects_non_fixtures(tmp_path: Path) -> None:
    bad = tmp_path / "x.jsonl"
    bad.write_text('{"hello": 1}\n')
    run = cli("fixtures", "validate", str(bad), str(tmp_path / "missing.jsonl"))
    assert run.returncode == 1
    assert f"{bad}:1: not a mockclaude fixture" in run.stdout and "missing.jsonl" in run.stdout


def test_scan_finds_leftovers_and_passes_pseudonyms(tmp_path: Path) -> None:
    clean = tmp_path / "clean.jsonl"
    real = "mail kim@realcorp.com, call +1 415-555-0199, see https://wiki.realcorp.com/a from 10.0.0.7, 127.0.0.1"
    anonymized = Anonymizer("pii", Pseudonymizer(bytes(32))).text(real)
    assert "realcorp" not in anonymized and "555-0199" not in anonymized
    with FixtureWriter(clean, make_header("recorded", anonymization="pii")) as w:
        w.write(exchange(0, started=0.0, ttft=1.0, total=2.0, out_tokens=2, text=anonymized))
    run = cli("fixtures", "scan", str(clean))
    assert run.returncode == 0, run.stdout

    dirty = tmp_path / "dirty.jsonl"
    with FixtureWriter(dirty, make_header("recorded", anonymization="off")) as w:
        leak = exchange(0, started=0.0, ttft=1.0, total=2.0, out_tokens=2, text="my key sk-ant-api03-abcdefghijkl1234")
        leak["request"]["headers"] = {"x-api-key": "whatever"}
        w.write(leak)
        split = exchange(1, started=1.0, ttft=1.0, total=2.0, out_tokens=2, text="write to jo")
        split["response"]["events"].insert(2, {**split["response"]["events"][1]})
        rest = {"type": "text_delta", "text": "hn@realcorp.com"}
        split["response"]["events"][2]["data"] = {"type": "content_block_delta", "index": 0, "delta": rest}
        w.write(split)
        w.write(exchange(2, started=2.0, ttft=1.0, total=2.0, out_tokens=2, text="card 4111-1111-1111-1111"))
    run = cli("fixtures", "scan", str(dirty))
    assert run.returncode == 1
    assert f"{dirty}:2: request header 'x-api-key'" in run.stdout
    assert f"{dirty}:2: anthropic-key" in run.stdout
    assert f"{dirty}:3: email 'john" in run.stdout and "joined text" in run.stdout
    assert f"{dirty}:4: card" in run.stdout
    assert "abcdefghijkl1234" not in run.stdout and "hn@realcorp.com" not in run.stdout


def test_validate_names_one_line_number(sample: Path) -> None:
    lines = sample.read_text().splitlines(keepends=True)
    lines.insert(4, '{"type": "exchange",\n')  # a line cut short: the JSON error is on "its line 2"
    sample.write_text("".join(lines))
    run = cli("fixtures", "validate", str(sample))
    (problem,) = [line for line in run.stdout.splitlines() if line.startswith(f"{sample}:5:")]
    assert "invalid JSON" in problem and "at character" in problem
    assert "column" not in problem and "line 2" not in problem, problem


def test_scan_does_not_count_an_unreadable_line_as_a_finding(tmp_path: Path) -> None:
    clean = tmp_path / "clean.jsonl"
    with FixtureWriter(clean, make_header("recorded", anonymization="pii")) as w:
        w.write(exchange(0, started=0.0, ttft=1.0, total=2.0, out_tokens=2, text="nothing to see"))
    with clean.open("a") as f:
        f.write("{not json\n")
    run = cli("fixtures", "scan", str(clean))
    assert run.stdout == ""  # no finding
    assert f"{clean}:3: not JSON, not scanned (run validate)" in run.stderr
    assert "scan: 0 finding(s) in 1 file(s): nothing found; 1 line(s) or file(s) could not be scanned" in run.stderr
    assert run.returncode == 1  # the scan cannot vouch for what it could not read
