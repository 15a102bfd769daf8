"""`serve --fixtures FILE --upstream URL --record-missing`: the first run proxies what no fixture
answers and appends it (anonymized); the second run answers it offline with the upstream stopped.
The upstream is a second mockclaude on 127.0.0.1, scripted so its answers are known."""

import subprocess
import sys
import time
from pathlib import Path

import anthropic
import pytest

from mockclaude.fixtures.format import iter_exchanges, read_header
from mockclaude.processes import mock_server, run_process
from tests.test_recorded_server import streamed
from tests.test_rules import ask, text_of

pytestmark = pytest.mark.timeout(180)
UPSTREAM_TEXT = "The upstream's own answer, word for word."
EMAIL = "alice.liddell@example.com"


def upstream_rules(tmp_path: Path) -> Path:
    """The upstream's script: one known answer to everything."""
    rules = tmp_path / "upstream.yaml"
    rules.write_text(f'rules:\n  - match: {{}}\n    respond: {{text: "{UPSTREAM_TEXT}"}}\n')
    return rules


def test_first_run_proxies_and_appends_second_run_serves_offline(tmp_path: Path) -> None:
    fixture = tmp_path / "agent.jsonl"  # does not exist yet: the first run makes it
    question = f"Summarize the thread for {EMAIL}, please."
    with mock_server("--rules", str(upstream_rules(tmp_path)), "--ttft", "0.4", "--tps", "200") as upstream:
        flags = ["--fixtures", str(fixture), "--upstream", upstream.url, "--record-missing", "--ttft", "0"]
        with mock_server(*flags) as first:
            c = anthropic.Anthropic(base_url=first.url, api_key="sk-ant-client-key", max_retries=0)
            ttft, msg = streamed(c, question)
            assert text_of(msg) == UPSTREAM_TEXT  # the upstream's answer, streamed through
            assert ttft >= 0.35  # the upstream's timing, not the local --ttft 0
            assert text_of(c.messages.create(**ask("a second, non-streamed question"))) == UPSTREAM_TEXT
            time.sleep(0.5)  # the record is appended after the answer went out
            assert "recorded a missing exchange" in first.output()
    header = read_header(fixture)
    assert header["anonymization"]["mode"] == "pii" and (tmp_path / "agent.jsonl.key").exists()
    records = list(iter_exchanges(fixture))
    assert len(records) == 2 and [r["response"]["status"] for r in records] == [200, 200]
    assert records[0]["response"]["events"] and records[1]["response"]["body"]["content"][0]["text"] == UPSTREAM_TEXT
    raw = fixture.read_text()
    assert EMAIL not in raw and "sk-ant-client-key" not in raw  # anonymized like the recorder's fixtures
    # Second run: the upstream is gone; the same requests are answered from the fixture.
    with mock_server("--fixtures", str(fixture), "--strict-fixtures") as offline:
        c = anthropic.Anthropic(base_url=offline.url, api_key="k", max_retries=0)
        ttft, msg = streamed(c, question)
        assert text_of(msg) == UPSTREAM_TEXT and ttft >= 0.3  # the recorded timing
        assert text_of(c.messages.create(**ask("a second, non-streamed question"))) == UPSTREAM_TEXT
        with pytest.raises(anthropic.NotFoundError):
            c.messages.create(**ask("never asked"))
    # A run that records again answers known requests offline and only proxies new ones.
    with mock_server("--rules", str(upstream_rules(tmp_path)), "--ttft", "0") as upstream:
        flags = ["--fixtures", str(fixture), "--upstream", upstream.url, "--record-missing"]
        with mock_server(*flags) as again:
            c = anthropic.Anthropic(base_url=again.url, api_key="k", max_retries=0)
            assert text_of(c.messages.create(**ask(question))) == UPSTREAM_TEXT
            assert text_of(c.messages.create(**ask("a third question"))) == UPSTREAM_TEXT
            time.sleep(0.5)
    assert len(list(iter_exchanges(fixture))) == 3


def test_upstream_errors_pass_through_and_are_not_recorded(tmp_path: Path) -> None:
    fixture = tmp_path / "f.jsonl"
    with mock_server("--fault", "529:1") as upstream:
        flags = ["--fixtures", str(fixture), "--upstream", upstream.url, "--record-missing"]
        with mock_server(*flags) as srv:
            c = anthropic.Anthropic(base_url=srv.url, api_key="k", max_retries=0)
            with pytest.raises(anthropic.APIStatusError) as err:
                c.messages.create(**ask("hi"))
            assert err.value.status_code == 529 and err.value.body["error"]["type"] == "overloaded_error"
        port = upstream.url.rsplit(":", 1)[1]
    assert list(iter_exchanges(fixture)) == []
    # The upstream stopped: a clear 502 in the API's shape.
    with mock_server("--fixtures", str(fixture), "--upstream", f"http://127.0.0.1:{port}", "--record-missing") as srv:
        c = anthropic.Anthropic(base_url=srv.url, api_key="k", max_retries=0)
        with pytest.raises(anthropic.APIStatusError, match=r"the upstream http://127\.0\.0\.1") as err:
            c.messages.create(**ask("hi"))
        assert err.value.status_code == 502


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--upstream", "https://api.anthropic.com", "--record-missing"], "outside 127.0.0.0/8"),
        (["--upstream", "https://api.anthropic.com", "--record-missing", "--real"], "ANTHROPIC_API_KEY"),
        (["--record-missing"], "--record-missing needs --fixtures FILE (appended to) and --upstream URL"),
        (["--upstream", "http://127.0.0.1:9"], "--upstream and --real are for --record-missing"),
        (["--upstream", "http://127.0.0.1:9", "--record-missing", "--workers", "2"], "without --workers"),
    ],
)
def test_the_real_api_needs_real_and_a_key_from_the_environment(tmp_path: Path, flags: list[str], message: str) -> None:
    env = {"PATH": "/usr/bin:/bin"}  # no ANTHROPIC_API_KEY
    argv = [sys.executable, "-m", "mockclaude", "serve", "--port", "0", "--fixtures", str(tmp_path / "f.jsonl")]
    if flags == ["--record-missing"]:
        argv = argv[:-2]
    done = subprocess.run([*argv, *flags], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2 and message in done.stderr


def test_a_real_upstream_prints_what_it_may_cost_before_serving(tmp_path: Path) -> None:
    # `.invalid` never resolves: the guard treats it as a remote host, and no request is ever sent.
    flags = ["--fixtures", str(tmp_path / "f.jsonl"), "--upstream", "https://upstream.invalid", "--record-missing"]
    argv = [sys.executable, "-m", "mockclaude", "serve", "--port", "0", *flags, "--real"]
    with run_process(argv, env={"ANTHROPIC_API_KEY": "sk-ant-not-a-real-key"}) as srv:
        notice = srv.output()
    assert "each is a real, billed API call" in notice and "https://upstream.invalid" in notice
    assert notice.index("billed") < notice.index("listening on")
