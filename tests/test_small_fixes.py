"""Small things a new user trips over: the CLI's own description, the fault header's kinds."""

import json
import subprocess
import sys
import urllib.error
import urllib.request

from mockclaude.limits.faults import KINDS
from mockclaude.processes import mock_server


def test_help_says_what_mockclaude_is() -> None:
    out = subprocess.run([sys.executable, "-m", "mockclaude", "--help"], capture_output=True, text=True).stdout
    assert "test and load-test Claude applications offline" in out and "composition root" not in out


def test_unknown_fault_header_lists_every_kind_including_none() -> None:
    with mock_server("--ttft", "0") as mock:
        req = urllib.request.Request(
            f"{mock.url}/v1/messages",
            data=json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 5,
                             "messages": [{"role": "user", "content": "hi"}]}).encode(),
            headers={"x-api-key": "k", "anthropic-version": "2023-06-01", "content-type": "application/json",
                     "x-mockclaude-fault": "bogus"},
        )  # fmt: skip
        try:
            urllib.request.urlopen(req, timeout=10)
            raise AssertionError("expected a 400")
        except urllib.error.HTTPError as exc:
            body = json.load(exc)
    assert body["error"]["message"].endswith(f"kinds are {', '.join(KINDS)}, none"), body
