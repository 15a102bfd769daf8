"""The addon driven through mitmproxy's own hook machinery (taddons), and regular proxy mode for real."""

import json
import logging
import re
import sys
import time
from pathlib import Path

import anthropic
import httpx2
import pytest
from mitmproxy import http
from mitmproxy.test import taddons, tflow

from mockclaude.fixtures.format import FixtureWriter, iter_exchanges, make_header, read_header
from mockclaude.processes import mock_server, run_process
from mockclaude.wire.sse import encode_event
from recorder.addon import Recorder

READY = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


def sse_flow(events: list[dict[str, object]]) -> tuple[http.HTTPFlow, list[bytes]]:
    """A streamed /v1/messages flow and the body chunks the upstream would send."""
    req = http.Request.make(
        "POST", "http://127.0.0.1:1/v1/messages", json.dumps({"model": "m", "messages": []}),
        {"content-type": "application/json", "x-api-key": "sk-ant-api03-secretsecretsecret"},
    )  # fmt: skip
    flow = tflow.tflow(req=req)
    flow.response = http.Response.make(200, b"", {"content-type": "text/event-stream", "request-id": "req_1"})
    return flow, [encode_event(e) for e in events]


def drive(rec: Recorder, flow: http.HTTPFlow, chunks: list[bytes]) -> list[bytes]:
    """Run the addon's hooks in mitmproxy's order; return what the client would have received."""
    rec.responseheaders(flow)
    stream = flow.response.stream
    assert callable(stream), "every response must be streamed"
    sent = [stream(c) for c in chunks]
    rec.response(flow)
    return sent


START = {"type": "message_start", "message": {"id": "msg_1", "content": [], "usage": {"input_tokens": 3}}}


def test_failures_inside_the_recorder_never_break_the_exchange(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "f.jsonl"
    rec = Recorder()
    with taddons.context(rec) as tctx:
        tctx.configure(rec, mockclaude_out=str(out))
        # 1. an upstream event the record builder chokes on (an unhashable block index)
        bad, bad_chunks = sse_flow([START, {"type": "content_block_start", "index": [0], "content_block": {}}])
        assert drive(rec, bad, bad_chunks) == bad_chunks
        # 2. a normal exchange is still recorded after that
        good, good_chunks = sse_flow([START, {"type": "message_stop"}])
        assert drive(rec, good, good_chunks) == good_chunks
        deadline = time.monotonic() + 20
        while len(out.read_text().splitlines()) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        # 3. the writer process crashes: the proxied bytes are still handed on unchanged, the
        # exchanges that find no writer are counted, and the writer is restarted after its back-off
        assert rec._writer is not None and rec._writer._writer is not None
        dead = rec._writer._writer.proc
        dead.kill()
        dead.join(5)
        lost, lost_chunks = sse_flow([START, {"type": "message_stop"}])
        with caplog.at_level(logging.WARNING, logger="mockclaude.recorder"):
            assert drive(rec, lost, lost_chunks) == lost_chunks
            assert drive(rec, *sse_flow([START])) == [encode_event(START)]
            time.sleep(0.6)  # the first restart comes 0.5 s after the death
            later, later_chunks = sse_flow([START, {"type": "ping"}, {"type": "message_stop"}])
            assert drive(rec, later, later_chunks) == later_chunks
            rec.done()
    assert caplog.text.count(f"the writer process (pid {dead.pid}) killed by SIGKILL") == 1, caplog.text
    assert "2 exchanges passed through unrecorded" in caplog.text
    err = capfd.readouterr().err
    assert "could not record POST /v1/messages" in err
    exchanges = list(iter_exchanges(out))
    assert [[e["event"] for e in ex["response"]["events"]] for ex in exchanges] == [
        ["message_start", "message_stop"],
        ["message_start", "ping", "message_stop"],
    ]
    assert "x-api-key" not in exchanges[0]["request"]["headers"]


def test_appending_continues_a_fixture_and_survives_a_torn_line(tmp_path: Path) -> None:
    out = tmp_path / "f.jsonl"
    for round_ in range(2):
        rec = Recorder()
        with taddons.context(rec) as tctx:
            tctx.configure(rec, mockclaude_out=str(out))
            flow, chunks = sse_flow([START, {"type": "message_stop"}])
            drive(rec, flow, chunks)
            rec.done()
        if round_ == 0:
            with out.open("a") as f:
                f.write('{"type": "exchange", "seq": 1, "sta')  # a crash mid-write
    problems: list[str] = []
    exchanges = list(iter_exchanges(out, skip_bad_lines=True, on_problem=lambda e: problems.append(str(e))))
    assert [e["seq"] for e in exchanges] == [0, 1]
    assert exchanges[1]["started_s"] >= exchanges[0]["started_s"]
    # The torn line was closed with a newline, so the new record is intact; the torn one is reported.
    assert len(problems) == 1 and problems[0].startswith(f"{out}:3: invalid JSON")


def test_appending_with_another_mode_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "f.jsonl"
    with FixtureWriter(out, make_header("recorded", anonymization="shape")):
        pass
    rec = Recorder()
    with taddons.context(rec) as tctx, pytest.raises(Exception, match="recorded with anonymization 'shape'"):
        tctx.configure(rec, mockclaude_out=str(out), mockclaude_anonymize="pii")
    assert read_header(out)["anonymization"]["mode"] == "shape"


def test_regular_proxy_mode_records_http_proxy_traffic(tmp_path: Path) -> None:
    out = tmp_path / "regular.jsonl"
    with mock_server("--ttft", "0.01", "--tps", "1000", "--output-tokens", "5") as upstream:
        argv = [sys.executable, "-m", "mockclaude", "record", "--regular", "--port", "0", "--out", str(out)]
        with run_process(argv, ready=READY, timeout=60) as proxy:
            client = anthropic.Anthropic(
                api_key="sk-ant-x", base_url=upstream.url, max_retries=0, http_client=httpx2.Client(proxy=proxy.url)
            )
            msg = client.messages.create(
                model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
            )
            proxy.popen.terminate()
            proxy.popen.wait(20)
    (ex,) = iter_exchanges(out)
    assert ex["response"]["body"]["id"] == msg.id


def test_connection_chatter_is_dropped_only_when_asked_and_never_errors(caplog: pytest.LogCaptureFixture) -> None:
    server_log = logging.getLogger("mitmproxy.proxy.server")
    lines = ["client connect", "server connect 127.0.0.1:1", "Streaming response from 127.0.0.1.", "client disconnect"]
    rec = Recorder()
    with caplog.at_level(logging.INFO, logger="mitmproxy.proxy.server"), taddons.context(rec) as tctx:
        tctx.configure(rec, mockclaude_connection_log=False)
        for line in lines:
            server_log.info(line)
        server_log.info("error establishing server connection: [Errno 111] Connect call failed")
        server_log.error("client connect failed badly")  # an error is never dropped, whatever it says
        assert caplog.messages == [
            "error establishing server connection: [Errno 111] Connect call failed",
            "client connect failed badly",
        ]
        tctx.configure(rec, mockclaude_connection_log=True)
        server_log.info("client connect")
        assert caplog.messages[-1] == "client connect"
        tctx.configure(rec, mockclaude_connection_log=False)
        rec.done()  # the filter goes with the addon
        server_log.info("client disconnect")
        assert caplog.messages[-1] == "client disconnect"
