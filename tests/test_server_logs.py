"""What `mockclaude serve` prints while it runs: an access log when asked, no library noise at debug."""

import re
import time

import anthropic

from mockclaude.processes import mock_server

ACCESS_LINE = re.compile(
    r'^127\.0\.0\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "POST /v1/messages HTTP/1\.1" 200 \d+ '
    r'"[^"]*" \d+\.\d+$',
    re.M,
)


def ask(url: str, stream: bool = False) -> None:
    """One small Messages request through the official SDK."""
    client = anthropic.Anthropic(base_url=url, api_key="sk-ant-test", max_retries=0)
    kwargs = {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        with client.messages.stream(**kwargs) as s:
            s.get_final_message()
    else:
        client.messages.create(**kwargs)


def test_access_log_prints_one_line_per_request() -> None:
    with mock_server("--access-log", "--ttft", "0", "--tps", "1000") as mock:
        ask(mock.url)
        ask(mock.url, stream=True)
        for _ in range(50):
            if len(ACCESS_LINE.findall(mock.output())) >= 2:
                break
            time.sleep(0.1)
        out = mock.output()
    assert len(ACCESS_LINE.findall(out)) == 2, out
    assert "Anthropic/Python" in out  # the user agent, as in a combined log


def test_no_access_log_by_default() -> None:
    with mock_server("--ttft", "0", "--tps", "1000") as mock:
        ask(mock.url)
        out = mock.output()
    assert "POST /v1/messages" not in out, out


def test_debug_log_is_not_flooded_by_faker() -> None:
    with mock_server("--log-level", "debug", "--ttft", "0", "--tps", "1000") as mock:
        ask(mock.url)
        out = mock.output()
    assert "faker" not in out.lower(), out[:2000]
    assert "DEBUG" in out  # debug logging is on, for our own loggers and aiohttp's
