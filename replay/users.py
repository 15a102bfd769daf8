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
from typing import Any

import gevent
import orjson
from locust import User, constant, task
from locust.exception import StopUser

from mockclaude.recent import own_size
from mockclaude.synth.content import TokenSource
from replay import plugin
from replay.classify import (
    CONNECTION_ERROR,
    INTERRUPTED,
    INVALID_RESPONSE,
    MIDSTREAM_ERROR,
    TIMEOUT,
    is_retryable,
    status_class,
)
from replay.records import OK, RequestRecord
from replay.retry import backoff_s, retry_after_s
from replay.stream import error_message, read_count, read_message, read_stream
from replay.transport import Connection, Response
from replay.workload import COUNT_TOKENS_PATH, Sample, request_body

ANTHROPIC_VERSION = "2023-06-01"
DRAIN_S = 1.0  # after message_stop, how long the rest of a response may take to keep its connection


@functools.cache
def _text_source(seed: int) -> TokenSource:
    return TokenSource(seed)


def encode_body(body: dict[str, Any]) -> bytes:
    """The JSON bytes sent for `body` (compact UTF-8)."""
    try:
        return orjson.dumps(body)
    except TypeError:  # orjson refuses integers beyond 64 bits, which JSON allows
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _no_text(tokens: int) -> str:
    raise AssertionError("only shape fixtures regenerate text")


class ClaudeUser(User):
    """A Locust user that talks to the Messages API and records TTFT, ITL, TPOT and E2E per request."""

    abstract = True
    wait_time = constant(0)  # waits are part of the workload (think times, arrival schedule)

    def on_start(self) -> None:
        """Set up this user's HTTP connection and random stream."""
        ctx = plugin.context()
        ctx.users_started += 1
        self.rng = random.Random(f"{ctx.config.seed}:user:{ctx.index}:{ctx.users_started}")
        self.http = Connection(self.host or "")

    def on_stop(self) -> None:
        """Close the HTTP connection."""
        self.http.close()

    def send(self, sample: Sample, *, lateness_s: float | None = None) -> RequestRecord:
        """Send one recorded request (text regenerated for shape fixtures); StopUser past a limit."""
        ctx = plugin.context()
        if sample.shape:
            payload = encode_body(request_body(sample, lambda n: _text_source(ctx.config.seed).text(n, self.rng)))
        else:  # the same bytes every time: encoded once, kept for the run at their own size
            payload = ctx.payloads.get(id(sample)) or ctx.payloads.setdefault(
                id(sample), own_size(encode_body(request_body(sample, _no_text)))
            )
        s = sample
        return self._send(payload, s.scenario, s.model, s.stream, s.path, s.headers, lateness_s)

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
        model, stream = str(body.get("model", "")), bool(body.get("stream"))
        extra = tuple((headers or {}).items())
        return self._send(encode_body(body), scenario, model, stream, path, extra, lateness_s)

    def _send(
        self,
        payload: bytes,
        scenario: str,
        model: str,
        stream: bool,
        path: str,
        extra_headers: tuple[tuple[str, str], ...],
        lateness_s: float | None,
    ) -> RequestRecord:
        ctx = plugin.context()
        cfg = ctx.config
        counting = path.partition("?")[0].rstrip("/") == COUNT_TOKENS_PATH
        headers = {
            "anthropic-version": ANTHROPIC_VERSION,
            **dict(extra_headers),
            "x-api-key": ctx.api_key,
            "content-type": "application/json",
            # Compression would delay events until a compressed block fills: keep timing honest.
            "accept-encoding": "identity",
        }
        attempt = 0
        while True:
            if not ctx.budget.take():
                raise StopUser()
            rec = RequestRecord(
                scenario=scenario,
                model=model,
                stream=stream and not counting,  # count_tokens never streams
                attempt=attempt,
                worker=str(ctx.index),
                lateness_s=lateness_s if attempt == 0 else None,
                count_tokens=counting,
            )
            self._attempt(rec, payload, path, headers, counting)
            plugin.record(self.environment, rec)
            retryable = is_retryable(rec.status) or rec.error_class in (CONNECTION_ERROR, TIMEOUT)
            if cfg.retry != "backoff" or attempt >= cfg.max_retries or not retryable:
                return rec
            gevent.sleep(backoff_s(attempt, rec.retry_after_s, self.rng))
            attempt += 1

    def _attempt(self, rec: RequestRecord, payload: bytes, path: str, headers: dict[str, str], counting: bool) -> None:
        """One HTTP exchange, timed from just before its bytes are sent, into `rec`."""
        conn = self.http
        try:
            head = conn.head(path, headers)
        except ValueError as exc:
            rec.error_class, rec.error, rec.e2e_s = CONNECTION_ERROR, f"{type(exc).__name__}: {exc}", 0.0
            return
        rec.send_wall = time.time()
        t0 = time.perf_counter()
        deadline = t0 + plugin.context().config.request_timeout

        def since() -> float:
            return time.perf_counter() - t0

        try:
            resp = conn.send(head, payload, deadline)
        except OSError as exc:  # TimeoutError included: no (complete) response headers in time
            conn.close()
            rec.error_class = TIMEOUT if isinstance(exc, TimeoutError) else CONNECTION_ERROR
            rec.error, rec.e2e_s = _describe(exc), since()
            return
        rec.ttfb_s = since()
        rec.status = resp.status_code
        rec.error_class = status_class(resp.status_code)
        try:
            self._read(rec, resp, since, counting)
        except BaseException:  # the user is being stopped (GreenletExit): no waiting for the rest
            conn.close()
            raise
        conn.done(resp, DRAIN_S if rec.error_class in (OK, MIDSTREAM_ERROR) else 0.0)

    def _read(self, rec: RequestRecord, resp: Response, since: Any, counting: bool) -> None:
        conn = self.http
        if resp.status_code != 200:
            rec.retry_after_s = retry_after_s({k.lower(): v for k, v in resp.fields().items()})
            try:
                rec.error = error_message(conn.read(resp))
            except OSError as exc:
                rec.error = _describe(exc)
            rec.e2e_s = since()
            return
        content_type = str(resp.get("content-type") or "")
        if rec.stream and not content_type.startswith("text/event-stream"):
            rec.error_class = INVALID_RESPONSE
            rec.error = f"asked for a stream, got {content_type or 'no content-type'}"
            rec.e2e_s = since()
        elif rec.stream:
            read_stream(rec, conn.body(resp), since)
        else:
            try:
                content = conn.read(resp)
            except OSError as exc:
                rec.error_class = TIMEOUT if isinstance(exc, TimeoutError) else INTERRUPTED
                rec.error, rec.e2e_s = _describe(exc), since()
                return
            (read_count if counting else read_message)(rec, content, since())


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


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
