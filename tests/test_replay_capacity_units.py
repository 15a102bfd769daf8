"""SLO grammar and evaluation, the sweep's arithmetic and run comparison, on records (no network)."""

import random

import pytest

from replay import compare, slo, sweep
from replay.capacity import take_option
from replay.options import OptionError
from replay.quantities import parse_duration, parse_percent
from replay.records import RequestRecord
from replay.summary import summarize


def _rec(t: float, ttft: float, *, status: int = 200, error: str = "ok") -> RequestRecord:
    deltas = [ttft + 0.01 * i for i in range(5)] if error == "ok" else []
    return RequestRecord(
        "s", stream=True, send_wall=t, status=status, error_class=error, ttft_s=ttft if deltas else None,
        e2e_s=(deltas[-1] if deltas else 0.01), delta_s=deltas, output_tokens=5 if deltas else None,
    )  # fmt: skip


def test_slo_parses_the_documented_example() -> None:
    objs = slo.parse("ttft_p95<2s, itl_p99<150ms,error_rate<1%,rate_limited <= 5%, output_tps>=10")
    assert [(o.metric, o.op, o.threshold) for o in objs] == [
        ("ttft_p95", "<", 2.0), ("itl_p99", "<", 0.15), ("error_rate", "<", 0.01), ("rate_limited", "<=", 0.05),
        ("output_tps", ">=", 10.0),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("", "empty objective"),
        ("ttft_p95<2s,", "empty objective"),
        ("ttft_p95<2", "needs a unit"),
        ("ttft_p42<2s", "unknown metric"),
        ("latency<2s", "unknown metric"),
        ("error_rate<0.01", "percentage"),
        ("ttft_p95=2s", "expected comma-separated"),
        ("ttft_p95<2s,ttft_p95<3s", "appears twice"),
        ("output_tps>5ms", "takes no unit"),
    ],
)
def test_slo_errors_name_the_bad_part(spec: str, says: str) -> None:
    with pytest.raises(slo.SloError, match=says):
        slo.parse(spec)


def test_slo_evaluation_separates_429s_from_errors_and_fails_on_no_data() -> None:
    records = [_rec(i, 0.1 * (i + 1)) for i in range(18)] + [
        _rec(20, 0, status=429, error="rate_limited"),
        _rec(21, 0, status=500, error="server_error"),
    ]
    s = summarize(records)
    rows = slo.evaluate(slo.parse("ttft_p50<1s,ttft_max<1s,rate_limited<=5%,error_rate<5%,tpot_p99<1s"), s)
    assert [r["pass"] for r in rows] == [True, False, True, False, True]
    assert rows[2]["shown"] == "5.00%" and rows[3]["measured"] == pytest.approx(0.05)
    empty = slo.evaluate(slo.parse("ttft_p95<2s,error_rate<1%"), summarize([]))
    assert [r["pass"] for r in empty] == [False, False] and empty[0]["shown"] == "no data"
    table = slo.format_table(rows)
    assert "ttft_max<1s" in table and "FAIL" in table and "2 objective(s) broken" in table


def test_sweep_options_and_rates() -> None:
    assert parse_duration("30s", "--sweep-step") == 30 and parse_duration("2m", "x") == 120
    assert parse_duration("500ms", "x") == 0.5 and parse_duration("4", "x") == 4
    with pytest.raises(OptionError, match="--warmup must be a positive duration"):
        parse_duration("soon", "--warmup")
    assert parse_percent("10%", "x") == pytest.approx(0.1) and parse_percent("0.2", "x") == 0.2
    with pytest.raises(OptionError, match="--threshold must be a percentage"):
        parse_percent("lots", "--threshold")
    assert sweep.parse_rates("8,1,2,2") == (1, 2, 8)
    with pytest.raises(sweep.SweepError, match="--sweep-rates"):
        sweep.parse_rates("1,x")
    assert [s.rate for s in sweep.spread(1.0, 5.0, 3)] == [2.0, 3.0, 4.0]


def test_sweep_drops_the_warmup_and_picks_the_highest_rate_meeting_the_slo() -> None:
    recs = [_rec(100 + i * 0.5, 0.1) for i in range(10)]
    assert [r.send_wall for r in sweep.measured(recs, 2.0, 4.0)] == [102.0, 102.5, 103.0, 103.5]
    objs = slo.parse("ttft_p95<200ms")
    fast, slow = [_rec(i, 0.1) for i in range(5)], [_rec(i, 0.5) for i in range(5)]
    rows = [sweep.row(sweep.Step(sweep.SYNCHRONOUS), fast, objs, 5.0)]
    rows += [sweep.row(sweep.Step(sweep.RATE, r), recs_, objs, 5.0) for r, recs_ in ((1, fast), (2, fast), (4, slow))]
    assert sweep.knee(rows) == 2
    assert rows[1]["achieved_rps"] == 1.0  # 5 successes in a 5 s window
    table = sweep.format_table(rows, 2, True)
    assert "knee: 2 requests/s" in table and "FAIL" in table and "synchronous" in table


def test_compare_flags_a_slower_run_and_not_a_like_one_and_notes_small_samples() -> None:
    rng = random.Random(7)
    base = [_rec(i, rng.uniform(0.09, 0.11)) for i in range(40)]
    again = [_rec(i, rng.uniform(0.09, 0.11)) for i in range(40)]
    slow = [_rec(i, rng.uniform(0.18, 0.22)) for i in range(40)]
    th = compare.Thresholds()
    same = compare.compare(base, again, th)
    assert not any(r["regression"] for r in same) and "compare: no regression" in compare.format_table(same, th)
    worse = {(r["scenario"], r["metric"]): r for r in compare.compare(base, slow, th)}
    assert worse["ALL", "ttft_s"]["regression"] and worse["ALL", "ttft_s"]["change"] == pytest.approx(1.0, abs=0.1)
    assert worse["ALL", "ttft_s"]["p_value"] < 1e-6 and not worse["ALL", "error_rate"]["regression"]
    failing = [*again[:30], *(_rec(i, 0, status=500, error="server_error") for i in range(10))]
    rows = {r["metric"]: r for r in compare.compare(base, failing, th) if r["scenario"] == "ALL"}
    assert rows["error_rate"]["regression"] and rows["error_rate"]["change"] == pytest.approx(0.25)
    few = compare.compare(base[:5], slow[:5], th)
    assert not any(r["regression"] for r in few) and "too few samples" in compare.format_table(few, th)


def test_a_sweep_takes_the_users_and_step_options_out_of_locusts_command_line() -> None:
    assert take_option(["--headless", "-u", "40", "-t", "5m"], ("-u", "--users")) == ("40", ["--headless", "-t", "5m"])
    assert take_option(["-u40", "--users=50", "--csv", "x"], ("-u", "--users")) == ("50", ["--csv", "x"])
    assert take_option(["-t20s", "--stop-timeout", "9", "-T", "a"], ("-t", "--stop-timeout")) == ("9", ["-T", "a"])
