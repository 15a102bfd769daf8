"""Rate limiter: bucket arithmetic, 429s and headers, with a fake clock (time is what we substitute)."""

import copy
import math
import re
from datetime import UTC, datetime

import anthropic
import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockclaude.limits.ratelimit import NOMINAL, MemoryBucketStore, RateLimited, RateLimiter, RateLimits
from mockclaude.processes import Proc, mock_server
from mockclaude.wire.errors import ApiError

ORG = "36562039-1ae4-48e6-ae28-1e517e3d2d12"
WALL0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC).timestamp()
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
HEADER_NAMES = [
    f"anthropic-ratelimit-{dim}-{what}"
    for dim in ("requests", "input-tokens", "output-tokens", "tokens")
    for what in ("limit", "remaining", "reset")
]


class FakeTime:
    """Monotonic and wall clocks that move only when told."""

    def __init__(self) -> None:
        self.t = 1000.0

    def mono(self) -> float:
        return self.t

    def wall(self) -> float:
        return WALL0 + (self.t - 1000.0)

    def sleep(self, s: float) -> None:
        self.t += s


def limiter(spec: str | None) -> tuple[RateLimiter, FakeTime]:
    ft = FakeTime()
    limits = RateLimits.parse(spec) if spec else None
    return RateLimiter(limits, clock=ft.mono, wall=ft.wall, org_id=ORG), ft


# ---- parsing ----


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("50rpm", RateLimits(rpm=50)),
        ("50rpm,30000itpm,8000otpm", RateLimits(50, 30_000, 8_000)),
        ("50RPM, 30_000 ITPM ,8000otpm", RateLimits(50, 30_000, 8_000)),
        ("30k itpm", RateLimits(itpm=30_000)),
        ("8Kotpm,1rpm", RateLimits(rpm=1, otpm=8_000)),
    ],
)
def test_parse_accepts(spec: str, expected: RateLimits) -> None:
    assert RateLimits.parse(spec) == expected


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("", "empty"),
        ("50", "'50'"),
        ("50rps", "'50rps'"),
        ("50rpm,,8000otpm", "''"),
        ("rpm50", "'rpm50'"),
        ("0rpm", "at least 1"),
        ("50rpm,60rpm", "rpm is given twice"),
        ("3_0_ rpm", "'3_0_ rpm'"),
        ("1.5k rpm", "'1.5k rpm'"),
        ("-5rpm", "'-5rpm'"),
    ],
)
def test_parse_rejects_with_a_clear_message(spec: str, named: str) -> None:
    with pytest.raises(ValueError) as exc:
        RateLimits.parse(spec)
    msg = str(exc.value)
    assert named in msg
    if named != "at least 1" and "twice" not in named:
        assert "rpm, itpm, otpm" in msg


def test_str_round_trips() -> None:
    limits = RateLimits(50, 30_000, 8_000)
    assert RateLimits.parse(str(limits)) == limits


# ---- admission, refill, retry-after ----


def test_rpm_bucket_refills_continuously() -> None:
    rl, ft = limiter("60rpm")
    for _ in range(60):
        rl.admit("k", "m", 10, 10)
    with pytest.raises(RateLimited) as exc:
        rl.admit("k", "m", 10, 10)
    assert exc.value.retry_after == 1  # 60 rpm = one request per second
    ft.sleep(0.5)
    with pytest.raises(RateLimited):
        rl.admit("k", "m", 10, 10)
    ft.sleep(0.5)
    rl.admit("k", "m", 10, 10)
    ft.sleep(10)
    for _ in range(10):
        rl.admit("k", "m", 10, 10)
    with pytest.raises(RateLimited):
        rl.admit("k", "m", 10, 10)


def test_429_is_a_rate_limit_api_error_with_the_2026_wording() -> None:
    rl, _ = limiter("2rpm")
    rl.admit("k", "claude-sonnet-4-5", 5, 5)
    rl.admit("k", "claude-sonnet-4-5", 5, 5)
    with pytest.raises(RateLimited) as exc:
        rl.admit("k", "claude-sonnet-4-5", 5, 5)
    err = exc.value
    assert isinstance(err, ApiError)
    assert (err.status, err.error_type) == (429, "rate_limit_error")
    assert err.message == (
        f"This request would exceed your organization's rate limit of 2 requests per minute (org: {ORG}, "
        "model: claude-sonnet-4-5). For details, refer to: https://docs.claude.com/en/api/rate-limits. "
        "You can see the response headers for current usage. Please reduce the prompt length or the maximum "
        "tokens requested, or try again later. You may also contact sales at https://claude.com/contact-sales "
        "to discuss your options for a rate limit increase."
    )
    assert err.headers["x-should-retry"] == "true"
    assert err.headers["retry-after"] == "30"
    assert err.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert all(h in err.headers for h in HEADER_NAMES)


def test_units_and_thousands_separators_in_messages() -> None:
    rl, _ = limiter("30000itpm,8000otpm")
    rl.admit("k", "m", 29_000, 100)
    with pytest.raises(RateLimited) as exc:
        rl.admit("k", "m", 2_000, 100)
    assert "rate limit of 30,000 input tokens per minute" in exc.value.message
    assert exc.value.bucket == "input-tokens"
    rl2, _ = limiter("30000itpm,8000otpm")
    rl2.admit("k", "m", 10, 8_000)
    with pytest.raises(RateLimited) as exc:
        rl2.admit("k", "m", 10, 100)
    assert "rate limit of 8,000 output tokens per minute" in exc.value.message


@pytest.mark.parametrize(
    ("spec", "fill", "ask"),
    [
        ("7rpm", [(1, 1)] * 7, (1, 1)),  # wait 60/7 s = 8.57 s
        ("30000itpm", [(25_000, 1)], (12_345, 1)),  # deficit 7,345 at 500/s
        ("8000otpm", [(1, 8_000)], (1, 333)),  # estimate is max_tokens
        ("50rpm,30000itpm,8000otpm", [(20_000, 6_000)], (15_000, 4_000)),  # two buckets short
        ("60rpm", [(1, 1)] * 60, (1, 1)),  # exact integer wait of 1 s
        ("30itpm", [(30, 1)], (30, 1)),  # a full minute
    ],
)
def test_retry_after_is_enough_and_one_second_less_is_not(
    spec: str, fill: list[tuple[int, int]], ask: tuple[int, int]
) -> None:
    rl, ft = limiter(spec)
    for inp, out in fill:
        rl.admit("k", "m", inp, out)
    ft.sleep(0.37)  # an awkward fraction
    with pytest.raises(RateLimited) as exc:
        rl.admit("k", "m", *ask)
    ra = int(exc.value.headers["retry-after"])
    assert ra == exc.value.retry_after >= 1
    start = ft.t
    ft.sleep(ra - 1)
    with pytest.raises(RateLimited):
        rl.admit("k", "m", *ask)
    ft.t = start + ra
    rl.admit("k", "m", *ask)


def test_rejected_request_charges_nothing() -> None:
    rl, _ = limiter("10rpm,1000itpm,1000otpm")
    rl.admit("k", "m", 900, 10)
    before = rl.headers("k")
    with pytest.raises(RateLimited):
        rl.admit("k", "m", 200, 500)  # input short, requests and output would fit
    assert rl.headers("k") == before
    assert before["anthropic-ratelimit-requests-remaining"] == "9"
    assert before["anthropic-ratelimit-output-tokens-remaining"] == "990"


def test_input_over_capacity_can_never_pass_and_says_so() -> None:
    rl, ft = limiter("30000itpm")
    with pytest.raises(RateLimited) as exc:
        rl.admit("k", "claude-opus-4-6", 30_001, 10)
    err = exc.value
    assert err.retry_after is None and "retry-after" not in err.headers
    assert err.headers["x-should-retry"] == "false"
    assert "30,001 input tokens" in err.message and "cannot succeed however long you wait" in err.message
    assert "rate limit of 30,000 input tokens per minute (org: " in err.message
    ft.sleep(3600)
    with pytest.raises(RateLimited):
        rl.admit("k", "claude-opus-4-6", 30_001, 10)
    rl.admit("k", "claude-opus-4-6", 30_000, 10)  # exactly the capacity fits into a full bucket


def test_max_tokens_above_otpm_capacity_is_admitted_with_a_full_bucket() -> None:
    rl, _ = limiter("8000otpm")
    adm = rl.admit("k", "m", 10, 64_000)
    assert adm.output_estimate == 8_000
    with pytest.raises(RateLimited) as exc:
        rl.admit("k", "m", 10, 64_000)
    assert exc.value.retry_after == 60
    rl.settle(adm, 500)  # the answer was short: most of the estimate comes back
    rl.admit("k", "m", 10, 7_000)


def test_per_key_isolation() -> None:
    rl, _ = limiter("1rpm")
    rl.admit("alice", "m", 1, 1)
    with pytest.raises(RateLimited):
        rl.admit("alice", "m", 1, 1)
    rl.admit("bob", "m", 1, 1)
    assert rl.headers("alice")["anthropic-ratelimit-requests-remaining"] == "0"
    assert rl.headers("carol")["anthropic-ratelimit-requests-remaining"] == "1"


def test_settle_corrects_the_output_charge_both_ways() -> None:
    rl, _ = limiter("10000otpm")
    a = rl.admit("k", "m", 10, 4_000)
    assert a.headers["anthropic-ratelimit-output-tokens-remaining"] == "6000"
    rl.settle(a, 1_000)
    assert rl.headers("k")["anthropic-ratelimit-output-tokens-remaining"] == "9000"
    rl.settle(a, 5)  # a second settle is ignored
    assert rl.headers("k")["anthropic-ratelimit-output-tokens-remaining"] == "9000"
    b = rl.admit("k", "m", 10, 9_000)
    rl.settle(b, 10_000)  # cannot happen with a capped estimate, but debt must still count
    assert rl.headers("k")["anthropic-ratelimit-output-tokens-remaining"] == "0"
    with pytest.raises(RateLimited) as exc:
        rl.admit("k", "m", 10, 1)
    # level is -1000 - a few ms of refill: 1,001 tokens at 166.7/s needs 7 s
    assert exc.value.retry_after == 7


# ---- headers ----


def _ts(s: str) -> float:
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def test_headers_values_and_formats() -> None:
    rl, ft = limiter("50rpm,30000itpm,8000otpm")
    h = rl.headers("k")
    assert set(h) == set(HEADER_NAMES)
    assert all(RFC3339.match(h[n]) for n in HEADER_NAMES if n.endswith("-reset"))
    assert h["anthropic-ratelimit-requests-limit"] == "50"
    assert h["anthropic-ratelimit-input-tokens-limit"] == "30000"
    assert h["anthropic-ratelimit-output-tokens-limit"] == "8000"
    assert h["anthropic-ratelimit-tokens-limit"] == "38000"
    assert h["anthropic-ratelimit-tokens-remaining"] == "38000"
    # full buckets: reset is now
    assert _ts(h["anthropic-ratelimit-requests-reset"]) == WALL0
    ft.sleep(0.25)
    adm = rl.admit("k", "m", 12_345, 2_000)
    h = adm.headers
    assert h["anthropic-ratelimit-requests-remaining"] == "49"
    assert h["anthropic-ratelimit-input-tokens-remaining"] == "17655"
    assert h["anthropic-ratelimit-output-tokens-remaining"] == "6000"
    # 17,655 + 6,000 = 23,655 → nearest thousand
    assert h["anthropic-ratelimit-tokens-remaining"] == "24000"
    now = WALL0 + 0.25
    # full again after deficit/rate seconds, rounded up to whole seconds
    assert _ts(h["anthropic-ratelimit-requests-reset"]) == math.ceil(now + 1.2)
    assert _ts(h["anthropic-ratelimit-input-tokens-reset"]) == math.ceil(now + 12_345 / 500)
    assert _ts(h["anthropic-ratelimit-output-tokens-reset"]) == math.ceil(now + 2_000 / (8000 / 60))
    # tokens-reset is the earlier of input and output, as in the real samples
    assert h["anthropic-ratelimit-tokens-reset"] == h["anthropic-ratelimit-output-tokens-reset"]
    ft.sleep(60)
    h = rl.headers("k")
    assert h["anthropic-ratelimit-input-tokens-remaining"] == "30000"
    assert h["anthropic-ratelimit-tokens-remaining"] == "38000"


def test_without_limits_nothing_is_refused_but_headers_show_the_nominal_tier() -> None:
    rl, _ = limiter(None)
    for _ in range(5_000):  # more than the nominal 4,000 RPM
        adm = rl.admit("k", "m", 1_000, 1_000)
    h = adm.headers
    assert h["anthropic-ratelimit-requests-limit"] == str(NOMINAL.rpm)
    assert h["anthropic-ratelimit-input-tokens-limit"] == str(NOMINAL.itpm)
    # Never refused, so never shown as exhausted: header-driven clients must not throttle for nothing.
    assert h["anthropic-ratelimit-requests-remaining"] == str(NOMINAL.rpm)
    assert h["anthropic-ratelimit-input-tokens-remaining"] == str(NOMINAL.itpm)
    rl.admit("k", "m", 10_000_000, 10)  # far beyond any capacity: still admitted


def test_headers_without_limits_are_those_the_store_would_give() -> None:
    # The limiter without limits skips its own store and builds full-bucket headers once a second:
    # byte for byte what asking a store gives, across second boundaries and settles.
    ft = FakeTime()
    fast = RateLimiter(None, clock=ft.mono, wall=ft.wall, org_id=ORG)
    stored = RateLimiter(None, clock=ft.mono, wall=ft.wall, org_id=ORG, store=MemoryBucketStore())
    for step in range(400):
        ft.sleep(0.0137 * (step % 7))
        a, b = fast.admit("k", "m", 50 * step, 7 * step), stored.admit("k", "m", 50 * step, 7 * step)
        assert a.headers == b.headers and list(a.headers) == list(b.headers)
        a.headers["x"] = "mutated"  # a caller's change never leaks into the next answer
        fast.settle(a, step)
        stored.settle(b, step)
        assert fast.headers("k") == stored.headers("k")


def test_full_bucket_headers_follow_the_wall_clock_when_limited() -> None:
    rl, ft = limiter("50rpm,30000itpm,8000otpm")
    first = rl.headers("k")
    ft.sleep(1.5)
    later = rl.headers("k")
    assert _ts(later["anthropic-ratelimit-requests-reset"]) == _ts(first["anthropic-ratelimit-requests-reset"]) + 2
    adm = rl.admit("k", "m", 100, 100)
    assert adm.headers["anthropic-ratelimit-requests-remaining"] == "49"
    ft.sleep(60)  # full again: the same headers as a key never seen
    assert rl.headers("k") == rl.headers("fresh")


def test_partial_limits_enforce_only_what_was_given() -> None:
    rl, _ = limiter("2rpm")
    adm = rl.admit("k", "m", 5_000_000, 1_000_000)  # tokens unlimited, shown at nominal values
    assert adm.headers["anthropic-ratelimit-input-tokens-limit"] == str(NOMINAL.itpm)
    assert adm.headers["anthropic-ratelimit-input-tokens-remaining"] == str(NOMINAL.itpm)
    assert adm.headers["anthropic-ratelimit-requests-remaining"] == "1"
    rl.admit("k", "m", 1, 1)
    with pytest.raises(RateLimited) as exc:
        rl.admit("k", "m", 1, 1)
    assert exc.value.bucket == "requests"


# ---- through the real server and SDK ----

USER = [{"role": "user", "content": "Hello"}]
FAST = ("--ttft", "0", "--tps", "5000", "--output-tokens", "5")


def _client(p: Proc, key: str = "sk-ant-test", retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=p.url, max_retries=retries)


def test_server_settles_output_tokens_to_what_was_produced() -> None:
    with mock_server(*FAST, "--rate-limit", "1000rpm,100000itpm,1000otpm") as p:
        c = _client(p)
        first = c.messages.with_raw_response.create(model="claude-sonnet-4-5", max_tokens=600, messages=USER)
        assert first.headers["anthropic-ratelimit-output-tokens-remaining"] == "400"  # estimate = max_tokens
        # Without settling, 400 left < 600 would refuse this; the first answer really used 5 tokens.
        second = c.messages.with_raw_response.create(model="claude-sonnet-4-5", max_tokens=600, messages=USER)
        remaining = int(second.headers["anthropic-ratelimit-output-tokens-remaining"])
        assert 395 <= remaining <= 420
        assert second.parse().usage.output_tokens == 5


def test_server_limits_each_api_key_separately() -> None:
    with mock_server(*FAST, "--rate-limit", "1rpm") as p:
        _client(p, "sk-ant-alice").messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=USER)
        with pytest.raises(anthropic.RateLimitError) as exc:
            _client(p, "sk-ant-alice").messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=USER)
        assert exc.value.response.headers["retry-after"] == "60"
        assert all(h in exc.value.response.headers for h in HEADER_NAMES)
        _client(p, "sk-ant-bob").messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=USER)


def test_server_prompt_over_itpm_is_not_retried_by_the_sdk() -> None:
    with mock_server(*FAST, "--rate-limit", "200itpm") as p:
        with pytest.raises(anthropic.RateLimitError) as exc:
            long = [{"role": "user", "content": "word " * 400}]
            _client(p, retries=2).messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=long)
        stats = httpx2.get(p.url + "/_mockclaude/stats", timeout=10).json()
    assert exc.value.response.headers["x-should-retry"] == "false"
    assert "retry-after" not in exc.value.response.headers
    assert "cannot succeed however long you wait" in exc.value.body["error"]["message"]
    assert stats["rate_limited"] == 1  # one attempt: the SDK obeyed x-should-retry: false


@settings(max_examples=200, deadline=None)
@given(
    ops=st.lists(
        st.tuples(st.integers(0, 6_000), st.integers(0, 4_000), st.integers(0, 4_000), st.floats(0, 20)), max_size=25
    )
)
def test_retry_after_suffices_after_any_history(ops: list[tuple[int, int, int, float]]) -> None:
    rl, ft = limiter("20rpm,5000itpm,3000otpm")
    for inp, max_tokens, produced, pause in ops:
        ft.sleep(pause)
        try:
            adm = rl.admit("k", "m", inp, max_tokens)
        except RateLimited as exc:
            if inp > 5_000:
                assert exc.retry_after is None
                continue
            ra = exc.retry_after
            assert ra is not None and ra >= 1
            later_rl, later_ft = copy.deepcopy((rl, ft))
            later_ft.sleep(ra)
            later_rl.admit("k", "m", inp, max_tokens)
            sooner_rl, sooner_ft = copy.deepcopy((rl, ft))
            sooner_ft.sleep(ra - 1)
            with pytest.raises(RateLimited):
                sooner_rl.admit("k", "m", inp, max_tokens)
        else:
            rl.settle(adm, min(produced, max_tokens))
