"""The Message Batches API: the real `anthropic` SDK against a real `mockclaude serve`.

create → poll → `client.messages.batches.results()`, list pagination, cancel, delete, expiry,
faults, rate limits and the errors of bad requests, each checked on the wire the SDK reads.
"""

import asyncio
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anthropic
import jsonschema
import pytest
import referencing
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mockclaude.processes import Proc, mock_server
from tests.test_reliability_fuzz import MESSAGE_LIKE
from tests.test_server_sdk import _drop_null_types

MODEL = "claude-sonnet-4-6"
POLL_LIMIT_S = 30.0  # generous: the box is shared; each batch here ends in well under a second of its clock


def params(text: str = "Hello", **kw: Any) -> dict[str, Any]:
    """A valid non-streaming create body."""
    return {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": text}], **kw}


@pytest.fixture(scope="module")
def fast() -> Iterator[Proc]:
    """Requests that take milliseconds, on a clock 1000× real time: batches end almost at once."""
    flags = ("--ttft", "0", "--tps", "5000", "--output-tokens", "5-40", "--batch-speed", "1000", "--seed", "3")
    with mock_server(*flags) as p:
        yield p


@pytest.fixture(scope="module")
def slow() -> Iterator[Proc]:
    """Each request takes 3.9 simulated s (40 tokens at 10/s) on a clock 2× real time; expiry after 6 s."""
    flags = ("--ttft", "0", "--tps", "10", "--output-tokens", "40", "--batch-speed", "2", "--batch-expiry", "6")
    with mock_server(*flags) as p:
        yield p


def client(p: Proc, key: str = "sk-ant-test", **kw: Any) -> anthropic.Anthropic:
    """The sync SDK pointed at the mock (no retries: every status is what the server said)."""
    return anthropic.Anthropic(api_key=key, base_url=p.url, max_retries=0, **kw)


def wait_ended(c: anthropic.Anthropic, batch_id: str) -> Any:
    """Poll retrieve until the batch has ended, as the docs' polling loop does."""
    deadline = time.monotonic() + POLL_LIMIT_S
    while True:
        batch = c.messages.batches.retrieve(batch_id)
        if batch.processing_status == "ended":
            return batch
        assert time.monotonic() < deadline, f"batch still {batch.processing_status} after {POLL_LIMIT_S}s"
        time.sleep(0.05)


def direct_error(c: anthropic.Anthropic, body: dict[str, Any]) -> dict[str, Any]:
    """The `error` object POST /v1/messages answers for `body` (sent as is: the SDK would refuse some)."""
    with pytest.raises(anthropic.APIStatusError) as info:
        c.post("/v1/messages", body=body, cast_to=object)
    assert isinstance(info.value.body, dict)
    return info.value.body["error"]


def raw_get(p: Proc, path: str, key: str = "sk-ant-test") -> tuple[int, dict[str, str], bytes]:
    """A plain GET with the SDK's headers, for what the SDK does not expose (status before results exist)."""
    req = urllib.request.Request(p.url + path, headers={"x-api-key": key, "anthropic-version": "2023-06-01"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@pytest.fixture(scope="module")
def spec_validator(reference_dir: Path):
    """Validators for schemas of the 2024 OpenAPI spec, by name."""
    spec = _drop_null_types(yaml.safe_load((reference_dir / "anthropic-openapi-2024-11.yaml").read_text()))
    resource = referencing.Resource.from_contents(spec, default_specification=referencing.jsonschema.DRAFT202012)
    registry = referencing.Registry().with_resource("urn:spec", resource)

    def validator(name: str) -> jsonschema.protocols.Validator:
        return jsonschema.Draft202012Validator({"$ref": f"urn:spec#/components/schemas/{name}"}, registry=registry)

    return validator


def test_create_poll_results(fast: Proc) -> None:
    c = client(fast)
    bad = {
        "no-max-tokens": {"model": MODEL, "messages": [{"role": "user", "content": "x"}]},
        "no-messages": params() | {"messages": []},
        "unknown-model": params() | {"model": "claude-nonexistent-9"},
        "too-many-tokens": params() | {"max_tokens": 10_000_000},
    }
    requests = [{"custom_id": f"ok-{i}", "params": params(f"question {i}")} for i in range(6)]
    requests += [{"custom_id": cid, "params": body} for cid, body in bad.items()]
    created = c.messages.batches.create(requests=requests)
    assert created.id.startswith("msgbatch_") and created.type == "message_batch"
    assert created.processing_status == "in_progress" and created.results_url is None and created.ended_at is None
    assert created.request_counts.processing == len(requests)
    # expires_at is 24 h of the batch's clock after creation: 86.4 real seconds at --batch-speed 1000.
    assert created.expires_at - created.created_at == timedelta(seconds=86.4)

    batch = wait_ended(c, created.id)
    counts = batch.request_counts
    assert (counts.processing, counts.succeeded, counts.errored, counts.canceled, counts.expired) == (0, 6, 4, 0, 0)
    assert batch.ended_at is not None and batch.created_at <= batch.ended_at <= batch.expires_at
    assert batch.results_url == f"{fast.url}/v1/messages/batches/{batch.id}/results"
    assert batch.cancel_initiated_at is None and batch.archived_at is None

    results = {r.custom_id: r.result for r in c.messages.batches.results(batch.id)}
    assert set(results) == {r["custom_id"] for r in requests}
    for i in range(6):
        result = results[f"ok-{i}"]
        assert result.type == "succeeded"
        msg = result.message
        assert msg.id.startswith("msg_") and msg.role == "assistant" and msg.model == MODEL
        assert msg.content[0].type == "text" and msg.content[0].text
        assert msg.usage.service_tier == "batch"
        assert 5 <= msg.usage.output_tokens <= 40
        # The same input count a direct request gets.
        counted = c.messages.count_tokens(model=MODEL, messages=params(f"question {i}")["messages"])
        assert msg.usage.input_tokens == counted.input_tokens
    # Invalid params come back errored with the very error a direct request gets.
    for cid, body in bad.items():
        result = results[cid]
        assert result.type == "errored", cid
        assert result.error.type == "error"
        assert result.error.error.model_dump() == direct_error(c, body), cid


def test_wire_format_matches_the_spec(fast: Proc, spec_validator) -> None:
    c = client(fast)
    raw = c.messages.batches.with_raw_response.create(
        requests=[{"custom_id": "a", "params": params()}, {"custom_id": "b", "params": {"model": MODEL}}]
    )
    assert raw.headers["content-type"].startswith("application/json")
    assert raw.headers["request-id"].startswith("req_")
    assert raw.headers["anthropic-ratelimit-requests-limit"]
    assert "anthropic-ratelimit-input-tokens-limit" not in raw.headers  # the batch endpoints take no tokens
    body = json.loads(raw.http_response.text)
    spec_validator("BetaMessageBatch").validate(body)
    # Times as the API writes them: microseconds and Z.
    assert body["created_at"].endswith("Z") and len(body["created_at"]) == len("2024-09-24T18:39:03.114875Z")
    wait_ended(c, body["id"])
    status, headers, data = raw_get(fast, f"/v1/messages/batches/{body['id']}/results")
    assert status == 200 and headers["Content-Type"] == "application/x-jsonl"
    lines = data.split(b"\n")
    assert lines[-1] == b"" and all(lines[:-1]), "one JSON object per line, no blank lines"
    line_schema = spec_validator("BetaMessageBatchIndividualResponse")
    for line in lines[:-1]:
        line_schema.validate(json.loads(line))
    errored = next(json.loads(x) for x in lines[:-1] if json.loads(x)["custom_id"] == "b")
    assert errored["result"] == {
        "type": "errored",
        "error": {"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"}},
    }


def test_stream_inside_a_batch_is_errored(fast: Proc) -> None:
    c = client(fast)
    batch = c.messages.batches.create(requests=[{"custom_id": "s", "params": params(stream=True)}])
    wait_ended(c, batch.id)
    [result] = list(c.messages.batches.results(batch.id))
    assert result.result.type == "errored"
    assert result.result.error.error.message == "stream: Input should be False"


def test_async_client(fast: Proc) -> None:
    async def go() -> list[Any]:
        async with anthropic.AsyncAnthropic(api_key="sk-ant-async", base_url=fast.url, max_retries=0) as c:
            batch = await c.messages.batches.create(
                requests=[{"custom_id": f"q{i}", "params": params(f"q{i}")} for i in range(3)]
            )
            deadline = time.monotonic() + POLL_LIMIT_S
            while batch.processing_status != "ended":
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
                batch = await c.messages.batches.retrieve(batch.id)
            return [r async for r in await c.messages.batches.results(batch.id)]

    results = asyncio.run(go())
    assert sorted(r.custom_id for r in results) == ["q0", "q1", "q2"]
    assert all(r.result.type == "succeeded" and r.result.message.usage.service_tier == "batch" for r in results)


def test_list_pagination_newest_first(fast: Proc) -> None:
    c = client(fast, key="sk-ant-lister")  # batches are per key: other tests' batches are not listed here
    made = [c.messages.batches.create(requests=[{"custom_id": "x", "params": params()}]).id for _ in range(5)]
    newest_first = made[::-1]
    page = c.messages.batches.list(limit=2)
    assert [b.id for b in page.data] == newest_first[:2]
    assert page.has_more and page.first_id == newest_first[0] and page.last_id == newest_first[1]
    nxt = c.messages.batches.list(limit=2, after_id=page.last_id)
    assert [b.id for b in nxt.data] == newest_first[2:4] and nxt.has_more
    last = c.messages.batches.list(limit=2, after_id=nxt.last_id)
    assert [b.id for b in last.data] == newest_first[4:] and not last.has_more
    back = c.messages.batches.list(limit=2, before_id=newest_first[4])
    assert [b.id for b in back.data] == newest_first[2:4] and back.has_more
    # The SDK's auto-pagination walks every page.
    assert [b.id for b in c.messages.batches.list(limit=2)] == newest_first
    assert [b.id for b in c.messages.batches.list()] == newest_first  # default limit 20
    assert client(fast, key="sk-ant-nobody").messages.batches.list().data == []
    with pytest.raises(anthropic.BadRequestError, match="limit: Input should be greater than or equal to 1"):
        c.messages.batches.list(limit=0)
    with pytest.raises(anthropic.BadRequestError, match="after_id: invalid cursor"):
        c.messages.batches.list(after_id="msgbatch_nope")
    # Another key cannot see or touch these batches.
    with pytest.raises(anthropic.NotFoundError):
        client(fast, key="sk-ant-nobody").messages.batches.retrieve(made[0])


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        ([], "requests: List should have at least 1 item after validation, not 0"),
        (
            [{"custom_id": "has space", "params": params()}],
            "requests.0.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'",
        ),
        (
            [{"custom_id": "x" * 65, "params": params()}],
            "requests.0.custom_id: String should have at most 64 characters",
        ),
        ([{"custom_id": "", "params": params()}], "requests.0.custom_id: String should have at least 1 character"),
        (
            [{"custom_id": "a", "params": params()}, {"custom_id": "a", "params": params()}],
            "requests.1.custom_id: custom_id 'a' is used by more than one request in the batch",
        ),
        ([{"custom_id": "a"}], "requests.0.params: Field required"),
        ([{"custom_id": "a", "params": params(), "extra": 1}], "requests.0.extra: Extra inputs are not permitted"),
        ([{"custom_id": 7, "params": params()}], "requests.0.custom_id: Input should be a valid string"),
    ],
)
def test_bad_envelope_is_a_400(fast: Proc, requests: list[Any], message: str) -> None:
    with pytest.raises(anthropic.BadRequestError) as info:
        client(fast).messages.batches.create(requests=requests)
    assert info.value.body["error"] == {"type": "invalid_request_error", "message": message}


def test_cancel_lets_started_requests_finish(slow: Proc) -> None:
    c = client(slow, key="sk-ant-cancel")
    # 40 requests on 16 lanes: the first 16 start at once and take 3.9 s of the batch's clock (1.95 s real).
    batch = c.messages.batches.create(requests=[{"custom_id": f"r{i}", "params": params()} for i in range(40)])
    status, _, body = raw_get(slow, f"/v1/messages/batches/{batch.id}/results", key="sk-ant-cancel")
    assert status == 404 and json.loads(body)["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.BadRequestError, match="still processing"):
        c.messages.batches.delete(batch.id)
    canceling = c.messages.batches.cancel(batch.id)
    assert canceling.processing_status == "canceling" and canceling.cancel_initiated_at is not None
    assert canceling.request_counts.processing == 40
    ended = wait_ended(c, batch.id)
    counts = ended.request_counts
    assert (counts.succeeded, counts.canceled, counts.errored, counts.expired) == (16, 24, 0, 0)
    assert ended.cancel_initiated_at <= ended.ended_at
    kinds = [r.result.type for r in c.messages.batches.results(batch.id)]
    assert kinds.count("succeeded") == 16 and kinds.count("canceled") == 24
    with pytest.raises(anthropic.BadRequestError, match="already ended"):
        c.messages.batches.cancel(batch.id)
    deleted = c.messages.batches.delete(batch.id)
    assert (deleted.id, deleted.type) == (batch.id, "message_batch_deleted")
    with pytest.raises(anthropic.NotFoundError):
        c.messages.batches.retrieve(batch.id)


def test_unfinished_requests_expire(slow: Proc) -> None:
    c = client(slow, key="sk-ant-expiry")
    requests = [{"custom_id": f"r{i}", "params": params()} for i in range(40)]
    requests.append({"custom_id": "bad", "params": {"model": MODEL}})
    batch = c.messages.batches.create(requests=requests)
    # --batch-expiry 6 at --batch-speed 2: expires_at is 3 real seconds after creation.
    assert batch.expires_at - batch.created_at == timedelta(seconds=3)
    ended = wait_ended(c, batch.id)
    # The first wave (16 × 3.9 s) ends before the 6 s expiry; the second would end at 7.8 s.
    counts = ended.request_counts
    assert (counts.succeeded, counts.errored, counts.expired, counts.canceled) == (16, 1, 24, 0)
    assert ended.ended_at == ended.expires_at
    kinds = {r.custom_id: r.result.type for r in c.messages.batches.results(batch.id)}
    assert kinds["bad"] == "errored" and list(kinds.values()).count("expired") == 24


def test_faults_make_results_errored(fast: Proc) -> None:
    c = client(fast, key="sk-ant-faults")
    for kind, error_type in (("529", "overloaded_error"), ("500", "api_error"), ("midstream", "overloaded_error")):
        batch = c.messages.batches.create(
            requests=[{"custom_id": f"f{i}", "params": params()} for i in range(3)],
            extra_headers={"x-mockclaude-fault": kind},
        )
        wait_ended(c, batch.id)
        results = list(c.messages.batches.results(batch.id))
        assert [r.result.type for r in results] == ["errored"] * 3, kind
        assert {r.result.error.error.type for r in results} == {error_type}
    with pytest.raises(anthropic.RateLimitError):
        c.messages.batches.create(
            requests=[{"custom_id": "x", "params": params()}], extra_headers={"x-mockclaude-fault": "429"}
        )
    with pytest.raises(anthropic.BadRequestError, match="x-mockclaude-fault: unknown kind"):
        c.messages.batches.create(
            requests=[{"custom_id": "x", "params": params()}], extra_headers={"x-mockclaude-fault": "boom"}
        )


def test_random_faults_hit_some_results() -> None:
    with mock_server("--ttft", "0", "--tps", "5000", "--output-tokens", "5", "--batch-speed", "1000",
                     "--fault", "529:0.5", "--seed", "5") as p:  # fmt: skip
        c = client(p)
        batch = c.messages.batches.create(requests=[{"custom_id": f"r{i}", "params": params()} for i in range(60)])
        counts = wait_ended(c, batch.id).request_counts
        # 60 draws at p=0.5: 30 ± 3.9 expected; 12..48 is beyond 4.5 standard deviations either way.
        assert counts.errored + counts.succeeded == 60 and 12 <= counts.errored <= 48


def test_rate_limits_and_queue() -> None:
    flags = ("--rate-limit", "4rpm", "--batch-queue", "3", "--ttft", "20", "--tps", "1000", "--output-tokens", "5")
    with mock_server(*flags) as p:
        c = client(p)
        first = c.messages.batches.with_raw_response.create(
            requests=[{"custom_id": f"r{i}", "params": params()} for i in range(2)]
        )  # call 1; its requests take 20 s, so they stay queued
        assert first.headers["anthropic-ratelimit-requests-limit"] == "4"
        assert first.headers["anthropic-ratelimit-requests-remaining"] == "3"
        with pytest.raises(anthropic.RateLimitError, match="3 batch requests in the processing queue"):
            c.messages.batches.create(requests=[{"custom_id": f"r{i}", "params": params()} for i in range(2)])  # 2
        c.messages.batches.retrieve(first.parse().id)  # call 3
        c.messages.batches.list()  # call 4
        with pytest.raises(anthropic.RateLimitError) as info:
            c.messages.batches.list()  # call 5: over 4 rpm
        assert int(info.value.response.headers["retry-after"]) >= 1
        assert "anthropic-ratelimit-input-tokens-limit" not in info.value.response.headers
        # The batch endpoints' bucket is their own: Messages still admits this key.
        patch = urllib.request.Request(p.url + "/_mockclaude/config", data=b'{"ttft": "0"}', method="PATCH")
        assert urllib.request.urlopen(patch, timeout=10).status == 200
        assert c.messages.create(**params()).usage.output_tokens == 5
        # Admin reset forgets every batch (and refills the buckets).
        urllib.request.urlopen(urllib.request.Request(p.url + "/_mockclaude/reset", method="POST"), timeout=10)
        with pytest.raises(anthropic.NotFoundError):
            c.messages.batches.retrieve(first.parse().id)


def test_workers_refuse_batches() -> None:
    with (
        mock_server("--workers", "2", timeout=60) as p,
        pytest.raises(anthropic.BadRequestError, match="needs a single server process"),
    ):
        client(p).messages.batches.create(requests=[{"custom_id": "x", "params": params()}])


def test_batch_flags_are_checked() -> None:
    for flag, value in (("--batch-speed", "0"), ("--batch-expiry", "-1"), ("--batch-queue", "zero")):
        out = subprocess.run(
            [sys.executable, "-m", "mockclaude", "serve", "--port", "0", flag, value],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 2 and flag in out.stderr, out.stderr


def test_a_batch_may_be_larger_than_a_message(fast: Proc) -> None:
    """The batch endpoint takes up to 256 MB; POST /v1/messages stops at 32 MB (413)."""
    c = client(fast, key="sk-ant-big")
    big = params(metadata={"user_id": "u" * 40_000_000})
    with pytest.raises(anthropic.APIStatusError) as info:
        c.messages.create(**big)
    assert info.value.status_code == 413
    batch = c.messages.batches.create(requests=[{"custom_id": "big", "params": big}])
    assert wait_ended(c, batch.id).request_counts.succeeded == 1


@pytest.fixture(scope="module")
def any_model() -> Iterator[Proc]:
    """Fast, and accepting any model name, so generated params get past the model check."""
    flags = ("--ttft", "0", "--tps", "100000", "--output-tokens", "1-8", "--any-model", "--batch-speed", "1000")
    with mock_server(*flags, "--seed", "11") as p:
        yield p


def raw_post(p: Proc, path: str, body: Any) -> tuple[int, bytes]:
    """POST `body` as JSON with the SDK's headers; the status and the raw answer."""
    req = urllib.request.Request(
        p.url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"x-api-key": "sk-ant-fuzz", "anthropic-version": "2023-06-01", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
@given(bodies=st.lists(MESSAGE_LIKE, min_size=1, max_size=4))
def test_any_params_get_the_answer_a_direct_call_gets(any_model: Proc, bodies: list[dict[str, Any]]) -> None:
    """Generated params (mostly invalid): each result is what POST /v1/messages says of the same body."""
    try:
        json.dumps(bodies, allow_nan=False)
    except ValueError:
        assume(False)  # infinities: not JSON, so not a batch (the body would be a 400 as a whole)
    requests = [{"custom_id": f"r{i}", "params": b} for i, b in enumerate(bodies)]
    status, created = raw_post(any_model, "/v1/messages/batches", {"requests": requests})
    assert status == 200, created
    batch_id = json.loads(created)["id"]
    c = client(any_model, key="sk-ant-fuzz")
    wait_ended(c, batch_id)
    _, _, data = raw_get(any_model, f"/v1/messages/batches/{batch_id}/results", key="sk-ant-fuzz")
    results = {line["custom_id"]: line["result"] for line in map(json.loads, data.splitlines())}
    for i, body in enumerate(bodies):
        result = results[f"r{i}"]
        direct_status, direct = raw_post(any_model, "/v1/messages", body)
        if direct_status == 200:
            expected = "errored" if body.get("stream") is True else "succeeded"
            assert result["type"] == expected, (body, result)
        else:
            envelope = {k: v for k, v in json.loads(direct).items() if k != "request_id"}
            assert result == {"type": "errored", "error": envelope}, body
    assert "Traceback" not in any_model.output(), any_model.output()
