"""The header allow-list: only these reach a fixture; keys, cookies and everything else are dropped."""

from collections.abc import Iterable

REQUEST_HEADERS = frozenset(
    {
        "content-type",
        "accept",
        "anthropic-version",
        "anthropic-beta",
        "x-stainless-helper-method",
        "x-stainless-stream-helper",
        "x-stainless-retry-count",
        "x-stainless-timeout",
        "x-mockclaude-fault",
    }
)
RESPONSE_HEADERS = frozenset(
    {"content-type", "request-id", "retry-after", "retry-after-ms", "x-should-retry", "cache-control"}
)
RESPONSE_PREFIXES = ("anthropic-ratelimit-",)


def allowed(items: Iterable[tuple[str, str]], names: frozenset[str], prefixes: tuple[str, ...] = ()) -> dict[str, str]:
    """The allow-listed headers of `items`, names lower-cased, repeated values joined with ", "."""
    out: dict[str, str] = {}
    for name, value in items:
        low = name.lower()
        if low in names or low.startswith(prefixes):
            out[low] = f"{out[low]}, {value}" if low in out else value
    return out


def request_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Allow-listed request headers."""
    return allowed(items, REQUEST_HEADERS)


def response_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Allow-listed response headers."""
    return allowed(items, RESPONSE_HEADERS, RESPONSE_PREFIXES)
