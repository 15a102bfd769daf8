"""Failure classes: which bucket a failed attempt falls into, so 429s are never mixed with 5xx."""

RATE_LIMITED = "rate_limited"
MIDSTREAM_ERROR = "midstream_error"  # an `event: error` inside a 200 stream
INTERRUPTED = "interrupted"  # the stream ended (or the connection broke) before message_stop
INVALID_RESPONSE = "invalid_response"  # a 200 whose content structure is not a valid message
CONNECTION_ERROR = "connection_error"  # no response at all
TIMEOUT = "timeout"

_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    413: "too_large",
    429: RATE_LIMITED,
    529: "overloaded",
}

# Statuses the SDK retries (and so does `--retry backoff`): 408, 409, 429 and every 5xx.
RETRYABLE_STATUSES = frozenset({408, 409, 429})


def status_class(status: int) -> str:
    """The failure class of an HTTP status ("ok" for 200)."""
    if status == 200:
        return "ok"  # the Messages API answers 200; any other 2xx is not a message
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return "server_error"
    if status >= 400:
        return "client_error"
    return "unexpected_status"


def is_retryable(status: int | None) -> bool:
    """True for responses worth retrying with backoff (as the official SDK does)."""
    return status is not None and (status in RETRYABLE_STATUSES or status >= 500)
