"""`mockclaude serve --fixtures` through the real server and the real SDK."""

import subprocess
import sys
import time
from pathlib import Path

import anthropic
import pytest

from mockclaude.processes import mock_server
from mockclaude.synth.content import token_pieces
from tests.test_recorded_units import body, error_exchange, exchange, json_exchange, stream_exchange, write

pytestmark = pytest.mark.timeout(90)
TEXT = "The recorded answer, word for word, as production sent it."


def client(url: str) -> anthropic.Anthropic:
    """An SDK client without retries, so every recorded status is seen."""
    return anthropic.Anthropic(base_url=url, api_key="sk-ant-test", max_retries=0, timeout=20)


def streamed(c: anthropic.Anthropic, text: str, **extra: object) -> tuple[float, anthropic.types.Message]:
    """Stream one request; (seconds to the first text delta, final message)."""
    t0 = time.perf_counter()
    first = None
    with c.messages.stream(model="claude-sonnet-4-5", max_tokens=300,
                           messages=[{"role": "user", "content": text}], **extra) as s:  # fmt: skip
        for ev in s:
            if ev.type == "content_block_delta" and first is None:
                first = time.perf_counter() - t0
        msg = s.get_final_message()
    assert first is not None
    return first, msg


def test_matched_requests_get_the_recording_and_strict_mode_refuses_the_rest(tmp_path: Path) -> None:
    req = body("What did production say?")
    fx = write(tmp_path / "f.jsonl", [error_exchange(req, 529, "Overloaded (recorded)", seq=0),
                                      stream_exchange(req, TEXT, ttft_ms=250, gap_ms=10, seq=1)])  # fmt: skip
    with mock_server("--fixtures", str(fx), "--strict-fixtures") as srv:
        c = client(srv.url)
        with pytest.raises(anthropic.APIStatusError) as first:
            streamed(c, "What did production say?")
        assert first.value.status_code == 529 and "Overloaded (recorded)" in str(first.value)
        assert first.value.response.headers["x-should-retry"] == "true"
        volatile = {"metadata": {"user_id": "someone-else"}, "extra_body": {"temperature": 0.2}}
        ttft, msg = streamed(c, "What did production say?", **volatile)
        assert msg.content[0].text == TEXT and msg.stop_reason == "end_turn"
        assert msg.usage.output_tokens == len(token_pieces(TEXT))
        assert 0.24 <= ttft < 0.7  # recorded 0.25 s; the model profile gives ~1.8 s
        with pytest.raises(anthropic.NotFoundError, match="no recorded exchange matches this request"):
            streamed(c, "Something never recorded")
        # Non-streaming request, answered from the streamed recording (third turn: the 529 again).
        with pytest.raises(anthropic.APIStatusError):
            c.messages.create(**req)
        assert c.messages.create(**req).content[0].text == TEXT


def test_fault_header_still_forces_a_fault_on_a_matched_request(tmp_path: Path) -> None:
    req = body("forced")
    fx = write(tmp_path / "f.jsonl", [stream_exchange(req, TEXT, ttft_ms=50, gap_ms=5)])
    with mock_server("--fixtures", str(fx), "--seed", "1") as srv:
        c = client(srv.url)
        with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
            streamed(c, "forced", extra_headers={"x-mockclaude-fault": "midstream"})
        with pytest.raises(anthropic.APIStatusError) as err:
            c.messages.create(**req, extra_headers={"x-mockclaude-fault": "529"})
        assert err.value.status_code == 529
        assert streamed(c, "forced", extra_headers={"x-mockclaude-fault": "none"})[1].content[0].text == TEXT


def test_stream_headers_come_when_the_recording_got_them(tmp_path: Path) -> None:
    req = body("slow start")
    ex = stream_exchange(req, TEXT, ttft_ms=500, gap_ms=5)
    ex["timing"]["ttfb_ms"] = 300.0
    ex["response"]["events"][0]["t_ms"] = 300.0  # message_start came with the headers
    with mock_server("--fixtures", str(write(tmp_path / "f.jsonl", [ex]))) as srv:
        t0 = time.perf_counter()
        stream = client(srv.url).messages.create(**req, stream=True)  # returns once headers are in
        ttfb = time.perf_counter() - t0
        ttft = next(time.perf_counter() - t0 for e in stream if e.type == "content_block_delta")
        stream.close()
    assert 0.29 <= ttfb < 0.45, ttfb
    assert 0.49 <= ttft < 0.7, ttft


def test_unmatched_requests_follow_the_recorded_distributions(tmp_path: Path) -> None:
    exs = [stream_exchange(body(f"recorded {i}"), "one two three four five six seven eight nine ten",
                           ttft_ms=600, gap_ms=40, seq=i) for i in range(6)]  # fmt: skip
    fx = write(tmp_path / "f.jsonl", exs)
    with mock_server("--fixtures", str(fx), "--seed", "3") as srv:
        ttft, msg = streamed(client(srv.url), "a request nobody recorded")
    assert msg.usage.output_tokens == len(token_pieces("one two three four five six seven eight nine ten"))
    assert 0.55 <= ttft <= 0.95  # recorded TTFT 0.6 s; the model profile gives ~1.8 s


def test_faults_from_fixtures_reproduce_the_recorded_rates(tmp_path: Path) -> None:
    exs = [json_exchange(body(f"ok {i}"), "fine", total_ms=20, seq=i) for i in range(6)]
    exs += [error_exchange(body(f"busy {i}"), 529, "Overloaded", seq=6 + i) for i in range(4)]
    exs[0] = stream_exchange(body("ok 0"), "fine", ttft_ms=20, gap_ms=2)
    fx = write(tmp_path / "f.jsonl", exs)
    with mock_server("--fixtures", str(fx), "--faults-from-fixtures", "--seed", "5") as srv:
        c = client(srv.url)
        statuses = []
        for i in range(60):
            try:
                c.messages.create(**body(f"unmatched {i}", max_tokens=5))
                statuses.append(200)
            except anthropic.APIStatusError as exc:
                statuses.append(exc.status_code)
    assert set(statuses) == {200, 529}
    assert 0.25 <= statuses.count(529) / 60 <= 0.55  # recorded: 4 of 10


def test_models_the_catalogue_lacks_are_answered_when_recorded(tmp_path: Path) -> None:
    req = {**body("from an older deployment"), "model": "claude-internal-preview-0"}
    fx = write(tmp_path / "f.jsonl", [json_exchange(req, "still answered", total_ms=10)])
    with mock_server("--fixtures", str(fx)) as srv:
        assert client(srv.url).messages.create(**req).content[0].text == "still answered"
    assert "claude-internal-preview-0" in srv.output()


def test_a_recording_without_response_drops_the_connection(tmp_path: Path) -> None:
    req = body("the upstream went away")
    ex = exchange(req, None, timing={"ttfb_ms": None, "ttft_ms": None, "total_ms": 50.0},
                  error={"kind": "upstream", "message": "connection refused"})  # fmt: skip
    fx = write(tmp_path / "f.jsonl", [ex])
    with mock_server("--fixtures", str(fx)) as srv, pytest.raises(anthropic.APIConnectionError):
        client(srv.url).messages.create(**req)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--fixtures", "missing.jsonl"], "--fixtures missing.jsonl: no such file"),
        (["--strict-fixtures"], "need --fixtures"),
        (["--profile", "missing.json"], "--profile missing.json: no such file"),
    ],
)
def test_flag_errors_name_the_flag(tmp_path: Path, flags: list[str], message: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "mockclaude", "serve", "--port", "0", *flags],
                          capture_output=True, text=True, timeout=30, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
