"""Answer-shaping probabilities as serve flags and admin settings, and reset restarting recorded turns."""

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import anthropic
import pytest

from mockclaude.processes import mock_server
from tests.test_recorded_units import body, json_exchange, write

pytestmark = pytest.mark.timeout(90)
CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOLS = [{"name": "get_weather", "description": "Weather of a city", "input_schema": CITY}]


def admin(url: str, path: str, method: str = "GET", data: dict[str, Any] | None = None) -> Any:
    """Call the admin API; the decoded JSON answer."""
    raw = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(url + "/_mockclaude/" + path, data=raw, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def client(url: str) -> anthropic.Anthropic:
    """An SDK client without retries."""
    return anthropic.Anthropic(base_url=url, api_key="sk-ant-test", max_retries=0, timeout=20)


def test_rate_flags_shape_answers_and_the_admin_api_changes_them() -> None:
    flags = ["--ttft", "0", "--tps", "5000", "--seed", "3", "--stop-sequence-rate", "1", "--parallel-tool-rate", "1"]
    with mock_server(*flags, "--tool-rate", "1", "--text-before-tool-rate", "0") as srv:
        cfg = admin(srv.url, "config")
        assert cfg["stop_sequence_rate"] == 1 and cfg["parallel_tool_rate"] == 1 and cfg["text_before_tool_rate"] == 0
        assert cfg["thinking_share"] == 0.3  # the default, shown
        c = client(srv.url)
        ask = {"model": "claude-sonnet-4-5", "max_tokens": 200, "messages": [{"role": "user", "content": "hi"}]}
        for _ in range(5):
            msg = c.messages.create(**ask, stop_sequences=["END"])
            assert msg.stop_reason == "stop_sequence" and msg.stop_sequence == "END"
            calls = c.messages.create(**ask, tools=TOOLS)
            assert [b.type for b in calls.content] == ["tool_use", "tool_use"]
        assert admin(srv.url, "config", "PATCH", {"stop_sequence_rate": 0, "tool_rate": 0})["stop_sequence_rate"] == 0
        for _ in range(5):
            assert c.messages.create(**ask, stop_sequences=["END"]).stop_reason != "stop_sequence"
            assert all(b.type == "text" for b in c.messages.create(**ask, tools=TOOLS).content)
        with pytest.raises(urllib.error.HTTPError) as bad:
            admin(srv.url, "config", "PATCH", {"thinking_share": 2})
        assert bad.value.code == 400 and "thinking_share" in bad.value.read().decode()


@pytest.mark.parametrize("flag", ["--stop-sequence-rate", "--parallel-tool-rate", "--thinking-share"])
def test_bad_rate_flags_are_refused_by_name(flag: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "mockclaude", "serve", flag, "1.5"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and f"{flag}: expected a probability between 0 and 1" in proc.stderr, proc.stderr


def test_reset_restarts_the_recorded_turns(tmp_path: Path) -> None:
    req = body("Which turn is this?")
    fx = write(tmp_path / "f.jsonl", [json_exchange(req, "first recording", seq=0),
                                      json_exchange(req, "second recording", seq=1)])  # fmt: skip
    with mock_server("--fixtures", str(fx), "--strict-fixtures") as srv:
        c = client(srv.url)
        assert [c.messages.create(**req).content[0].text for _ in range(3)] == [
            "first recording", "second recording", "first recording"]  # fmt: skip
        admin(srv.url, "reset", "POST", {})
        assert c.messages.create(**req).content[0].text == "first recording"


def test_recorded_turns_hold_across_workers(tmp_path: Path) -> None:
    req = body("Which turn is this, whichever worker answers?")
    fx = write(tmp_path / "f.jsonl", [json_exchange(req, "first recording", seq=0),
                                      json_exchange(req, "second recording", seq=1)])  # fmt: skip
    with mock_server("--workers", "2", "--fixtures", str(fx), "--strict-fixtures", timeout=60) as srv:
        texts = []
        for _ in range(12):
            with client(srv.url) as c:  # a new connection each time: any worker may accept it
                texts.append(c.messages.create(**req).content[0].text)
        assert texts == ["first recording", "second recording"] * 6
        admin(srv.url, "reset", "POST", {})  # one worker's reset restarts the shared turns
        with client(srv.url) as c:
            assert c.messages.create(**req).content[0].text == "first recording"
