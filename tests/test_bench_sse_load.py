"""bench.sse_load: a stream's moments timed when their data reached the socket, whatever the client's lag."""

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from bench import sse_load
from bench.harness import message_body
from mockclaude.processes import Proc, mock_server

TTFT_S = 0.3


@pytest.fixture(scope="module")
def mock() -> Iterator[Proc]:
    with mock_server("--ttft", str(TTFT_S), "--prefill-tps", "1e12", "--tps", "100", "--output-tokens", "10") as p:
        yield p


def _spec(proc: Proc, streams: int) -> dict[str, object]:
    host, port = proc.url.removeprefix("http://").split(":")
    body = message_body(10, stream=True)
    return {"host": host, "port": int(port), "body": body, "streams": streams, "ramp_s": 0.0, "timeout_s": 20.0}


@pytest.mark.skipif(sys.platform != "linux", reason="the kernel's receive stamps (SO_TIMESTAMPNS) are Linux's")
def test_a_client_busy_when_the_first_delta_arrives_does_not_move_its_stamp(mock: Proc) -> None:
    async def blocked_run() -> tuple[list[sse_load.StreamRecord], float]:
        # Headers come at once, the first delta TTFT_S later: the loop is blocked over that moment.
        asyncio.get_running_loop().call_later(0.1, time.sleep, 0.6)
        lag = [0.0]
        return await sse_load.run(_spec(mock, 1), lag), lag[0]

    (rec,), lag = asyncio.run(blocked_run())
    assert rec.complete and rec.status == 200 and rec.output_tokens == 10 and rec.deltas > 1, rec
    assert rec.connected <= rec.first_byte_k <= rec.first_byte
    assert rec.first_byte_k <= rec.first_delta_k <= rec.first_delta
    # The stamp is when the delta arrived (about TTFT_S after the request); the client read it only
    # when the loop was free again, past 0.7 s.
    assert TTFT_S - 0.05 < rec.first_delta_k - rec.connected < TTFT_S + 0.2
    assert rec.first_delta - rec.connected > 0.65
    assert lag >= 0.55  # the blocked loop shows as the client's lag


def test_records_and_the_client_report_from_a_real_run(mock: Proc) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.sse_load", json.dumps(_spec(mock, 5))],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    *records, report = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(records) == 5
    for r in records:
        assert r["complete"] and r["status"] == 200 and r["output_tokens"] == 10 and not r["error"], r
        assert r["start"] <= r["connected"] <= r["first_byte"] <= r["first_delta"] <= r["last_delta"]
        if sys.platform == "linux":
            assert r["connected"] <= r["first_delta_k"] <= r["first_delta"]
    assert report["client_cpu_s"] > 0 and report["client_lag_max_s"] >= 0
