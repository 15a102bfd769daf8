"""Instructions the mock executes per non-streaming request, counted by valgrind: a before/after that
host noise cannot move.

On a shared 2-core host, requests/s moves 10-15 % between runs: more than most changes to the request
path make. An instruction count barely moves (two runs of one checkout agreed within 0.02 %). Each
server runs under `valgrind --tool=callgrind` (about 50 times slower; the counts are what matter). One
bench.json_load process drives it closed-loop over `--conns` keep-alive connections. The count is
zeroed after `--warmup` seconds of load, and what the server executed in the next `--seconds` is
divided by the requests it answered then. Only user-space instructions of the server process are
counted (the kernel's socket work is not), so the same request, headers and answer cost the same
count every run.

Servers: this checkout's mock; with `--baseline DIR` another checkout's (a before/after); with
`--floor`, bench.bare_json sending the mock's own answer from a bare aiohttp handler (what aiohttp
and asyncio execute per request before any API work). `--body agent` and `--distinct` choose the
request as in bench.json_peer.

With `--by-function N`, one more run of this checkout's mock lists the N Python functions that
execute the most instructions per request, each with everything it calls (inclusive). The server
runs with Python's perf trampolines (PYTHONPERFSUPPORT=1): every call of a Python function passes
through a small stub of its own, which callgrind counts as a function and the server's
/tmp/perf-PID.map names. The stubs add about a fifth to the count, so that run's figures are for
finding where a request's instructions go, not for before/after.

Instructions are not time. A saved instruction saves time only in rough proportion (cache misses and
instructions per cycle differ between code paths). A count from another runtime (aimock's JIT) cannot be
set beside these at all: the peer comparison stays with bench.json_peer. Without valgrind this prints
why it skipped and exits 0. All traffic runs on 127.0.0.1.

    .venv/bin/python -m bench.instructions --seconds 6 --baseline /tmp/before --floor
"""

import argparse
import bisect
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import machine, mock, run_main
from bench.json_peer import add_request_arguments, answer, bare, mock_flags, request_body, run_json_load
from mockclaude.processes import Proc

# Under valgrind the interpreter starts in 10-30 s on this host.
START_TIMEOUT_S = 240.0
# The dump file appears a moment after callgrind_control returns.
DUMP_WAIT_S = 60.0
TOKENS = 20  # output tokens of every answer, as in bench.json_peer


def _valgrind(outfile: Path) -> list[str]:
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={outfile}"]


def _load(proc: Proc, body: dict[str, Any], args: argparse.Namespace, seconds: float) -> int:
    """Requests answered by `proc` in `seconds` of closed-loop load (bench.json_load)."""
    result = run_json_load(proc, body, args, seconds, warmup_s=0.0, timeout=seconds + 120)
    if result["bad"]:
        raise RuntimeError(f"{proc.url} answered {result['statuses']}: the count would not be of the request path")
    return int(result["ok"])


def _control(option: str, proc: Proc) -> None:
    subprocess.run(["callgrind_control", option, str(proc.popen.pid)], capture_output=True, timeout=60, check=True)


def _first_dump(outfile: Path) -> Path:
    """Where callgrind_control's first dump of the run writing `outfile` goes."""
    return outfile.with_name(outfile.name + ".1")


def _dumped(outfile: Path) -> int:
    """The instructions in the first dump callgrind_control wrote next to `outfile`."""
    dump = _first_dump(outfile)
    deadline = time.monotonic() + DUMP_WAIT_S
    while time.monotonic() < deadline:
        if dump.exists():
            for line in dump.read_text(encoding="ascii", errors="replace").splitlines():
                if line.startswith("summary:"):
                    return int(line.split()[1])
        time.sleep(0.2)
    raise RuntimeError(f"callgrind wrote no dump with a summary at {dump}")


def per_request(proc: Proc, outfile: Path, body: dict[str, Any], args: argparse.Namespace) -> tuple[int, float]:
    """(requests answered, instructions per request) of the measured window."""
    _load(proc, body, args, args.warmup)
    _control("--zero", proc)
    n = _load(proc, body, args, args.seconds)
    _control("--dump", proc)
    return n, _dumped(outfile) / n


# A function callgrind has no symbol for, in callgrind_annotate's inclusive listing: its cost and address.
_UNNAMED = re.compile(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+\?\?\?:0x([0-9a-f]+) \[\?\?\?\]")
# Where a trampoline's file name starts to say something: the package inside site-packages or this
# checkout, the stdlib's module.
_SHORTER = re.compile(rf"^(?:.*/(?:site-packages|python3\.\d+)|{re.escape(str(Path(__file__).resolve().parents[1]))})/")
# Functions that enclose nearly everything (the event loop and what started it) say nothing: left out.
_ENCLOSING = 0.98


def _perf_map(pid: int) -> tuple[list[int], list[tuple[int, str]]]:
    """The trampolines in /tmp/perf-PID.map (removed once read): start addresses, sorted, and (end, name)."""
    path = Path(f"/tmp/perf-{pid}.map")
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        start, size, name = line.split(" ", 2)
        func, _, file = name.removeprefix("py::").rpartition(":")
        rows.append((int(start, 16), int(start, 16) + int(size, 16), f"{func} ({_SHORTER.sub('', file)})"))
    path.unlink()
    rows.sort()
    return [r[0] for r in rows], [(r[1], r[2]) for r in rows]


def by_function(pid: int, dump: Path, requests: int, top: int) -> list[tuple[float, str]]:
    """The `top` Python functions by inclusive instructions per request in `dump`, a callgrind dump of
    server `pid`, which ran with perf trampolines (those around the event loop left out)."""
    starts, ends = _perf_map(pid)
    listing = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(dump)],
        capture_output=True, text=True, timeout=600, check=True,
    ).stdout  # fmt: skip
    cost: dict[str, int] = {}
    for line in listing.splitlines():
        m = _UNNAMED.match(line)
        if m is None:
            continue
        address = int(m.group(2), 16)
        i = bisect.bisect_right(starts, address) - 1
        if i >= 0 and address < ends[i][0]:
            name = ends[i][1]
            cost[name] = max(cost.get(name, 0), int(m.group(1).replace(",", "")))
    ranked = sorted(((c / requests, name) for name, c in cost.items()), reverse=True)
    whole = ranked[0][0] if ranked else 0.0
    return [r for r in ranked if r[0] < _ENCLOSING * whole][:top]


def _print_by_function(body: dict[str, Any], args: argparse.Namespace, work: Path) -> None:
    outfile = work / "by-function.callgrind"
    trampolines = {"PYTHONPERFSUPPORT": "1"}
    with mock(*mock_flags(TOKENS), launcher=_valgrind(outfile), timeout=START_TIMEOUT_S, env=trampolines) as proc:
        n, total = per_request(proc, outfile, body, args)
    top = args.by_function
    print(f"# by function: {n} requests, {total:,.0f} instructions each with the trampolines; top {top}, inclusive")
    for per, name in by_function(proc.popen.pid, _first_dump(outfile), n, top):
        print(f"{per:12,.0f}  {name}")


def main(argv: list[str] | None = None) -> int:
    """Count each server's instructions per request; print them and the ratios."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--conns", type=int, default=8, help="keep-alive connections, each one request at a time")
    p.add_argument("--seconds", type=float, default=6.0, help="measured seconds per server")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of load before the count is zeroed")
    p.add_argument("--baseline", metavar="DIR", help="also count the mock of another checkout (before/after)")
    p.add_argument("--floor", action="store_true", help="also count bench.bare_json: aiohttp alone")
    p.add_argument(
        "--by-function", type=int, default=0, metavar="N", help="also list the N costliest Python functions (own run)"
    )
    add_request_arguments(p)
    args = p.parse_args(argv)
    missing = [tool for tool in ("valgrind", "callgrind_control") if shutil.which(tool) is None]
    if missing:
        print(f"# bench.instructions skipped: {' and '.join(missing)} not found on PATH")
        return 0
    body = request_body(args.body, TOKENS)
    print(f"# bench.instructions on {machine()}; callgrind, {args.conns} connections, {args.seconds:g} s counted")
    prompts = "a new one every request" if args.distinct else "one, resent"
    print(f"# body: {args.body}, {len(json.dumps(body))} bytes; prompts: {prompts}")
    print("server        requests  instructions/request")
    got: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mockclaude-instructions-") as tmp:
        work = Path(tmp)
        trees = [("mockclaude", None)] + ([("baseline", args.baseline)] if args.baseline else [])
        for name, tree in trees:
            outfile = work / f"{name}.callgrind"
            with mock(*mock_flags(TOKENS), tree=tree, launcher=_valgrind(outfile), timeout=START_TIMEOUT_S) as proc:
                if name == "mockclaude" and args.floor:
                    headers, answer_body = answer(proc, body)
                n, got[name] = per_request(proc, outfile, body, args)
            print(f"{name:12s} {n:9d} {got[name]:21,.0f}", flush=True)
        if args.floor:
            outfile = work / "bare.callgrind"
            with bare(headers, answer_body, work, launcher=_valgrind(outfile), timeout=START_TIMEOUT_S) as proc:
                n, got["bare"] = per_request(proc, outfile, body, args)
            print(f"{'bare':12s} {n:9d} {got['bare']:21,.0f}", flush=True)
        if args.by_function:
            _print_by_function(body, args, work)
    if args.baseline:
        print(f"ratio mockclaude / baseline: {got['mockclaude'] / got['baseline']:.4f}")
    if args.floor:
        print(f"ratio mockclaude / bare: {got['mockclaude'] / got['bare']:.2f}")
    return 0


if __name__ == "__main__":
    run_main(main)
