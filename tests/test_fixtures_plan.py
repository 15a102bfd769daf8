"""`mockclaude fixtures plan`: tier planning on a bundled fixture and on one with prompt caching,
checked against hand computations."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mockclaude.fixtures.format import FixtureWriter, make_header
from mockclaude.fixtures.plan import parse_rate
from mockclaude.limits.tiers import model_class

BUNDLED = Path(__file__).resolve().parent.parent / "mockclaude" / "bundled_fixtures"


def plan(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `mockclaude fixtures plan`."""
    argv = [sys.executable, "-m", "mockclaude", "fixtures", "plan", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_bundled_short_short_at_5rps_matches_a_hand_computation() -> None:
    # By hand from the file: 24 exchanges, all 200; 14 claude-sonnet-4-6, 8 claude-haiku-4-5, 2 claude-opus-4-6.
    lines = [json.loads(x) for x in (BUNDLED / "short_short.jsonl").read_text().splitlines()[1:]]
    sonnet = [x["usage"] for x in lines if x["request"]["body"]["model"] == "claude-sonnet-4-6"]
    assert len(lines) == 24 and len(sonnet) == 14
    rpm = 5 * 60 * 14 / 24  # 175 requests/min
    itpm = rpm * sum(u["input_tokens"] + u["cache_creation_input_tokens"] for u in sonnet) / 14
    otpm = rpm * sum(u["output_tokens"] for u in sonnet) / 14
    out = plan(str(BUNDLED / "short_short.jsonl"), "--rate", "300rpm", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["class"]: r for r in json.loads(out.stdout)["rows"]}
    s = rows["Claude Sonnet 4.x"]
    assert s["requests_per_min"] == pytest.approx(rpm) and s["output_per_min"] == pytest.approx(otpm)
    assert s["uncached_input_per_min"] + s["cache_write_per_min"] == pytest.approx(itpm)
    # Tier 1 allows 50 RPM: 175 does not fit; Tier 2 (1,000 / 450,000 / 90,000) does, OTPM the closest to its limit.
    assert s["tier"] == "Tier 2" and s["binding"] == "OTPM" and s["utilization"] == pytest.approx(otpm / 90_000)
    assert rows["Claude Opus 4.x"]["requests_per_min"] == pytest.approx(25) and rows["Claude Opus 4.x"]["tier"]


def test_cache_reads_are_shown_but_not_counted_against_itpm(tmp_path: Path) -> None:
    fx = tmp_path / "cached.jsonl"
    with FixtureWriter(fx, make_header("synthetic", anonymization="off", note="test")) as w:
        for i in range(2):
            w.write({
                "type": "exchange", "seq": i, "started_s": float(i),
                "request": {"method": "POST", "path": "/v1/messages", "headers": {},
                            "body": {"model": "claude-sonnet-4-5", "max_tokens": 300,
                                     "messages": [{"role": "user", "content": "q"}]}},
                "response": {"status": 200, "headers": {}, "body": None, "events": None},
                "timing": {"total_ms": 1000.0},
                "usage": {"input_tokens": 100, "cache_creation_input_tokens": 1000, "cache_read_input_tokens": 5000,
                          "output_tokens": 200},
            })  # fmt: skip
    out = plan(str(fx), "--rate", "1rps")
    assert out.returncode == 0, out.stderr
    # By hand, at 60 requests/min: ITPM 60 x (100 + 1000) = 66,000 > Tier 1's 30,000; Tier 2: ITPM 14.7% of
    # 450,000, OTPM 12,000 = 13.3% of 90,000, RPM 6%: ITPM binds. The 300,000 cache reads/min do not count.
    row = next(x for x in out.stdout.splitlines() if x.startswith("Claude Sonnet 4.x"))
    assert row.split()[4:9] == ["60.0", "6,000", "60,000", "300,000", "12,000"], row
    assert row.endswith("Tier 2       ITPM at 15%"), row
    users = plan(str(fx), "--users", "3", "--json")  # 3 users, 1 s per request, no think time: 3 requests/s
    assert json.loads(users.stdout)["rate_rps"] == pytest.approx(3.0)


def test_bad_input_is_refused_clearly(tmp_path: Path) -> None:
    bad_rate = plan(str(BUNDLED / "short_short.jsonl"), "--rate", "fast")
    assert bad_rate.returncode == 2 and "--rate must be a positive rate like 5rps" in bad_rate.stderr
    missing = plan(str(tmp_path / "none.jsonl"), "--rate", "1rps")
    assert missing.returncode == 2 and "none.jsonl" in missing.stderr
    assert parse_rate("300rpm") == 5 and parse_rate("2.5") == 2.5
    assert model_class("claude-haiku-4-5") == "Claude Haiku 4.5" and model_class("claude-3-5-haiku-latest") is None
