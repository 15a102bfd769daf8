"""Locust glue: options, the per-process replay context, live stats rows, and exact aggregation.

Every request becomes a RequestRecord. Records feed Locust's live stats (rows named after the
metric and the scenario) and are kept whole for the exact summary: a worker ships its records to
the master with each stats report and once more, completely, when the master asks at test stop.
"""

import logging
import random
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import STATE_INIT, STATE_STOPPED, MasterRunner, WorkerRunner
from locust.stats import CONSOLE_STATS_INTERVAL_SEC, CSV_STATS_INTERVAL_SEC

from mockclaude.fixtures.format import FixtureError
from replay import arrivals, preflight, profiles, summary, webtab
from replay.budget import Budget, share
from replay.live import LiveStats, format_rows
from replay.options import OptionError, ReplayConfig, add_arguments, from_namespace
from replay.records import RequestRecord
from replay.report import write_report
from replay.safety import UnsafeTarget, check_target, expected_volume, plan
from replay.workload import Workload

log = logging.getLogger("mockclaude.replay")

FLUSH = "mockclaude_flush"
FLUSHED = "mockclaude_flushed"
REPORT_KEY = "mockclaude_records"
DONE_KEY = "mockclaude_done"
WORKER_COUNT_OPTION = "mockclaude_worker_count"
FLUSH_TIMEOUT_S = 30.0
MAX_REASON = 200  # characters of an error's reason shown in Locust's failure table

DEFAULT_WEB_HOST = "127.0.0.1"

_reported: set[tuple[str, int | None]] = set()  # failure kinds (class, status) already printed here


class ReplayFailure(Exception):
    """How a failed request appears in Locust's failure table: its class and status."""


@dataclass
class ReplayContext:
    """Everything the users of one Locust process share."""

    config: ReplayConfig
    workload: Workload
    api_key: str
    index: int = 0  # this process's index among the workers (0 when local)
    count: int = 1  # number of worker processes (1 when local)
    budget: Budget = field(default_factory=Budget)
    records: list[RequestRecord] = field(default_factory=list)  # local/master: every record
    unsent: list[RequestRecord] = field(default_factory=list)  # worker: not yet shipped
    schedule: Iterator[arrivals.Arrival] | None = None  # open loop: (due seconds, what to send)
    schedule_start: float = 0.0
    users_started: int = 0
    payloads: dict[int, bytes] = field(default_factory=dict)  # encoded body per sample id (not shape samples)
    flushed: set[str] = field(default_factory=set)  # master: workers that answered the flush
    done_workers: set[str] = field(default_factory=set)  # master: workers whose budget ran out
    live: LiveStats = field(default_factory=LiveStats)  # local/master: the LLM view of `records`

    def keep(self, records: Iterable[RequestRecord]) -> None:
        """Keep finished attempts for the summary and add them to the live LLM view."""
        for rec in records:
            self.records.append(rec)
            self.live.add(rec)


_context: ReplayContext | None = None
_ui_timer: gevent.Greenlet | None = None  # stops a web-UI run after -t
_writes_csv = False  # this process writes Locust's --csv files
_console: gevent.Greenlet | None = None  # prints the live LLM view with Locust's console table
_master: MasterRunner | None = None


def context() -> ReplayContext:
    """The replay context of this process (set when the test starts)."""
    if _context is None:
        raise RuntimeError("replay users need the replay plugin's test_start (import replay.users in the locustfile)")
    return _context


def _build(environment: Environment) -> ReplayContext:
    opts = environment.parsed_options
    cfg = from_namespace(opts)
    api_key = check_target(environment.host or "", cfg.real)
    runner = environment.runner
    index, count = 0, 1
    if isinstance(runner, WorkerRunner):
        index = max(runner.worker_index, 0)
        count = max(int(getattr(opts, WORKER_COUNT_OPTION, 1) or 1), 1)
    ctx = ReplayContext(cfg, profiles.resolve_workload(cfg), api_key, index, count)
    ctx.budget = Budget(share(cfg.max_requests, index, count), share(cfg.max_output_tokens, index, count))
    rng = random.Random(f"{cfg.seed}:arrivals:{index}")
    if cfg.rate > 0:
        ctx.schedule = arrivals.poisson(ctx.workload, cfg.rate, rng, count)
    elif cfg.speed > 0:
        ctx.schedule = arrivals.recorded(ctx.workload, cfg.speed, index, count)
    return ctx


def _fail(message: str) -> None:
    sys.stderr.write(f"mockclaude replay: {message}\n")
    sys.exit(2)


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    add_arguments(parser)
    # Everything else of ours listens on loopback unless told otherwise: so does the web UI.
    parser.set_defaults(web_host=DEFAULT_WEB_HOST)


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message(FLUSH, _on_flush_request, concurrent=True)
        return
    if isinstance(runner, MasterRunner):
        global _master
        _master = runner
        runner.register_message(FLUSHED, _on_flushed)
    global _context, _writes_csv
    webtab.install(environment, lambda: _context.live.rows() if _context is not None else [])
    if environment.parsed_options is None:
        return  # a library user building their own Environment: set up at test_start
    _writes_csv = bool(getattr(environment.parsed_options, "csv_prefix", None))
    # Check everything before the first request: bad options or fixtures stop Locust here.
    try:
        _context = _build(environment)
    except (OptionError, UnsafeTarget, FixtureError, ValueError) as exc:
        _fail(str(exc))
    _announce_plan(environment, _context)


def _announce_plan(environment: Environment, ctx: ReplayContext) -> None:
    """Print the planned load, check the target with one request, then say what does not fit its limits."""
    opts = environment.parsed_options
    cfg = ctx.config
    load = plan(
        ctx.workload,
        users=int(getattr(opts, "num_users", None) or 1),
        rate=cfg.rate,
        speed=cfg.speed,
        fixed_think_s=cfg.fixed_think_time(),
    )
    # First what the run will send (with --real, before anything is sent), then the one check request.
    print(
        expected_volume(
            load,
            run_time_s=getattr(opts, "run_time", None),
            max_requests=cfg.max_requests,
            max_output_tokens=cfg.max_output_tokens,
        ),
        flush=True,
    )
    generations = [s.model for s in ctx.workload.samples if not s.counting] or [ctx.workload.samples[0].model]
    model = Counter(generations).most_common(1)[0][0]
    timeout = min(cfg.request_timeout, preflight.TIMEOUT_S)
    try:
        answer = preflight.probe(environment.host or "", ctx.api_key, model, timeout)
    except preflight.TargetUnusable as exc:
        _fail(str(exc))
    limits = ", ".join(f"{v:,} {preflight.UNITS[k]}" for k, v in answer.limits.items()) or "none announced"
    print(f"target {environment.host} answered the check request: HTTP {answer.status}; rate limits per minute: "
          f"{limits}", flush=True)  # fmt: skip
    for line in preflight.warnings(answer, load.per_minute):
        print(f"WARNING: {line}", flush=True)


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_: Any) -> None:
    global _context
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        # Custom options travel to workers with each spawn message: tell them how many share the load.
        setattr(environment.parsed_options, WORKER_COUNT_OPTION, max(runner.worker_count, 1))
    try:
        _context = _build(environment)
    except (OptionError, UnsafeTarget, FixtureError, ValueError) as exc:
        log.error("mockclaude replay: %s", exc)
        raise
    _limit_ui_run(environment)
    _print_live_view(environment)


def _print_live_view(environment: Environment) -> None:
    """Headless, Locust prints its table every few seconds (unless --only-summary): the LLM view follows it."""
    opts = environment.parsed_options
    if isinstance(environment.runner, WorkerRunner) or getattr(opts, "only_summary", False):
        return
    if not (getattr(opts, "headless", False) or getattr(opts, "print_stats", False)):
        return

    def loop() -> None:
        while True:
            gevent.sleep(CONSOLE_STATS_INTERVAL_SEC)
            if _context is not None and _context.live.counts:
                print("LLM metrics (live, Locust-rounded; exact figures at the end)\n"
                      + format_rows(_context.live.rows()) + "\n", flush=True)  # fmt: skip

    global _console
    if _console is None:
        _console = gevent.spawn(loop)


def _limit_ui_run(environment: Environment) -> None:
    """A run started from the web UI stops after -t too (Locust itself applies -t only when headless)."""
    opts = environment.parsed_options
    run_time = getattr(opts, "run_time", None)
    if not run_time or getattr(opts, "headless", False) or getattr(opts, "autostart", False):
        return
    if isinstance(environment.runner, WorkerRunner) or environment.runner is None:
        return
    runner = environment.runner
    log.warning("mockclaude replay: this run stops after %g s (-t); Stop in the web UI ends it earlier", run_time)
    global _ui_timer
    _ui_timer = gevent.spawn_later(run_time, runner.stop)


def _cancel_ui_timer() -> None:
    """A run stopped by hand must not stop the next one early (the timer itself is left to finish)."""
    global _ui_timer
    if _ui_timer is not None and _ui_timer is not gevent.getcurrent():
        _ui_timer.kill(block=False)
    _ui_timer = None


def record(environment: Environment, rec: RequestRecord) -> None:
    """Keep one finished attempt and show it in Locust's live stats."""
    ctx = context()
    if isinstance(environment.runner, WorkerRunner):
        ctx.unsent.append(rec)
    else:
        ctx.keep((rec,))
    ctx.budget.settle(rec)
    _fire_stats(environment, rec)
    if ctx.budget.finished and not isinstance(environment.runner, WorkerRunner | MasterRunner):
        _end_run(environment)


def _fire_stats(environment: Environment, rec: RequestRecord) -> None:
    """One API request is one Locust request (its E2E time), so Locust's RPS and failure % are true."""
    exc = None if rec.ok else ReplayFailure(failure_reason(rec))
    environment.events.request.fire(
        request_type="POST",
        name=rec.scenario,
        response_time=(rec.e2e_s or rec.ttfb_s or 0.0) * 1000,
        response_length=0,
        exception=exc,
        context={},
    )
    if exc is not None and (rec.error_class, rec.status) not in _reported:
        # The first failure of each kind, with its reason, on the console; the summary counts them all.
        _reported.add((rec.error_class, rec.status))
        log.warning("%s: %s (further ones are counted, not printed)", rec.scenario, exc)


def failure_reason(rec: RequestRecord) -> str:
    """What went wrong, class and reason: `connection_error: ConnectionRefusedError: ...`."""
    status = f" (HTTP {rec.status})" if rec.status is not None else ""
    reason = rec.error[:MAX_REASON] if rec.error else "no details"
    return f"{rec.error_class}{status}: {reason}"


def _end_run(environment: Environment) -> None:
    runner = environment.runner
    headless = bool(getattr(environment.parsed_options, "headless", False))
    log.info("mockclaude replay: request/token limit reached, stopping")
    gevent.spawn(runner.quit if headless else runner.stop)


@events.quit.add_listener
def _let_csv_catch_up(exit_code: int = 0, **_: Any) -> None:
    """Locust rewrites --csv files every CSV_STATS_INTERVAL_SEC and not again at exit: wait for one more
    write, so the CSV counts every request of the run (the run has stopped; this delays only the exit)."""
    if _writes_csv:
        gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.2)


@events.reset_stats.add_listener
def _on_reset_stats() -> None:
    """The web UI's Reset clears the LLM tab with Locust's tables (the summary keeps every record)."""
    if _context is not None:
        _context.live = LiveStats()


@events.report_to_master.add_listener
def _ship(client_id: str, data: dict[str, Any]) -> None:
    if _context is None:
        return
    batch, _context.unsent = _context.unsent, []
    data[REPORT_KEY] = [r.to_dict() for r in batch]
    data[DONE_KEY] = _context.budget.finished


@events.worker_report.add_listener
def _receive(client_id: str, data: dict[str, Any]) -> None:
    if _context is None:
        return
    _context.keep(RequestRecord.from_dict(d) for d in data.get(REPORT_KEY, ()))
    if data.get(DONE_KEY):
        _context.done_workers.add(client_id)
        if _master is not None and {c.id for c in _master.clients.all} <= _context.done_workers:
            _end_run(_master.environment)


def _on_flush_request(environment: Environment, msg: Any) -> None:
    """Worker: stop the users, then send every record not yet shipped."""
    runner = environment.runner
    if runner.state not in (STATE_STOPPED, STATE_INIT):
        runner.stop()
    batch: list[dict[str, Any]] = []
    if _context is not None:
        batch = [r.to_dict() for r in _context.unsent]
        _context.unsent = []
    runner.send_message(FLUSHED, {"client_id": runner.client_id, REPORT_KEY: batch})


def _on_flushed(environment: Environment, msg: Any) -> None:
    if _context is None:
        return
    _context.keep(RequestRecord.from_dict(d) for d in msg.data.get(REPORT_KEY, ()))
    _context.flushed.add(msg.data.get("client_id") or msg.node_id)


def _collect_from_workers(runner: MasterRunner) -> None:
    ctx = context()
    ctx.flushed = set()
    expected = {c.id for c in runner.clients.all}
    for client_id in expected:
        runner.send_message(FLUSH, None, client_id)
    with gevent.Timeout(FLUSH_TIMEOUT_S, False):
        while not expected <= ctx.flushed:
            gevent.sleep(0.05)
    missing = expected - ctx.flushed
    if missing:
        log.error("mockclaude replay: no final records from workers %s; the summary misses them", sorted(missing))


@events.test_stop.add_listener
def _on_test_stop(environment: Environment, **_: Any) -> None:
    _cancel_ui_timer()
    if _context is None or isinstance(environment.runner, WorkerRunner):
        return
    if isinstance(environment.runner, MasterRunner):
        _collect_from_workers(environment.runner)
    finish(environment)


def finish(environment: Environment) -> dict[str, Any]:
    """Print the summary table and write the report folder (when --report was given)."""
    ctx = context()
    cfg = ctx.config
    opts = environment.parsed_options
    records = sorted(ctx.records, key=lambda r: r.send_wall)
    runner = environment.runner
    result = summary.build_summary(
        records,
        host=environment.host,
        users=getattr(opts, "num_users", None),
        run_time_s=getattr(opts, "run_time", None),
        workers=runner.worker_count if isinstance(runner, MasterRunner) else 0,
        fixtures=list(cfg.fixtures),
        profile=cfg.workload_profile or None,
        arrivals=f"poisson {cfg.rate}/s" if cfg.rate else (f"recorded x{cfg.speed}" if cfg.speed else "closed loop"),
        think_time=cfg.think_time,
        retry=cfg.retry,
        seed=cfg.seed,
    )
    print("\n" + summary.format_table(result), flush=True)
    if result["requests"] and result["late_requests"] > 0.01 * result["requests"]:
        print(
            f"WARNING: open loop fell behind: {result['late_requests']} of {result['requests']} requests were sent "
            f"more than {summary.LATE_AFTER_S:g} s after their scheduled arrival; the offered rate was not met. "
            "Add users (-u) or lower --rate/--speed.",
            flush=True,
        )
    if cfg.report:
        folder = write_report(cfg.report, records, result)
        print(f"report: {folder}/report.html, summary.json, records.jsonl", flush=True)
    return result
