"""`mockclaude record` shows a live count while it runs, and counts in words that agree."""

import time
from pathlib import Path

import anthropic

from mockclaude.processes import Proc, mock_server
from tests.test_recorder_e2e import record


def ask(url: str) -> None:
    """One small request through the recorder."""
    anthropic.Anthropic(base_url=url, api_key="sk-ant-test", max_retries=0).messages.create(
        model="claude-sonnet-4-5", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
    )


def wait_for(proxy: Proc, text: str, timeout: float = 20) -> str:
    """The recorder's output once it contains `text`."""
    deadline = time.monotonic() + timeout
    while text not in proxy.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    return proxy.output()


def test_live_count_and_singular(tmp_path: Path) -> None:
    out = tmp_path / "f.jsonl"
    with mock_server("--ttft", "0", "--tps", "1000") as mock, record(mock.url, out) as proxy:
        ask(proxy.url)
        live = wait_for(proxy, "1 exchange recorded so far")
        assert "mockclaude record: 1 exchange recorded so far (last: POST /v1/messages)" in live, live
        proxy.popen.terminate()
        proxy.popen.wait(20)
        final = wait_for(proxy, "written to")
    assert f"1 exchange written to {out}" in final and "1 exchanges" not in final, final
