"""The streaming send path under stress: stalled readers, disconnects, settlement, lateness counts."""

import json
import socket
import time
import urllib.request
from typing import Any

from mockclaude.processes import Proc, mock_server

MODEL = "claude-sonnet-4-6"


def raw_stream(p: Proc, max_tokens: int, key: str = "sk-ant-a", rcvbuf: int = 4096) -> socket.socket:
    """Open a streaming request on a raw socket and return it unread (a small window fills up fast)."""
    host, port = p.url.removeprefix("http://").split(":")
    body = json.dumps(
        {"model": MODEL, "max_tokens": max_tokens, "stream": True, "messages": [{"role": "user", "content": "x"}]}
    ).encode()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect((host, int(port)))
    head = (
        f"POST /v1/messages HTTP/1.1\r\nHost: {host}\r\nx-api-key: {key}\r\nanthropic-version: 2023-06-01\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def stats(p: Proc) -> dict[str, Any]:
    """The mock's admin counters."""
    with urllib.request.urlopen(f"{p.url}/_mockclaude/stats", timeout=10) as r:
        return json.loads(r.read())


def timed_stream(p: Proc, max_tokens: int) -> tuple[list[float], bytes]:
    """Read one whole stream; the arrival times of its content deltas and the raw bytes."""
    start = time.monotonic()
    sock = raw_stream(p, max_tokens, rcvbuf=1 << 20)
    times: list[float] = []
    data = b""
    while b"message_stop" not in data:
        chunk = sock.recv(65536)
        assert chunk, "stream ended early"
        times.extend([time.monotonic() - start] * chunk.count(b"event: content_block_delta"))
        data += chunk
    sock.close()
    return times, data


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    """Poll until `predicate()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_a_stalled_reader_never_delays_other_streams() -> None:
    # Stalled streams are fast and long, so their unread bytes pile up at once; the timed stream
    # beside them must still keep its own schedule.
    with mock_server("--ttft", "0.2", "--tps", "50000", "--output-tokens", "30000", "--chunk-tokens", "1") as p:
        stalled = [raw_stream(p, 30000) for _ in range(3)]
        wait_for(lambda: stats(p)["active_streams"] == 3)
        time.sleep(1.0)  # long enough for each stalled buffer to pass the 256 KiB mark
        times, data = timed_stream(p, 300)  # the same loop as the stalled ones
        assert data.count(b"event: content_block_delta") == len(times) > 100
        assert times[-1] < 1.5, f"the free stream took {times[-1]:.2f} s beside stalled ones"
        assert stats(p)["active_streams"] == 3, "stalled streams stay open, waiting for their readers"
        for s in stalled:
            s.close()
        wait_for(lambda: stats(p)["active_streams"] == 0)
        assert stats(p)["client_disconnects"] == 3


def test_paced_stream_keeps_its_schedule_next_to_stalled_readers() -> None:
    flags = ("--ttft", "0.3", "--tps", "40", "--output-tokens", "41", "--chunk-tokens", "1", "--prefill-tps", "1e12")
    with mock_server(*flags) as p:
        stalled = [raw_stream(p, 100) for _ in range(5)]
        times, _ = timed_stream(p, 100)
        for s in stalled:
            s.close()
    assert abs(times[0] - 0.3) < 0.05, times[0]
    rate = 40 / (times[-1] - times[0])  # 41 tokens, one per delta: 40 gaps
    assert abs(rate - 40) < 4, rate


def test_a_client_that_leaves_is_counted_and_charged_what_it_received() -> None:
    flags = ("--ttft", "0", "--tps", "1000", "--output-tokens", "4000", "--rate-limit", "10000otpm")
    with mock_server(*flags) as p:
        sock = raw_stream(p, 5000, key="sk-ant-leaver", rcvbuf=1 << 20)
        got = b""
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            got += sock.recv(65536)
        sock.close()
        wait_for(lambda: stats(p)["client_disconnects"] == 1)
        assert stats(p)["active_streams"] == 0
        req = urllib.request.Request(
            f"{p.url}/v1/messages",
            data=json.dumps({"model": MODEL, "max_tokens": 1, "messages": [{"role": "user", "content": "x"}]}).encode(),
            headers={"x-api-key": "sk-ant-leaver", "anthropic-version": "2023-06-01"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            remaining = int(r.headers["anthropic-ratelimit-output-tokens-remaining"])
    # About 1,000 tokens went out in the second before the client left, and the bucket refills
    # 167 a second: charged the 5,000 estimated at the start, it would show ~5,300; charged nothing,
    # 9,999.
    assert 10000 - 1600 < remaining < 10000 - 500, remaining


def test_a_json_answer_is_copied_to_its_own_size_only_when_it_waits() -> None:
    """orjson's bytes reserve far more than their length (tests/test_recent.py): an answer held until it
    is due is kept as a copy of its own size; one due already goes out as it was made, uncopied."""
    import asyncio
    import random

    import orjson
    from aiohttp.test_utils import make_mocked_request

    from mockclaude.server.scheduler import Progress
    from mockclaude.server.sender import send_json
    from mockclaude.server.stats import Stats
    from mockclaude.synth.pacing import Answer

    async def sent(at_s: float, started_s_ago: float) -> tuple[bytes, Answer]:
        made = orjson.dumps({"content": [{"type": "text", "text": "word " * 50}]})
        answer = Answer(ttft_s=0.0, output_tokens=50, body=made, at_s=at_s)
        start = asyncio.get_running_loop().time() - started_s_ago
        request = make_mocked_request("POST", "/v1/messages")
        resp = await send_json(request, answer, start, {}, Stats(), random.Random(0), Progress())
        assert resp.body == made
        return made, answer

    made, waited = asyncio.run(sent(at_s=0.05, started_s_ago=0.0))
    assert waited.body == made and waited.body is not made
    made, due = asyncio.run(sent(at_s=0.05, started_s_ago=1.0))
    assert due.body is made
