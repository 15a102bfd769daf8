"""The newest anthropic SDK's Message Batches helpers end to end: create → poll → results."""

import time

import anthropic

from mockclaude.processes import Proc

MODEL = "claude-haiku-4-5"
POLL_LIMIT_S = 60.0


def test_batches_create_poll_results(mock: Proc) -> None:
    client = anthropic.Anthropic(api_key="sk-ant-test", base_url=mock.url)
    ask = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "Say hello."}]}
    batch = client.messages.batches.create(
        requests=[
            {"custom_id": "first", "params": ask},
            {"custom_id": "second", "params": {**ask, "messages": [{"role": "user", "content": "Count to 3."}]}},
            # Invalid params are not refused on create: that request comes back `errored`.
            {"custom_id": "bad", "params": {**ask, "max_tokens": -1}},
        ]
    )
    assert batch.type == "message_batch" and batch.processing_status == "in_progress"
    assert batch.request_counts.processing == 3 and batch.results_url is None
    assert batch.id in [b.id for b in client.messages.batches.list(limit=20)]

    deadline = time.monotonic() + POLL_LIMIT_S
    while (batch := client.messages.batches.retrieve(batch.id)).processing_status != "ended":
        assert time.monotonic() < deadline, f"batch still {batch.processing_status} after {POLL_LIMIT_S}s"
        time.sleep(0.2)
    assert batch.ended_at and batch.results_url
    assert (batch.request_counts.succeeded, batch.request_counts.errored, batch.request_counts.processing) == (2, 1, 0)

    results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
    assert set(results) == {"first", "second", "bad"}
    for custom_id in ("first", "second"):
        result = results[custom_id]
        assert result.type == "succeeded"
        assert result.message.content[0].type == "text" and result.message.usage.service_tier == "batch"
    bad = results["bad"]
    assert bad.type == "errored" and bad.error.error.type == "invalid_request_error"

    assert client.messages.batches.delete(batch.id).type == "message_batch_deleted"
