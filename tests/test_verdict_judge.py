"""The judge's rules on sequences of requests whose timing is known exactly."""

from mockclaude.verdict.judge import MAX_ATTEMPTS, Judge, Seen


def seen(t: float, status: int = 200, body: bytes = b"a", **kw: object) -> Seen:
    return Seen(key="…abcd", scope=None, fingerprint=body, request_id=f"req_{t}", arrived=t, done=t + 0.01,
                status=status, **kw)  # type: ignore[arg-type]


def judged(*requests: Seen) -> dict:
    j = Judge()
    for s in requests:
        j.observe(s)
    (client,) = j.verdict()["clients"]
    return client


def kinds(client: dict) -> dict[str, int]:
    return {f["kind"]: f["count"] for f in client["findings"]}


def clean(client: dict) -> dict[str, int]:
    return {c["behaviour"]: c["count"] for c in client["clean"]}


def test_sdk_like_retries_are_clean() -> None:
    # 429 with retry-after 1 waited out; then 529s without retry-after backed off 0.4 s, then 0.8 s.
    c = judged(
        seen(0, 429, retry_after_s=1.0), seen(1.02),
        seen(5, 529, body=b"b"), seen(5.42, 529, body=b"b"), seen(6.24, body=b"b"),
    )
    assert c["verdict"] == "clean" and kinds(c) == {}
    assert clean(c) == {"honoured_retry_after": 1, "backed_off": 2, "recovered_by_retrying": 2}
    assert c["retries"] == 3


def test_retry_before_retry_after_is_flagged_with_its_wait() -> None:
    c = judged(seen(0, 429, retry_after_s=2.0), seen(0.5))
    assert kinds(c) == {"retry_after_ignored": 1}
    assert c["findings"][0]["first"] == "waited 0.49 s of retry-after 2 s"
    assert c["findings"][0]["examples"] == ["req_0.5"]


def test_immediate_and_non_growing_retries_have_no_backoff() -> None:
    assert kinds(judged(seen(0, 529), seen(0.05))) == {"no_backoff": 1}
    # 0.5 s, then 0.5 s again: the wait did not grow.
    assert kinds(judged(seen(0, 500), seen(0.51, 500), seen(1.02))) == {"no_backoff": 1}


def test_a_success_ends_the_logical_request() -> None:
    # The same body sent again after a success is a new request, however soon.
    c = judged(seen(0), seen(0.02), seen(0.04))
    assert c["retries"] == 0 and kinds(c) == {}


def test_more_attempts_than_the_cap_is_a_storm_once() -> None:
    waits = [0.2 * 2**i for i in range(MAX_ATTEMPTS + 2)]
    times = [sum(waits[:i]) + 0.01 * i for i in range(len(waits))]
    c = judged(*(seen(t, 529) for t in times))
    assert kinds(c) == {"retry_storm": 1}


def test_retries_beyond_the_announced_limit_are_a_storm() -> None:
    # Ten logical requests each retried once after its retry-after, 11 retries a minute against 10 rpm.
    requests = []
    for i in range(11):
        body = bytes([i])
        requests += [seen(i, 429, body=body, retry_after_s=1.0, capacity=10), seen(i + 1.5, body=body, capacity=10)]
    c = judged(*requests)
    assert kinds(c) == {"retry_storm": 1} and clean(c)["honoured_retry_after"] == 11
    assert c["findings"][0]["first"] == "11 retries in 60 s, limit 10 per minute"


def test_retrying_a_non_retryable_answer() -> None:
    assert kinds(judged(seen(0, 400), seen(2))) == {"retried_non_retryable": 1}
    assert kinds(judged(seen(0, 500, should_retry=False), seen(2))) == {"retried_non_retryable": 1}
    assert kinds(judged(seen(0, 409), seen(0.6))) == {}


def test_broken_streams_count_as_failures() -> None:
    c = judged(seen(0, broken="midstream"), seen(0.6))
    assert c["retries"] == 1 and clean(c) == {"backed_off": 1, "recovered_by_retrying": 1}


def test_concurrency_long_requests_stalls_and_remaining_zero() -> None:
    c = judged(
        seen(0, in_flight=5, capacity=4),
        seen(1, body=b"x", stream=False, max_tokens=30_000),
        seen(2, body=b"y", stall=(3.0, False)),
        seen(3, body=b"z", quiet_until=10.0),
        seen(4, body=b"w"),
    )
    assert kinds(c) == {
        "concurrency_spike": 1,
        "long_request_without_streaming": 1,
        "stalled_stream_waited": 1,
        "ignored_remaining": 1,
    }
    # A warning alone does not fail the verdict.
    assert judged(seen(3, quiet_until=10.0), seen(4, body=b"w"))["verdict"] == "clean"


def test_clients_are_kept_apart_by_key_and_scope() -> None:
    j = Judge()
    j.observe(seen(0, 429, retry_after_s=1.0))
    j.observe(Seen(key="…wxyz", scope=None, fingerprint=b"a", request_id="r", arrived=0.1, done=0.2, status=200))
    j.observe(Seen(key="…abcd", scope="t1", fingerprint=b"a", request_id="r", arrived=0.1, done=0.2, status=200))
    v = j.verdict()
    assert [c["client"] for c in v["clients"]] == ["…abcd", "…abcd (t1)", "…wxyz"]
    assert v["verdict"] == "clean" and all(c["retries"] == 0 for c in v["clients"])
