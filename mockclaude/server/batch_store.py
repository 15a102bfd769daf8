"""Message Batches in the server's memory, processed over simulated time.

The model: a batch works through its requests `LANES` at a time, in order; each request takes as
long as the same request would take to generate directly (TTFT + output tokens / tokens per
second, from the same settings and model profiles), a request that fails validation takes no time.
The batch's clock runs `speed` times faster than real time (`serve --batch-speed`). Requests not done
`expiry_s` simulated seconds after creation are `expired` (the API's 24 hours; `--batch-expiry`).
A cancel at simulated time c lets the requests already started finish; the others are `canceled`.

Answers are planned by a background task as soon as the batch is created (in slices, so a 100,000
request batch never stalls other traffic). Which requests succeed, expire or are canceled depends
only on the planned durations (and the moment of a cancel), never on how fast the mock plans: the
same seed gives the same outcome on a loaded machine. A batch is not seen to end before its planning
is done, so at speeds where planning cannot keep up, it ends later than its clock says. Everything
else (status, counts, ended_at) is computed from the planned times when asked: no timer per batch.
"""

import asyncio
import heapq
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from mockclaude.limits.ratelimit import RateLimiter, RateLimits
from mockclaude.wire import batches as wb
from mockclaude.wire import ids
from mockclaude.wire.errors import ApiError

log = logging.getLogger("mockclaude.server.batches")

# Requests of one batch in progress at once (our choice: the API publishes no figure; 16 keeps a
# 100-request batch of typical answers under a minute of simulated time).
LANES = 16
DAY_S = 24 * 3600.0  # [DOCS] "expires_at: 24 hours after the Message Batch is created"
# [REF §5] Tier 1: 100,000 batch requests in the processing queue (all batches not yet ended).
DEFAULT_QUEUE = 100_000
# The planner yields to the event loop after this much work, so other requests keep their schedule.
SLICE_S = 0.005


@dataclass(frozen=True)
class BatchOptions:
    """How batches behave, fixed at start (`serve --batch-speed/--batch-expiry/--batch-queue`)."""

    speed: float = 1.0  # simulated seconds per real second
    expiry_s: float = DAY_S  # simulated seconds after which unfinished requests expire
    queue: int = DEFAULT_QUEUE  # requests per API key in batches that have not ended


@dataclass(frozen=True)
class Planned:
    """One request's answer: its result (a `succeeded` or `errored` result object) and how long it takes."""

    result: dict[str, Any]
    duration_s: float


# Plans the answer to one request's params (validation included); given by the server's handlers.
Planner = Callable[[Any], Awaitable[Planned]]


@dataclass(eq=False)
class Batch:
    """One batch: its requests, and per planned request its simulated start, end and result line."""

    id: str
    key: str
    custom_ids: list[str]
    params: list[Any]
    created_mono: float
    created_wall: float
    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # "succeeded" | "errored"
    lines: list[bytes] = field(default_factory=list)
    cancel_sim: float | None = None
    planned_sim: float | None = None  # when planning was done, in simulated seconds
    final_sim: float | None = None  # when it ends, once that is known
    task: asyncio.Task[None] | None = None


class BatchStore:
    """Every batch of this server process, per API key."""

    def __init__(self, options: BatchOptions, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.options = options
        self._clock = clock
        self._batches: dict[str, Batch] = {}  # insertion order = creation order
        self._limiter: tuple[RateLimits | None, RateLimiter] | None = None

    # -- time ---------------------------------------------------------------------------------

    def _sim(self, b: Batch) -> float:
        return (self._clock() - b.created_mono) * self.options.speed

    def _wall(self, b: Batch, sim: float) -> float:
        # On the microsecond grid the API writes: an offset from the creation is then exact to the
        # microsecond (epoch floats carry ~0.2 us of rounding, which could flip the last digit).
        return round(b.created_wall + sim / self.options.speed, 6)

    def ended_sim(self, b: Batch) -> float | None:
        """When `b` ended in simulated seconds, or None while it is processing."""
        if b.final_sim is None:
            return None  # still being planned
        return b.final_sim if self._sim(b) >= b.final_sim else None

    def _settle(self, b: Batch) -> None:
        """Fix when `b` ends, once its planning is over: when the last request that runs is done
        (at the latest at expiry), or when planning was over if that came later."""
        assert b.planned_sim is not None
        c = b.cancel_sim
        last = max((e for s, e in zip(b.starts, b.ends, strict=True) if c is None or s < c), default=0.0)
        b.final_sim = max(min(self.options.expiry_s, max(last, c or 0.0)), b.planned_sim)

    # -- lifecycle ------------------------------------------------------------------------------

    def create(self, key: str, requests: list[wb.BatchRequest], planner: Planner) -> Batch:
        """A new batch whose answers are planned from now on; 429 if the key's queue would overflow."""
        queued = sum(len(b.custom_ids) for b in self._batches.values() if b.key == key and self.ended_sim(b) is None)
        if queued + len(requests) > self.options.queue:
            # [EST] wording; the limit is [REF §5] "100,000 queued batch requests" (Tier 1).
            raise ApiError(
                429,
                f"This request would exceed your organization's limit of {self.options.queue:,} batch requests "
                f"in the processing queue ({queued:,} queued, {len(requests):,} in this batch). Wait for "
                "batches to end, or cancel some, and try again.",
                headers={"retry-after": "60"},
            )
        batch = Batch(
            id=ids.batch_id(),
            key=key,
            custom_ids=[r.custom_id for r in requests],
            params=[r.params for r in requests],
            created_mono=self._clock(),
            created_wall=round(time.time(), 6),
        )
        self._batches[batch.id] = batch
        batch.task = asyncio.get_running_loop().create_task(self._plan(batch, planner))
        return batch

    async def _plan(self, b: Batch, planner: Planner) -> None:
        """Plan every request in order on LANES lanes (all of them, even after a cancel, so that an
        invalid request is always `errored`, whenever it comes)."""
        loop = asyncio.get_running_loop()
        lanes = [0.0] * LANES
        slice_start = loop.time()
        for i, params in enumerate(b.params):
            try:
                planned = await planner(params)
            except ApiError as err:
                planned = Planned(wb.errored(err.error_type, err.message), 0.0)
            except Exception:
                log.exception("planning request %d of batch %s", i, b.id)
                planned = Planned(wb.errored("api_error", "Internal server error"), 0.0)
            start = 0.0  # a request that fails validation takes no lane and no time
            if planned.duration_s > 0:
                start = heapq.heappop(lanes)
                heapq.heappush(lanes, start + planned.duration_s)
            b.starts.append(start)
            b.ends.append(start + planned.duration_s)
            b.kinds.append(planned.result["type"])
            b.lines.append(orjson.dumps(wb.result_line(b.custom_ids[i], planned.result)) + b"\n")
            if loop.time() - slice_start > SLICE_S:
                await asyncio.sleep(0)
                slice_start = loop.time()
        b.params = []  # planned: the request bodies are no longer needed
        b.planned_sim = self._sim(b)
        self._settle(b)

    def cancel(self, key: str, batch_id: str) -> Batch:
        """Start canceling: requests not started yet will be `canceled`; 400 if the batch has ended."""
        b = self.get(key, batch_id)
        if self.ended_sim(b) is not None:
            # [EST] wording: the API only says "Batches may be canceled any time before processing ends".
            raise ApiError(400, f"Message Batch {batch_id} has already ended and can no longer be canceled.")
        if b.cancel_sim is None:
            b.cancel_sim = self._sim(b)
            if b.planned_sim is not None:
                self._settle(b)
        return b

    def delete(self, key: str, batch_id: str) -> None:
        """Forget an ended batch; 400 while it is processing ([SDK] delete: cancel it first)."""
        b = self.get(key, batch_id)
        if self.ended_sim(b) is None:
            # [EST] wording of the documented rule.
            raise ApiError(
                400,
                f"Message Batch {batch_id} is still processing. Batches can only be deleted once they have "
                "ended; cancel it first and wait for it to end.",
            )
        del self._batches[batch_id]

    def clear(self) -> None:
        """Forget every batch (admin reset) and refill the batch endpoints' rate limits."""
        for b in self._batches.values():
            if b.task is not None:
                b.task.cancel()
        self._batches.clear()
        self._limiter = None

    # -- reading ------------------------------------------------------------------------------

    def get(self, key: str, batch_id: str) -> Batch:
        """The key's batch with this id; 404 otherwise (batches are private to the key that made them)."""
        b = self._batches.get(batch_id)
        if b is None or b.key != key:
            # [EST] wording.
            raise ApiError(404, f"Message Batch {batch_id} not found.")
        return b

    def newest_first(self, key: str) -> list[Batch]:
        """The key's batches, most recently created first (the list endpoint's order)."""
        return [b for b in reversed(self._batches.values()) if b.key == key]

    def _outcome(self, b: Batch, i: int) -> str:
        c = b.cancel_sim
        if c is not None and b.starts[i] >= c:
            return "canceled"
        if b.ends[i] > self.options.expiry_s:
            return "expired"
        return b.kinds[i]

    def to_json(self, b: Batch, results_base: str) -> dict[str, Any]:
        """The MessageBatch as of now; `results_base` is the base URL the client reached us at."""
        ended = self.ended_sim(b)
        counts = {"processing": len(b.custom_ids), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if ended is not None:
            # [SDK] request_counts: requests move out of `processing` only once the whole batch has ended.
            counts["processing"] = 0
            for i in range(len(b.custom_ids)):
                counts[self._outcome(b, i)] += 1
        status = "ended" if ended is not None else ("canceling" if b.cancel_sim is not None else "in_progress")
        return wb.batch_object(
            batch_id=b.id,
            status=status,
            counts=counts,
            created_at=b.created_wall,
            expires_at=self._wall(b, self.options.expiry_s),
            ended_at=None if ended is None else self._wall(b, ended),
            cancel_initiated_at=None if b.cancel_sim is None else self._wall(b, b.cancel_sim),
            results_url=None if ended is None else f"{results_base}/v1/messages/batches/{b.id}/results",
        )

    def results(self, key: str, batch_id: str) -> Iterator[bytes]:
        """The result lines of an ended batch in the order requests finished; 404 before it ends."""
        b = self.get(key, batch_id)
        if self.ended_sim(b) is None:
            # [EST] the SDK never asks before `results_url` is set; a direct GET gets a not-found.
            raise ApiError(404, f"Message Batch {batch_id} has not ended yet; its results are not available.")
        return self._lines(b)

    def _lines(self, b: Batch) -> Iterator[bytes]:
        done = [i for i in range(len(b.kinds)) if self._outcome(b, i) in ("succeeded", "errored")]
        done.sort(key=lambda i: b.ends[i])
        for i in done:
            yield b.lines[i]
        finished = set(done)
        for i, custom_id in enumerate(b.custom_ids):
            if i not in finished:
                yield orjson.dumps(wb.result_line(custom_id, {"type": self._outcome(b, i)})) + b"\n"

    # -- rate limits ----------------------------------------------------------------------------

    def limiter(self, limits: RateLimits | None, org_id: str) -> RateLimiter:
        """The batch endpoints' own RPM bucket per key (the API limits them apart from Messages)."""
        rpm = RateLimits(rpm=limits.rpm) if limits is not None and limits.rpm is not None else None
        if self._limiter is None or self._limiter[0] != rpm:
            self._limiter = (rpm, RateLimiter(rpm, org_id=org_id))
        return self._limiter[1]
