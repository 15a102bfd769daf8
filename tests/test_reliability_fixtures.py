"""Bad and huge fixture files: truncated, corrupted, empty, future-version and 20 MB / 1 GB ones give a
clear error naming file and line (or are skipped when asked), and are streamed, never loaded whole."""

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mockclaude.fixtures.format import FixtureError, FixtureWriter, iter_exchanges, make_header
from replay import profiles
from replay.options import ReplayConfig

HEADER = json.dumps(make_header("synthetic", anonymization="off", note="reliability test"))


def exchange(seq: int, n_events: int = 3) -> dict[str, Any]:
    """A valid streamed exchange with `n_events` content deltas."""
    events = [{"t_ms": 10.0 + i, "event": "content_block_delta", "data": {"type": "content_block_delta",
              "index": 0, "delta": {"type": "text_delta", "text": f"word{i} "}}} for i in range(n_events)]  # fmt: skip
    return {
        "type": "exchange",
        "seq": seq,
        "started_s": seq * 0.5,
        "request": {
            "method": "POST",
            "path": "/v1/messages",
            "headers": {"anthropic-version": "2023-06-01"},
            "body": {
                "model": "claude-sonnet-4-5",
                "max_tokens": 64,
                "stream": True,
                "messages": [{"role": "user", "content": f"question {seq}"}],
            },
        },
        "response": {"status": 200, "headers": {}, "body": None, "events": events, "error": None},
        "timing": {"ttfb_ms": 5.0, "ttft_ms": 10.0, "total_ms": 10.0 + n_events},
        "usage": {"input_tokens": 9, "output_tokens": n_events},
    }


def good_lines(n: int = 4) -> list[str]:
    """Header and `n` exchanges, one JSON text per line."""
    return [HEADER] + [json.dumps(exchange(i)) for i in range(n)]


def write(path: Path, lines: list[str | bytes], end: bytes = b"\n") -> Path:
    """Write lines (str or raw bytes) joined by newlines, the last one followed by `end`."""
    raw = [x if isinstance(x, bytes) else x.encode() for x in lines]
    path.write_bytes(b"\n".join(raw) + end)
    return path


BAD_LINES: dict[str, tuple[bytes, str]] = {
    "invalid JSON": (b'{"type": "exchange", "seq": 9,', "invalid JSON"),
    "binary garbage": (bytes(range(256)).replace(b"\n", b""), "invalid JSON"),
    "invalid UTF-8": (json.dumps(exchange(9)).encode().replace(b"question", b"\xff\xfe"), "invalid JSON"),
    "deep nesting": (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "nested too deeply"),
    "huge integer": (json.dumps(exchange(9)).replace('"seq": 9', '"seq": 1' + "0" * 5000).encode(), "invalid JSON"),
    "NaN arrival": (json.dumps(exchange(9)).replace('"started_s": 4.5', '"started_s": NaN').encode(), "started_s"),
    "wrong shape": (b'{"type": "exchange", "request": [], "response": 7}', '"request" must be an object'),
    "not an object": (b"[1, 2, 3]", "must be a JSON object"),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_line_names_file_and_line_and_is_skipped_only_when_asked(tmp_path: Path, case: str) -> None:
    raw, words = BAD_LINES[case]
    lines: list[str | bytes] = [*good_lines(2), raw, *good_lines(4)[3:]]
    path = write(tmp_path / "bad.jsonl", lines)
    with pytest.raises(FixtureError) as err:
        list(iter_exchanges(path))
    assert (err.value.path, err.value.line) == (str(path), 4)
    assert words in err.value.message and str(err.value).startswith(f"{path}:4: ")
    seen: list[FixtureError] = []
    kept = list(iter_exchanges(path, skip_bad_lines=True, on_problem=seen.append))
    assert [ex["seq"] for ex in kept] == [0, 1, 2, 3]
    assert [(e.line, words in e.message) for e in seen] == [(4, True)]


@pytest.mark.parametrize(
    ("lines", "end", "words"),
    [
        ([], b"", "empty file"),
        ([HEADER[:40]], b"", "invalid JSON in header"),
        ([json.dumps({"hello": "world"})], b"\n", "not a mockclaude fixture"),
        ([HEADER.replace('"version": 1', '"version": 99')], b"\n", "version 99 is newer than this mockclaude reads"),
    ],
    ids=["empty", "truncated header", "not a fixture", "future version"],
)
def test_unreadable_files_fail_on_line_1_with_a_reason(
    tmp_path: Path, lines: list[str | bytes], end: bytes, words: str
) -> None:
    path = write(tmp_path / "f.jsonl", lines, end)
    with pytest.raises(FixtureError) as err:
        list(iter_exchanges(path, skip_bad_lines=True))  # skipping bad lines never skips a bad header
    assert err.value.line == 1 and words in err.value.message, err.value


def test_torn_last_line_is_a_crash_artefact_skipped_and_reported(tmp_path: Path) -> None:
    full = good_lines(3)
    path = write(tmp_path / "torn.jsonl", [*full[:-1], full[-1][: len(full[-1]) // 2]], end=b"")
    seen: list[FixtureError] = []
    assert [ex["seq"] for ex in iter_exchanges(path, on_problem=seen.append)] == [0, 1]
    assert len(seen) == 1 and seen[0].line == 4 and "torn last line" in seen[0].message
    # The writer that appends next starts on a fresh line: nothing written later is lost.
    with FixtureWriter(path, make_header("synthetic")) as w:
        w.write(exchange(7))
    assert [ex["seq"] for ex in iter_exchanges(path, skip_bad_lines=True)] == [0, 1, 7]


def test_writer_refuses_to_extend_a_future_version_file(tmp_path: Path) -> None:
    path = write(tmp_path / "future.jsonl", [HEADER.replace('"version": 1', '"version": 2')])
    before = path.read_bytes()
    with pytest.raises(FixtureError, match="newer than this mockclaude reads"):
        FixtureWriter(path, make_header("synthetic"))
    assert path.read_bytes() == before  # not touched


def run_cli(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`mockclaude ARGV` as a real subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "mockclaude", *argv], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_cli_reports_every_bad_line_with_file_and_line(tmp_path: Path) -> None:
    lines: list[str | bytes] = [*good_lines(1), BAD_LINES["invalid JSON"][0], *good_lines(3)[2:], b"\xff\xff"]
    bad = write(tmp_path / "bad.jsonl", lines)
    empty = write(tmp_path / "empty.jsonl", [], b"")
    out = run_cli("fixtures", "validate", str(bad), str(empty), str(tmp_path / "missing.jsonl"))
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    for where in (f"{bad}:3:", f"{bad}:6:", f"{empty}:1:", f"{tmp_path / 'missing.jsonl'}"):
        assert where in text, text
    assert "Traceback" not in text


def test_replay_refuses_a_bad_line_unless_told_to_skip_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lines: list[str | bytes] = [*good_lines(2), BAD_LINES["invalid JSON"][0], *good_lines(4)[3:]]
    bad = write(tmp_path / "bad.jsonl", lines)
    # Nothing listens on port 9: the run must stop on the fixture before touching the target.
    out = run_cli("replay", str(bad), "--host", "http://127.0.0.1:9", "--headless", "-u", "1", "-t", "2s")
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"{bad}:4: invalid JSON" in out.stderr and "Traceback" not in out.stderr, out.stderr
    with caplog.at_level(logging.WARNING):
        workload = profiles.resolve_workload(ReplayConfig(fixtures=(str(bad),), skip_bad_lines=True))
    assert len(workload.samples) == 4
    assert f"{bad}:4: invalid JSON" in caplog.text


# A child process reports its peak RSS growth while a command reads the file: streaming keeps it flat.
_PEAK_PROBE = """
import json, sys
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
from mockclaude.cli import main
from replay.workload import load
import mockclaude.fixtures.command
base = hwm()
what, path = sys.argv[1], sys.argv[2]
if what == "load":
    rc, n = 0, len(load([path]).samples)
else:
    rc, n = main(["fixtures", what, "--json", path] if what == "stats" else ["fixtures", what, path]), 0
print(json.dumps({"rc": rc, "growth_kb": hwm() - base, "samples": n}), file=sys.stderr)
"""


def make_big_fixture(path: Path, size_bytes: int) -> int:
    """A valid fixture of about `size_bytes`, written line by line; returns the number of exchanges."""
    template = json.dumps(exchange(0, n_events=400))
    n = 0
    with path.open("w") as f:
        f.write(HEADER + "\n")
        written = len(HEADER)
        while written < size_bytes:
            line = template.replace('"seq": 0', f'"seq": {n}', 1).replace('"started_s": 0.0', f'"started_s": {n}', 1)
            f.write(line + "\n")
            written += len(line) + 1
            n += 1
    return n


def peak_growth_mb(what: str, path: Path, timeout: float) -> tuple[float, dict[str, Any]]:
    """Run the probe for `mockclaude fixtures WHAT` (or replay's loader) and return its RSS growth in MB."""
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_PROBE, what, str(path)], capture_output=True, text=True, timeout=timeout
    )
    report = json.loads(out.stderr.strip().splitlines()[-1])
    assert report["rc"] == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return report["growth_kb"] / 1024, report


def _streams(tmp_path: Path, size_mb: int, bound_mb: float, commands: tuple[str, ...], timeout: float) -> None:
    path = tmp_path / "big.jsonl"
    n = make_big_fixture(path, size_mb * 1024 * 1024)
    for what in commands:
        growth, report = peak_growth_mb(what, path, timeout)
        assert growth < bound_mb, f"{what}: RSS grew {growth:.1f} MB reading a {size_mb} MB fixture"
        if what == "load":
            assert report["samples"] == n


def test_big_fixture_is_streamed_not_loaded(tmp_path: Path) -> None:
    """20 MB of recorded streams: validate, stats and replay's loader grow RSS by far less than the file."""
    _streams(tmp_path, 20, 8, ("validate", "stats", "load"), timeout=120)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_one_gigabyte_fixture_is_streamed(tmp_path: Path) -> None:
    """1 GB: the same commands finish, with memory growth bounded by the request bodies kept for replay."""
    _streams(tmp_path, 1024, 100, ("validate", "stats", "load"), timeout=800)


@pytest.mark.parametrize("case", ["future version", "bad line"])
def test_serve_refuses_a_bad_fixture_at_start(tmp_path: Path, case: str) -> None:
    if case == "future version":
        path, where = write(tmp_path / "f.jsonl", [HEADER.replace('"version": 1', '"version": 3')]), ":1: "
    else:
        path, where = write(tmp_path / "f.jsonl", [*good_lines(2), BAD_LINES["deep nesting"][0]]), ":4: "
    out = run_cli("serve", "--port", "0", "--fixtures", str(path), timeout=30)
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"{path}{where}" in out.stderr and "Traceback" not in out.stderr, out.stderr
