"""Who a request says it is: the API key it presents and the header naming its test scope.

A leaf of the server package: the handlers (server.common, which also checks the key), the client
verdict's watch and the pytest plugin read these without importing each other.
"""

from aiohttp import web

SCOPE_HEADER = "x-mockclaude-scope"


def presented_key(request: web.Request) -> str:
    """The key from `x-api-key` or `Authorization: Bearer`, as sent; "" when there is none."""
    key = request.headers.get("x-api-key", "").strip()
    if not key:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            key = token.strip()
    return key
