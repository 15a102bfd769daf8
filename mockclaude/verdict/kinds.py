"""What the verdict can find: each kind with its one-line explanation, how to fix it, and why it matters.

The rules follow what the official SDKs do by default (anthropic-sdk-python `_should_retry` and
`_calculate_retry_timeout`, the TypeScript SDK's `shouldRetry` and `calculateDefaultRetryTimeoutMillis`:
retry 408, 409, 429 and >= 500 unless `x-should-retry` says otherwise; wait `retry-after-ms` or
`retry-after` when 0 < it <= 60 s; otherwise min(0.5 s * 2^n, 8 s) * (1 - 0.25 * random); 2 retries),
Anthropic's rate-limit and error docs (honour `retry-after`; 429s can come from acceleration limits;
stream long requests), and the flags chaos mocks for LLM clients use (retry-after ignored, no backoff,
retry storm).
"""

from dataclasses import dataclass

FINDING = "finding"  # fails `mockclaude verdict` (exit 1)
WARNING = "warning"  # reported, never fails: the SDKs themselves behave this way


@dataclass(frozen=True)
class Kind:
    """One thing the verdict can find."""

    name: str
    severity: str
    explanation: str
    fix: str


KINDS = {
    k.name: k
    for k in (
        Kind(
            "retry_after_ignored",
            FINDING,
            "retried before the retry-after it was given had passed",
            "wait at least retry-after seconds (retry-after-ms when present) before retrying, as the SDKs do",
        ),
        Kind(
            "no_backoff",
            FINDING,
            "retried a 429/529/5xx that gave no retry-after at once, or at a constant or shrinking interval",
            "back off exponentially with jitter: min(0.5 s * 2^n, 8 s) * (1 - 0.25 * random), as the SDKs do",
        ),
        Kind(
            "retry_storm",
            FINDING,
            "made more attempts for one request than a client should, or more retries in a minute than the "
            "limit admits",
            "cap retries (the SDKs' default is 2 retries, 3 attempts) and surface the error to the caller",
        ),
        Kind(
            "retried_non_retryable",
            FINDING,
            "retried a response that cannot succeed on retry (x-should-retry: false, or a 4xx other than 408/409/429)",
            "retry only 408, 409, 429 and 5xx, never when x-should-retry is false; fix the request instead",
        ),
        Kind(
            "concurrency_spike",
            FINDING,
            "had more requests in flight at once than the rate limit admits in a minute",
            "bound concurrency (a semaphore or worker pool) below your requests-per-minute limit",
        ),
        Kind(
            "long_request_without_streaming",
            FINDING,
            "sent a non-streaming request whose max_tokens may take over 10 minutes; idle connections get dropped",
            "stream long requests (the SDKs refuse non-streaming requests expected to run past 10 minutes)",
        ),
        Kind(
            "stalled_stream_waited",
            FINDING,
            "waited on a stream that stopped sending until the server gave up, with no read timeout of its own",
            "set a read (idle) timeout on streams and retry when it fires",
        ),
        Kind(
            "ignored_remaining",
            WARNING,
            "sent new requests while anthropic-ratelimit-*-remaining said 0, before the announced reset",
            "read anthropic-ratelimit-*-remaining and -reset and pace requests (the SDKs don't read them)",
        ),
    )
}

# The good behaviours the verdict counts, as they read in a sentence ("honoured retry-after 37 times").
CLEAN = {
    "honoured_retry_after": "honoured retry-after",
    "backed_off": "backed off before retrying",
    "gave_up_on_stall": "timed out a stalled stream",
    "recovered_by_retrying": "recovered from an error by retrying",
    "stopped_within_cap": "gave up on a failing request within the attempt cap",
}
