"""The Message Batches API's format: the create body's envelope, the MessageBatch object, result lines.

Sources: [SDK] anthropic-sdk-python `resources/messages/batches.py` and `types/messages/*.py`;
[DOCS] the batch-processing guide ("Batch limitations"); [SPEC] the 2024-11 OpenAPI spec
(/work/shared/reference/anthropic-openapi-2024-11.yaml: `BetaCreateMessageBatchParams` and
`BetaMessageBatchIndividualRequestParams` have `additionalProperties: false`). Texts marked
[EST] are our wording in the API's pydantic style: no real response with them was found.

The `params` of each request are not checked here: the API validates them asynchronously and
reports a bad one as an `errored` result once the batch has ended [DOCS].
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mockclaude.wire.errors import ApiError, error_body

# [DOCS] "A Message Batch is limited to either 100,000 Message requests or 256 MB in size, whichever
# is reached first." Bytes as pydantic-ai's client counts them (MAX_BATCH_BYTES = 256_000_000 - envelope).
MAX_REQUESTS = 100_000
MAX_BATCH_BYTES = 256_000_000
# [DOCS] / [SPEC]: 1 to 64 characters, alphanumerics, hyphens and underscores.
CUSTOM_ID_PATTERN = "^[a-zA-Z0-9_-]{1,64}$"
_CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_REQUEST_FIELDS = frozenset({"custom_id", "params"})


@dataclass(frozen=True)
class BatchRequest:
    """One request of a batch as created: its custom_id and its (not yet validated) params."""

    custom_id: str
    params: Any


def _fail(loc: str, message: str) -> ApiError:
    return ApiError(400, f"{loc}: {message}")


def parse_create(body: Any) -> list[BatchRequest]:
    """The requests of a POST /v1/messages/batches body; ApiError(400) if the envelope is bad."""
    if not isinstance(body, dict):
        raise ApiError(400, "Input should be a valid dictionary or object to extract fields from")
    for key in body:
        if key != "requests":
            raise _fail(key, "Extra inputs are not permitted")
    if "requests" not in body:
        raise _fail("requests", "Field required")
    items = body["requests"]
    if not isinstance(items, list):
        raise _fail("requests", "Input should be a valid list")
    if not items:
        raise _fail("requests", "List should have at least 1 item after validation, not 0")  # [EST]
    if len(items) > MAX_REQUESTS:
        # [EST] wording; the limit is [DOCS].
        raise _fail("requests", f"List should have at most {MAX_REQUESTS} items after validation, not {len(items)}")
    out: list[BatchRequest] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        loc = f"requests.{i}"
        if not isinstance(item, dict):
            raise _fail(loc, "Input should be a valid dictionary or object to extract fields from")
        for key in item:
            if key not in _REQUEST_FIELDS:
                raise _fail(f"{loc}.{key}", "Extra inputs are not permitted")
        for key in ("custom_id", "params"):
            if key not in item:
                raise _fail(f"{loc}.{key}", "Field required")
        custom_id, params = item["custom_id"], item["params"]
        check_custom_id(custom_id, f"{loc}.custom_id")
        if custom_id in seen:
            # [EST] the rule is [SDK] batch_create_params.Request: "Must be unique for each request".
            raise _fail(f"{loc}.custom_id", f"custom_id {custom_id!r} is used by more than one request in the batch")
        seen.add(custom_id)
        if not isinstance(params, dict):
            raise _fail(f"{loc}.params", "Input should be a valid dictionary or object to extract fields from")
        out.append(BatchRequest(custom_id, params))
    return out


def check_custom_id(value: Any, loc: str) -> None:
    """A custom_id as [SPEC] constrains it, with pydantic's messages in its order (type, length, pattern)."""
    if not isinstance(value, str):
        raise _fail(loc, "Input should be a valid string")
    if not value:
        raise _fail(loc, "String should have at least 1 character")
    if len(value) > 64:
        raise _fail(loc, "String should have at most 64 characters")
    if not _CUSTOM_ID.fullmatch(value):
        raise _fail(loc, f"String should match pattern '{CUSTOM_ID_PATTERN}'")


def timestamp(ts: float) -> str:
    """RFC 3339 with microseconds and `Z`, as the API writes batch times (`2024-09-24T18:39:03.114875Z`)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _stamp(ts: float | None) -> str | None:
    return None if ts is None else timestamp(ts)


def batch_object(
    *,
    batch_id: str,
    status: str,
    counts: dict[str, int],
    created_at: float,
    expires_at: float,
    ended_at: float | None,
    cancel_initiated_at: float | None,
    results_url: str | None,
) -> dict[str, Any]:
    """A MessageBatch ([SDK] types/messages/message_batch.py); times are Unix seconds."""
    return {
        "id": batch_id,
        "type": "message_batch",
        "processing_status": status,
        "request_counts": counts,
        "ended_at": _stamp(ended_at),
        "created_at": timestamp(created_at),
        "expires_at": timestamp(expires_at),
        # Results stay for 29 days, then the batch is archived [DOCS]; a mock never runs that long.
        "archived_at": None,
        "cancel_initiated_at": _stamp(cancel_initiated_at),
        "results_url": results_url,
    }


def deleted(batch_id: str) -> dict[str, Any]:
    """The body of DELETE /v1/messages/batches/{id} ([SDK] deleted_message_batch.py)."""
    return {"id": batch_id, "type": "message_batch_deleted"}


def succeeded(message: dict[str, Any]) -> dict[str, Any]:
    """The result of a request that produced a Message."""
    return {"type": "succeeded", "message": message}


def errored(error_type: str, message: str) -> dict[str, Any]:
    """The result of a failed request: the API's error envelope ([SDK] message_batch_errored_result.py)."""
    envelope = error_body(error_type, message, None)
    del envelope["request_id"]  # the envelope inside a result has no request of its own
    return {"type": "errored", "error": envelope}


def result_line(custom_id: str, result: dict[str, Any]) -> dict[str, Any]:
    """One line of the results file; a `canceled` or `expired` result is just `{"type": kind}`."""
    return {"custom_id": custom_id, "result": result}
