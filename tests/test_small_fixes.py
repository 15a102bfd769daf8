"""Small things a new user trips over: the CLI's own description, the fault header's kinds, plots."""

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request

from mockclaude.limits.faults import KINDS
from mockclaude.processes import mock_server
from replay import plots


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


def _texts(svg: str) -> list[tuple[float, str, str]]:
    """(x, anchor, text) of every label."""
    out = []
    for m in re.finditer(r"<text ([^>]*)>([^<]*)</text>", svg):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', m.group(1)))
        out.append((float(attrs["x"]), attrs.get("text-anchor", "start"), m.group(2)))
    return out


def test_histogram_labels_stay_inside_and_counts_are_whole() -> None:
    svg = plots.histogram([0.0100, 0.0101, 0.0102, 0.0121], "TTFT", "seconds")
    char_px = 6.5  # 11 px sans-serif, generously
    for x, anchor, text in _texts(svg):
        if text.startswith("p50") or text.startswith("p99"):
            left = x - char_px * len(text) if anchor == "end" else x
            assert left >= 0 and left + char_px * len(text) <= plots.W, (x, anchor, text)
    y_ticks = [text for x, anchor, text in _texts(svg) if anchor == "end" and x == plots.LEFT - 5]
    assert len(y_ticks) == 6 and all(t.isdigit() for t in y_ticks), y_ticks
