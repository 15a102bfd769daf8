"""Feeds the client verdict (mockclaude.verdict): what each Messages request and its answer told the client."""

import asyncio
import hashlib
from typing import NamedTuple

from aiohttp import web

from mockclaude.limits.faults import STREAM_CUTS
from mockclaude.server.identity import SCOPE_HEADER, presented_key
from mockclaude.server.request_keys import BODY, BODY_JSON, FAULT, REQUEST_ID, STALL
from mockclaude.verdict.judge import Judge, Seen, key_name

WATCHED = frozenset({"/v1/messages", "/v1/messages/count_tokens"})
_SHOULD_RETRY = {"true": True, "false": False}


class Arrival(NamedTuple):
    """What is known when a watched request arrives."""

    key: str
    scope: str | None
    arrived: float
    in_flight: int


class Watch:
    """One per server process: counts open requests per client and hands finished ones to the judge."""

    def __init__(self) -> None:
        self.judge = Judge()
        self._open: dict[tuple[str, str | None], int] = {}  # a plain dict: Counter's methods are Python code

    def arrive(self, request: web.Request, endpoint: str) -> Arrival | None:
        """Note a request to `endpoint` (its route); None for what the verdict does not judge (other
        routes, no API key)."""
        if endpoint not in WATCHED:  # the routes of POST only: any other method is the catch-all's
            return None
        key = presented_key(request)
        if not key:
            return None
        who = (key_name(key), request.headers.get(SCOPE_HEADER) or None)
        n = self._open[who] = self._open.get(who, 0) + 1
        return Arrival(who[0], who[1], asyncio.get_running_loop().time(), n)

    def finish(self, request: web.Request, a: Arrival, status: int, headers: dict[str, str], rpm: int | None) -> None:
        """Judge the finished request with what its answer said."""
        who = (a.key, a.scope)
        n = self._open[who] - 1
        if n:
            self._open[who] = n
        else:
            del self._open[who]
        body = request.get(BODY_JSON)
        body = body if isinstance(body, dict) else {}
        fault = request.get(FAULT)
        # A stall is recorded only for a stall fault (server.sender.hold): no second lookup that misses.
        stall = request.get(STALL) if fault else None
        stream, max_tokens = bool(body.get("stream")), int(body.get("max_tokens") or 0)
        # Most answers are plain successes without limits: when the client has nothing pending either,
        # the judge only counts it, and the fingerprint and the record are not needed.
        quick = status == 200 and not fault and not rpm and stall is None
        if quick and self.judge.passed(a.key, a.scope, stream, max_tokens):
            return
        done = asyncio.get_running_loop().time()
        at_zero = rpm and headers.get("anthropic-ratelimit-requests-remaining") == "0"
        fingerprint = hashlib.blake2b(request.path.encode() + b"\0" + request.get(BODY, b""), digest_size=16)
        self.judge.observe(
            Seen(
                key=a.key,
                scope=a.scope,
                fingerprint=fingerprint.digest(),
                request_id=request[REQUEST_ID],
                arrived=a.arrived,
                done=done,
                status=0 if fault == "disconnect" else status,
                retry_after_s=_retry_after(headers),
                should_retry=_SHOULD_RETRY.get(headers.get("x-should-retry", "")),
                broken=fault if fault in STREAM_CUTS else None,
                # A token bucket gives one request back every 60/rpm s: sending sooner cannot pass.
                quiet_until=done + 60.0 / rpm if rpm and at_zero else None,
                stream=stream,
                max_tokens=max_tokens,
                in_flight=a.in_flight,
                capacity=rpm,
                stall=stall,
            )
        )


def _retry_after(headers: dict[str, str]) -> float | None:
    """The wait an answer asked for, as the SDKs read it: retry-after-ms first, then retry-after seconds."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return float(value) * scale
            except ValueError:
                continue
    return None
