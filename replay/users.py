"""Locust user classes that send Messages requests and measure them as LLM calls.

`ClaudeUser` is the building block for your own locustfile (`self.send(sample)` or
`self.send_body(body, scenario=...)`); `ReplayUser` replays the fixtures: closed loop with recorded
think times, or open loop at `--rate` (Poisson) or `--speed` (recorded arrival times).
Importing this module registers the replay plugin (options, stats, reports) with Locust.
"""

import functools
import json
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import gevent
import requests
import urllib3
from locust import User, constant, task
from locust.exception import StopUser

from mockclaude.content import TokenSource
from replay import plugin
from replay.classify import (
    CONNECTION_ERROR,
    INTERRUPTED,
    INVALID_RESPONSE,
    TIMEOUT,
    is_retryable,
    status_class,
)
from replay.records import RequestRecord
from replay.retry import backoff_s, retry_after_s
from replay.stream import error_message, read_count, read_message, read_stream
from replay.workload import COUNT_TOKENS_PATH, Sample, request_body

ANTHROPIC_VERSION = "2023-06-01"
_TRANSPORT_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)


@functools.cache
def _text_source(seed: int) -> TokenSource:
    return TokenSource(seed)


class ClaudeUser(User):
    """A Locust user that talks to the Messages API and records TTFT, ITL, TPOT and E2E per request."""

    abstract = True
    wait_time = constant(0)  # waits are part of the workload (think times, arrival schedule)

    def on_start(self) -> None:
        """Set up this user's HTTP session and random stream."""
        ctx = plugin.context()
        ctx.users_started += 1
        self.rng = random.Random(f"{ctx.config.seed}:user:{ctx.index}:{ctx.users_started}")
        self.http = requests.Session()

    def on_stop(self) -> None:
        """Close the HTTP session."""
        self.http.close()

    def send(self, sample: Sample, *, lateness_s: float | None = None) -> RequestRecord:
        """Send one recorded request (text regenerated for shape fixtures); StopUser past a limit."""
        ctx = plugin.context()
        body = request_body(sample, lambda n: _text_source(ctx.config.seed).text(n, self.rng))
        return self.send_body(
            body, scenario=sample.scenario, path=sample.path, headers=dict(sample.headers), lateness_s=lateness_s
        )

    def send_body(
        self,
        body: dict[str, Any],
        *,
        scenario: str,
        path: str = "/v1/messages",
        headers: dict[str, str] | None = None,
        lateness_s: float | None = None,
    ) -> RequestRecord:
        """Send a request body, retrying per `--retry`; every attempt is recorded. StopUser past a limit."""
        ctx = plugin.context()
        cfg = ctx.config
        attempt = 0
        while True:
            if not ctx.budget.take():
                raise StopUser()
            rec = self._attempt(body, scenario, path, headers or {}, attempt)
            rec.lateness_s = lateness_s if attempt == 0 else None
            plugin.record(self.environment, rec)
            retryable = is_retryable(rec.status) or rec.error_class in (CONNECTION_ERROR, TIMEOUT)
            if cfg.retry != "backoff" or attempt >= cfg.max_retries or not retryable:
                return rec
            gevent.sleep(backoff_s(attempt, rec.retry_after_s, self.rng))
            attempt += 1

    def _attempt(
        self, body: dict[str, Any], scenario: str, path: str, extra_headers: dict[str, str], attempt: int
    ) -> RequestRecord:
        ctx = plugin.context()
        counting = urlsplit(path).path.rstrip("/") == COUNT_TOKENS_PATH
        stream = bool(body.get("stream")) and not counting  # count_tokens never streams
        rec = RequestRecord(
            scenario=scenario,
            model=str(body.get("model", "")),
            stream=stream,
            attempt=attempt,
            worker=str(ctx.index),
        )
        headers = {
            "anthropic-version": ANTHROPIC_VERSION,
            **extra_headers,
            "x-api-key": ctx.api_key,
            "content-type": "application/json",
            # Compression would delay events until a compressed block fills: keep timing honest.
            "accept-encoding": "identity",
        }
        payload = json.dumps(body, ensure_ascii=False).encode()
        url = (self.host or "").rstrip("/") + path
        rec.send_wall = time.time()
        t0 = time.perf_counter()

        def since() -> float:
            return time.perf_counter() - t0

        try:
            resp = self.http.post(
                url, data=payload, headers=headers, stream=True, timeout=(10.0, ctx.config.request_timeout)
            )
        except requests.Timeout as exc:
            rec.error_class, rec.error, rec.e2e_s = TIMEOUT, str(exc), since()
            return rec
        except _TRANSPORT_ERRORS as exc:
            rec.error_class, rec.error, rec.e2e_s = CONNECTION_ERROR, f"{type(exc).__name__}: {exc}", since()
            return rec
        with resp:
            rec.ttfb_s = since()
            rec.status = resp.status_code
            rec.error_class = status_class(resp.status_code)
            if resp.status_code != 200:
                rec.retry_after_s = retry_after_s(resp.headers)
                try:
                    rec.error = error_message(resp.content)
                except _TRANSPORT_ERRORS as exc:
                    rec.error = f"{type(exc).__name__}: {exc}"
                rec.e2e_s = since()
                return rec
            content_type = resp.headers.get("content-type", "")
            if stream and not content_type.startswith("text/event-stream"):
                rec.error_class = INVALID_RESPONSE
                rec.error = f"asked for a stream, got {content_type or 'no content-type'}"
                rec.e2e_s = since()
            elif stream:
                chunks = within(resp.iter_content(chunk_size=None), since, ctx.config.request_timeout)
                read_stream(rec, chunks, since, _TRANSPORT_ERRORS)
            else:
                try:
                    content = b"".join(within(resp.iter_content(65536), since, ctx.config.request_timeout))
                except TimeoutError as exc:
                    rec.error_class, rec.error, rec.e2e_s = TIMEOUT, str(exc), since()
                    return rec
                except _TRANSPORT_ERRORS as exc:
                    rec.error_class, rec.error, rec.e2e_s = INTERRUPTED, f"{type(exc).__name__}: {exc}", since()
                    return rec
                (read_count if counting else read_message)(rec, content, since())
        return rec


def within(chunks: Iterable[bytes], since: Callable[[], float], limit_s: float) -> Iterator[bytes]:
    """`chunks` until the response has taken `limit_s` in all; then TimeoutError.

    requests' read timeout only bounds the gap between bytes: a peer that trickles bytes (or SSE
    pings) forever would hold the request, and the user, to the end of the run.
    """
    for chunk in chunks:
        if since() > limit_s:
            raise TimeoutError(f"the response was still arriving after {limit_s:g} s (--request-timeout)")
        yield chunk


class ReplayUser(ClaudeUser):
    """Replays the fixtures: conversations with recorded think times, or the open-loop schedule."""

    @task
    def replay(self) -> None:
        """One unit of work: a whole conversation (closed loop) or one scheduled arrival (open loop)."""
        ctx = plugin.context()
        if ctx.schedule is not None:
            self._scheduled()
            return
        fixed = ctx.config.fixed_think_time()
        for sample in ctx.workload.pick_conversation(self.rng):
            self.send(sample)
            gevent.sleep(fixed if fixed is not None else ctx.workload.pick_think_time(self.rng))

    def _scheduled(self) -> None:
        ctx = plugin.context()
        if not ctx.schedule_start:
            ctx.schedule_start = time.perf_counter()
        due, sample = next(ctx.schedule)
        at = ctx.schedule_start + due
        wait = at - time.perf_counter()
        if wait > 0:
            gevent.sleep(wait)
        self.send(sample, lateness_s=max(0.0, time.perf_counter() - at))
