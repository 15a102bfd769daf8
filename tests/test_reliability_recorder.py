"""The recorder under hostile conditions, through a real mitmdump in front of a real mock:
secrets and PII in every place real traffic carries them never reach the fixture; upstream failures
(refused, reset, TLS, hang, 5xx) reach the client as the upstream produced them and are recorded
without corrupting the file; a full disk or unwritable path never breaks traffic; 100 concurrent
exchanges land as 100 valid lines."""

import base64
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from mockclaude.fixtures.format import iter_exchanges
from mockclaude.processes import Proc, mock_server, run_process, with_file_size_limit
from tests.test_recorder_e2e import READY, record, stop_and_read

CORPUS = json.loads((Path(__file__).parent / "corpus" / "sensitive_values.json").read_text())
PLANTED = [*CORPUS["secrets"], *CORPUS["pii"]]
EVERYTHING = " | ".join(e["text"] for e in PLANTED)
EMAIL = next(e["text"] for e in CORPUS["pii"] if e["kind"] == "email")
KEY = next(e["text"] for e in CORPUS["secrets"] if e["kind"] == "anthropic-key").split()[1]
MODEL = "claude-sonnet-4-5"
HEADERS = {"x-api-key": "sk-ant-x", "anthropic-version": "2023-06-01", "content-type": "application/json"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[Proc]:
    """A fast mock upstream."""
    with mock_server("--ttft", "0.02", "--tps", "2000", "--output-tokens", "20", "--seed", "2") as p:
        yield p


def _png_with_text(text: str) -> str:
    """A PNG whose tEXt metadata chunk carries `text` (as a camera or editor would write it), base64."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"tEXt", b"Author\x00" + text.encode())
    png += chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b"")
    return base64.b64encode(png).decode()


IMAGE_B64 = _png_with_text(EVERYTHING)


def _requests_carrying_everything() -> list[tuple[str, dict[str, str], dict[str, Any]]]:
    """(path with query, extra headers, body): the corpus in text, system, tools, images, metadata, query, headers."""
    tool_input = {"note": EVERYTHING, "contact": {"email": EMAIL, "api_key": KEY}, "list": [EVERYTHING]}
    messages = [
        {"role": "user", "content": EVERYTHING},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": EVERYTHING},
                {"type": "tool_use", "id": "toolu_01A", "name": "lookup", "input": tool_input},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A", "content": EVERYTHING},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": IMAGE_B64}},
                {"type": "image", "source": {"type": "url", "url": f"https://cdn.megacorp-internal.com/a.png?token={KEY}"}},
                {
                    "type": "document",
                    "source": {"type": "text", "media_type": "text/plain", "data": EVERYTHING},
                    "title": f"Statement for {EMAIL}",
                    "context": EVERYTHING,
                },
                {"type": "text", "text": "Summarize."},
            ],
        },
    ]
    tools = [{"name": "lookup", "description": EVERYTHING, "input_schema": {"type": "object"}}]
    base = {"model": MODEL, "max_tokens": 30, "messages": messages, "tools": tools}
    rich = {**base, "system": EVERYTHING, "metadata": {"user_id": EMAIL}}
    blocks_system = {**base, "system": [{"type": "text", "text": EVERYTHING}], "stream": True}
    query = f"?beta=true&user={EMAIL}&api_key={KEY}"
    extra = {
        "authorization": f"Bearer {KEY}",
        "anthropic-beta": f"tools-2024-04-04,{KEY}",
        "x-user-email": EMAIL,
        "cookie": f"session={KEY}",
    }
    # The mock echoes an unknown model name in its 404 message: an error body carrying a key.
    # (Identifier fields such as model keep PII as is; only credentials are redacted there.)
    echoed = {"model": f"claude-custom {KEY}", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    return [
        ("/v1/messages" + query, extra, rich),
        ("/v1/messages", extra, blocks_system),
        ("/v1/messages/count_tokens" + query, extra, {k: v for k, v in rich.items() if k != "max_tokens"}),
        ("/v1/messages", {}, echoed),
        ("/v1/messages/count_tokens", {}, {k: v for k, v in echoed.items() if k != "max_tokens"}),
    ]


def _needles() -> list[str]:
    out = []
    for e in PLANTED:
        out += [e["needle"], json.dumps(e["needle"])[1:-1]]
    return [*out, IMAGE_B64[40:100], "4539148803436467"]


def test_no_planted_secret_or_pii_survives_in_the_fixture(upstream: Proc, tmp_path: Path) -> None:
    out = tmp_path / "sensitive.jsonl"
    statuses = []
    with record(upstream.url, out) as proxy:
        for path, extra, body in _requests_carrying_everything():
            r = requests.post(proxy.url + path, headers={**HEADERS, **extra}, json=body, timeout=20)
            statuses.append(r.status_code)
            if r.status_code == 404:
                assert KEY in r.json()["error"]["message"]  # the client still gets the echo unchanged
        exchanges = stop_and_read(proxy, out)
    assert statuses == [200, 200, 200, 404, 404], statuses
    assert len(exchanges) == 5
    raw = out.read_text()
    leaked = [n for n in _needles() if n in raw]
    assert not leaked, leaked
    for ex in exchanges:
        assert "x-user-email" not in ex["request"]["headers"] and "authorization" not in ex["request"]["headers"]
    scan = subprocess.run(
        [sys.executable, "-m", "mockclaude", "fixtures", "scan", str(out)], capture_output=True, text=True, timeout=60
    )
    assert scan.returncode == 0, scan.stdout + scan.stderr


def _ask(url: str, *, stream: bool = False, timeout: float = 10, fault: str | None = None) -> requests.Response:
    body = {"model": MODEL, "max_tokens": 20, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
    headers = {**HEADERS, **({"x-mockclaude-fault": fault} if fault else {})}
    return requests.post(url + "/v1/messages", headers=headers, json=body, timeout=timeout, stream=stream)


@pytest.mark.parametrize("fault", ["500", "529", "429"])
def test_upstream_errors_pass_through_byte_for_byte(upstream: Proc, tmp_path: Path, fault: str) -> None:
    out = tmp_path / "errors.jsonl"
    direct = _ask(upstream.url, fault=fault)
    with record(upstream.url, out) as proxy:
        via = _ask(proxy.url, fault=fault)
        exchanges = stop_and_read(proxy, out)
    assert via.status_code == direct.status_code == int(fault)
    assert via.json()["error"] == direct.json()["error"]
    for name in ("x-should-retry", "content-type", "retry-after"):
        assert via.headers.get(name) == direct.headers.get(name), name
    (ex,) = exchanges
    assert ex["response"]["status"] == int(fault) and ex["response"]["body"]["error"] == direct.json()["error"]


def _stream_outcome(resp: requests.Response) -> tuple[bytes, str | None]:
    """Bytes received and the exception type name that ended the stream (None: clean end)."""
    got = b""
    try:
        for chunk in resp.iter_content(None):
            got += chunk
    except requests.exceptions.RequestException as exc:
        return got, type(exc).__name__
    return got, None


def test_reset_mid_stream_reaches_the_client_and_is_recorded_without_corruption(
    upstream: Proc, tmp_path: Path
) -> None:
    out = tmp_path / "reset.jsonl"
    _, direct_end = _stream_outcome(_ask(upstream.url, stream=True, fault="disconnect"))
    with record(upstream.url, out) as proxy:
        via_bytes, via_end = _stream_outcome(_ask(proxy.url, stream=True, fault="disconnect"))
        json_resp_error = None
        try:
            _ask(proxy.url, fault="disconnect")
        except requests.exceptions.RequestException as exc:
            json_resp_error = type(exc).__name__
        ok = _ask(proxy.url)  # the proxy still works afterwards
        exchanges = stop_and_read(proxy, out)
    assert direct_end is not None and via_end is not None  # the client sees the cut, not a clean end
    assert b"message_start" in via_bytes and b"message_stop" not in via_bytes
    assert json_resp_error is not None or ok.status_code == 200
    assert ok.status_code == 200
    kinds = [(ex["response"]["status"], (ex["response"]["error"] or {}).get("kind")) for ex in exchanges]
    assert kinds[0] == (200, "disconnect") and kinds[-1] == (200, None), kinds
    assert len(exchanges) == 3


def _hanging_server() -> tuple[socket.socket, int, list[socket.socket]]:
    """A TCP server that accepts and never answers (an upstream that hangs)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    return srv, srv.getsockname()[1], held


def test_tls_error_and_hanging_upstream_fail_in_bounded_time_and_are_recorded(upstream: Proc, tmp_path: Path) -> None:
    # TLS to a plain-HTTP port: the handshake fails; the client gets the proxy's 502 at once.
    tls_out = tmp_path / "tls.jsonl"
    port = upstream.url.rsplit(":", 1)[1]
    with record(f"https://127.0.0.1:{port}", tls_out) as proxy:
        t0 = time.monotonic()
        r = _ask(proxy.url)
        assert r.status_code == 502 and time.monotonic() - t0 < 5
        (ex,) = stop_and_read(proxy, tls_out)
    assert ex["response"]["status"] is None and ex["response"]["error"]["kind"] == "upstream"
    # An upstream that accepts and never answers: the client's own timeout ends it, the fixture says so.
    hang_out = tmp_path / "hang.jsonl"
    srv, hang_port, held = _hanging_server()
    try:
        with record(f"http://127.0.0.1:{hang_port}", hang_out) as proxy:
            t0 = time.monotonic()
            with pytest.raises(requests.exceptions.ReadTimeout):
                _ask(proxy.url, timeout=1.5)
            assert time.monotonic() - t0 < 4
            time.sleep(0.5)  # mitmproxy notices the client is gone
            exchanges = stop_and_read(proxy, hang_out)
    finally:
        srv.close()
        for c in held:
            c.close()
    assert len(exchanges) == 1 and exchanges[0]["response"]["error"] is not None, exchanges


def _record_limited(upstream_url: str, out: Path, fsize: int) -> Any:
    """`mockclaude record` whose process may not write files larger than `fsize` bytes (a full disk)."""
    argv = ["record", "--upstream", upstream_url, "--port", "0", "--out", str(out)]
    return run_process(with_file_size_limit(argv, fsize), ready=READY, timeout=60)


def test_disk_full_mid_run_is_logged_and_never_breaks_traffic(upstream: Proc, tmp_path: Path) -> None:
    out = tmp_path / "full.jsonl"
    with _record_limited(upstream.url, out, fsize=6000) as proxy:
        codes = [_ask(proxy.url).status_code for _ in range(8)]
        streamed = _stream_outcome(_ask(proxy.url, stream=True))
        time.sleep(0.5)
        proxy.popen.terminate()
        proxy.popen.wait(20)
        output = proxy.output()
    assert codes == [200] * 8 and streamed[1] is None and b"message_stop" in streamed[0]
    # One line when writing starts failing, not one per exchange; the loss is counted at the end.
    assert output.count("could not record") == 1, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert out.stat().st_size <= 6000
    seen: list[Any] = []
    written = list(iter_exchanges(out, on_problem=seen.append))  # valid lines, at most a torn last one
    assert 1 <= len(written) < 9 and len(seen) <= 1
    lost = int(re.search(r"(\d+) lost to write errors", output).group(1))  # type: ignore[union-attr]
    assert len(written) + lost == 9, output[-3000:]


@pytest.mark.parametrize("target", ["under-a-file", "/dev/full"])
def test_unwritable_fixture_path_is_reported_at_start(tmp_path: Path, target: str) -> None:
    if target == "under-a-file":
        (tmp_path / "afile").write_text("x")
        out = str(tmp_path / "afile" / "sub" / "f.jsonl")
    else:
        out = target
    argv = [sys.executable, "-m", "mockclaude", "record", "--upstream", "http://127.0.0.1:9", "--port", "0"]
    run = subprocess.run([*argv, "--out", out], capture_output=True, text=True, timeout=60)
    text = run.stdout + run.stderr
    assert run.returncode != 0, text
    assert "mockclaude record" in text and str(Path(out).parent if target != "/dev/full" else out) in text, text


def test_hundred_concurrent_exchanges_each_land_as_one_valid_line(upstream: Proc, tmp_path: Path) -> None:
    out = tmp_path / "hundred.jsonl"
    with record(upstream.url, out) as proxy:

        def one(i: int) -> str:
            body = {
                "model": MODEL,
                "max_tokens": 20,
                "stream": i % 2 == 0,
                "messages": [{"role": "user", "content": f"question {i}"}],
            }
            r = requests.post(proxy.url + "/v1/messages", headers=HEADERS, json=body, timeout=60)
            assert r.status_code == 200
            if i % 2 == 0:
                assert b"message_stop" in r.content
            return r.headers["request-id"]

        with ThreadPoolExecutor(100) as pool:
            ids = list(pool.map(one, range(100)))
        exchanges = stop_and_read(proxy, out)
    lines = out.read_text().splitlines()
    assert len(lines) == 101 and all(json.loads(line) for line in lines)
    assert len(exchanges) == 100
    assert sorted(ex["seq"] for ex in exchanges) == list(range(100))
    assert sorted(ex["response"]["headers"]["request-id"] for ex in exchanges) == sorted(ids)
    prompts = sorted(ex["request"]["body"]["messages"][0]["content"] for ex in exchanges)
    assert prompts == sorted(f"question {i}" for i in range(100))
    streamed = [ex for ex in exchanges if ex["response"]["events"] is not None]
    assert len(streamed) == 50 and all(ex["response"]["events"][-1]["event"] == "message_stop" for ex in streamed)


def test_client_leaving_mid_stream_is_recorded_and_the_proxy_carries_on(upstream: Proc, tmp_path: Path) -> None:
    out = tmp_path / "client.jsonl"
    with record(upstream.url, out) as proxy:
        body = {"model": MODEL, "max_tokens": 5000, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        with requests.post(proxy.url + "/v1/messages", headers=HEADERS, json=body, stream=True, timeout=10) as r:
            first = next(r.iter_content(64))
            assert first
        # ...the client has closed its connection mid-stream; the next exchange is unaffected.
        assert _ask(proxy.url).status_code == 200
        time.sleep(0.5)
        exchanges = stop_and_read(proxy, out)
    kinds = sorted(((ex["response"]["error"] or {}).get("kind") or "ok") for ex in exchanges)
    assert kinds == ["client", "ok"], kinds


def test_bodies_that_are_not_json_or_nest_deeply_are_recorded_as_text(upstream: Proc, tmp_path: Path) -> None:
    """Every exchange lands and reads back, with secrets gone, even when its body is not a JSON object
    the anonymizer can walk (the API accepts 1024 levels of nesting; Python's json about 1000)."""
    out = tmp_path / "odd.jsonl"
    nested = '{"a":' * 1000 + json.dumps(f"{KEY} {EMAIL}") + "}" * 1000
    base = '{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]'
    bodies = [f'{base},"metadata":{nested}}}', f"not json, from {EMAIL} with {KEY}", base + ', "x": 1}']
    with record(upstream.url, out) as proxy:
        url = proxy.url + "/v1/messages"
        codes = [requests.post(url, headers=HEADERS, data=b, timeout=20).status_code for b in bodies]
        exchanges = stop_and_read(proxy, out)
        output = proxy.output()
    assert codes == [200, 400, 200], codes
    assert [type(ex["request"]["body"]).__name__ for ex in exchanges] == ["str", "str", "dict"]
    raw = out.read_text()
    assert KEY.split("-")[3] not in raw and EMAIL not in raw
    assert "could not record" not in output, output[-2000:]
