"""Latency profiles: fitting (`mockclaude.fixtures.profile_fit`), `mockclaude fixtures fit`, `serve --profile`."""

import json
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anthropic
import pytest

from mockclaude.fixtures import profile_fit
from mockclaude.fixtures.profile_fit import ProfileError, Quantiles
from mockclaude.processes import mock_server
from mockclaude.synth.content import token_pieces
from replay.summary import percentile
from tests.test_recorded_server import client, streamed
from tests.test_recorded_units import body, error_exchange, stream_exchange, write

pytestmark = pytest.mark.timeout(90)
SECRET_PROMPT = "Zanzibar-7731 quarterly figures"
SECRET_ANSWER = "Okapi-4412 answer text"
ANSWER = f"{SECRET_ANSWER} one two three four five"
OUTPUT_TOKENS = len(token_pieces(ANSWER))


def timed(i: int, input_tokens: int, ttft_ms: float, gap_ms: float = 40.0) -> dict[str, Any]:
    """A streamed exchange with a given prompt size and TTFT (OUTPUT_TOKENS output tokens)."""
    ex = stream_exchange(body(f"{SECRET_PROMPT} {i}"), ANSWER,
                         ttft_ms=ttft_ms, gap_ms=gap_ms, seq=i)  # fmt: skip
    ex["usage"]["input_tokens"] = round(input_tokens * 1.1)  # the API's own count differs a little
    ex["estimates"]["input_tokens"] = input_tokens  # the tiktoken count, the server's scale
    return ex


def fixture(tmp_path: Path) -> Path:
    """TTFT = 300 ms + 0.2 ms per input token, with ±5% scatter; 25 tok/s; 2 of 42 exchanges are 529s."""
    rng = random.Random(4)
    exs = []
    for i in range(40):
        n_in = rng.randint(100, 8000)
        exs.append(timed(i, n_in, (300 + 0.2 * n_in) * rng.uniform(0.95, 1.05)))
    exs += [error_exchange(body(f"busy {i}"), 529, "Overloaded", seq=40 + i) for i in range(2)]
    return write(tmp_path / "prod.jsonl", exs)


def test_fit_recovers_ttft_line_rate_and_faults(tmp_path: Path) -> None:
    prof = profile_fit.fit([str(fixture(tmp_path))])
    m = prof.for_model("claude-sonnet-4-5")
    assert m is prof.models["claude-sonnet-4-5"] and m.requests == 42
    assert m.ttft is not None
    assert m.ttft.intercept_s == pytest.approx(0.3, rel=0.15)
    assert m.ttft.slope_s_per_token == pytest.approx(0.0002, rel=0.1)
    assert m.ttft.r2 is not None and m.ttft.r2 > 0.95 and m.ttft.median_ape < 0.05
    assert m.tps is not None and m.tps.at(0.5) == pytest.approx(25.0, rel=0.01)  # 40 ms per token
    assert m.faults == {"529": pytest.approx(2 / 42, abs=1e-5)}
    assert m.output_tokens is not None and m.output_tokens.at(0.5) == OUTPUT_TOKENS
    assert prof.for_model("claude-unknown") is prof.models[profile_fit.POOLED]
    rng = random.Random(1)
    draws = sorted(m.ttft.draw(4000, rng) for _ in range(400))
    assert draws[200] == pytest.approx(0.3 + 0.2 * 4000 / 1000, rel=0.05)


def test_profile_round_trips_and_holds_no_text(tmp_path: Path) -> None:
    prof = profile_fit.fit([str(fixture(tmp_path))])
    out = tmp_path / "profile.json"
    prof.save(out)
    text = out.read_text()
    assert SECRET_PROMPT.split()[0] not in text and SECRET_ANSWER.split()[0] not in text
    assert profile_fit.load(out).to_json() == json.loads(text)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not JSON"),
        ('{"format": "something-else"}', "not a latency profile"),
        ('{"format": "mockclaude-latency-profile", "version": 1, "models": {}}', 'pooled "*"'),
        ('{"format": "mockclaude-latency-profile", "version": 1, "models": {"*": {"tps": {"q": [3, 1]}}}}',
         r"models\.\*\.tps: quantiles must not decrease"),
    ],
)  # fmt: skip
def test_bad_profile_files_are_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(ProfileError, match=message) as err:
        profile_fit.load(path)
    assert str(path) in str(err.value)


def test_quantile_tables_sample_what_they_summarize() -> None:
    rng = random.Random(2)
    values = [rng.lognormvariate(3, 0.6) for _ in range(2000)]
    table = Quantiles.of(values)
    assert table is not None and table.ks(values) < 0.03
    draws = [table.sample(rng) for _ in range(2000)]
    assert table.ks(draws) < 0.05
    ties = [1.0] * 50 + [2.0] * 30 + [3.0] * 20
    discrete = Quantiles.of(ties)
    assert discrete is not None and discrete.ks(ties) < 0.06
    assert Quantiles.of([]) is None


def test_fixtures_fit_cli_prints_goodness_of_fit_and_writes_the_profile(tmp_path: Path) -> None:
    fx = fixture(tmp_path)
    out = tmp_path / "p.json"
    proc = subprocess.run([sys.executable, "-m", "mockclaude", "fixtures", "fit", str(fx), "-o", str(out)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "TTFT = " in proc.stdout and "R²=" in proc.stdout and "KS" in proc.stdout and "529 4.8%" in proc.stdout
    assert profile_fit.load(out).models["claude-sonnet-4-5"].requests == 42
    bad = tmp_path / "bad.jsonl"
    bad.write_text(fx.read_text() + "{oops\n")
    proc = subprocess.run([sys.executable, "-m", "mockclaude", "fixtures", "fit", str(bad)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 1 and f"{bad}:44:" in proc.stderr


def test_serve_profile_answers_like_the_recording_without_its_prompts(tmp_path: Path) -> None:
    exs = [timed(i, 50, 700.0) for i in range(10)]
    out = tmp_path / "p.json"
    profile_fit.fit([str(write(tmp_path / "f.jsonl", exs))]).save(out)
    with mock_server("--profile", str(out), "--seed", "2") as srv:
        c = client(srv.url)
        ttft, msg = streamed(c, "any prompt at all")
        assert msg.usage.output_tokens == OUTPUT_TOKENS
        assert 0.65 <= ttft <= 1.0  # the profile says 0.7 s; the model profile gives ~1.8 s
        with pytest.raises(anthropic.APIStatusError):  # no --faults-from-fixtures: only explicit faults
            c.messages.create(**body("x"), extra_headers={"x-mockclaude-fault": "529"})


def test_think_time_is_the_gap_between_turns_of_a_conversation(tmp_path: Path) -> None:
    exs = []
    for conv, start in (("c1", 0.0), ("c2", 0.5)):
        for turn in (1, 2, 3):
            ex = timed(len(exs), 100, 200.0, gap_ms=10.0)  # each response ends ~0.3 s after its request
            ex["conversation"] = {"id": conv, "turn": turn}
            ex["started_s"] = start + (turn - 1) * 2.3  # so the user thinks ~2 s between turns
            exs.append(ex)
    think = profile_fit.fit([str(write(tmp_path / "f.jsonl", exs))]).models[profile_fit.POOLED].think_time_s
    assert think is not None and think.n == 4
    total_s = exs[0]["timing"]["total_ms"] / 1000
    assert think.at(0.0) == pytest.approx(2.3 - total_s) and think.at(1.0) == pytest.approx(2.3 - total_s)


def test_unmatched_answers_reproduce_the_recorded_ttft_and_pace(tmp_path: Path) -> None:
    rng = random.Random(9)
    exs = [timed(i, 80, rng.uniform(200, 600), gap_ms=rng.uniform(20, 60)) for i in range(60)]
    fx = write(tmp_path / "f.jsonl", exs)
    want_ttft = sorted(e["timing"]["ttft_ms"] / 1000 for e in exs)
    want_tpot = sorted((e["timing"]["total_ms"] - e["timing"]["ttft_ms"]) / 1000 / (OUTPUT_TOKENS - 1) for e in exs)
    with mock_server("--fixtures", str(fx), "--seed", "4") as srv:
        c = client(srv.url)

        def one(i: int) -> tuple[float, float]:
            t0 = time.perf_counter()
            ttft, msg = streamed(c, f"never recorded {i}")
            return ttft, (time.perf_counter() - t0 - ttft) / (msg.usage.output_tokens - 1)

        # Few client threads: more would delay the SDK's own parsing and inflate the measured TTFT.
        with ThreadPoolExecutor(4) as pool:
            got = list(pool.map(one, range(80)))
    got_ttft, got_tpot = sorted(t for t, _ in got), sorted(p for _, p in got)
    assert percentile(got_ttft, 50) == pytest.approx(percentile(want_ttft, 50), rel=0.15)
    assert percentile(got_tpot, 50) == pytest.approx(percentile(want_tpot, 50), rel=0.15)
    assert got_ttft[0] >= 0.19  # no TTFT shorter than the shortest recorded (0.2 s)
