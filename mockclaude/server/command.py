"""`mockclaude serve`: flags → settings → a running mock on 127.0.0.1."""

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Callable

from aiohttp import web

from mockclaude import tokens
from mockclaude.fixtures import recorded
from mockclaude.fixtures import turns as turn_counters
from mockclaude.fixtures.appender import Appender
from mockclaude.limits import prompt_cache_store, ratelimit
from mockclaude.limits.acceleration import AccelerationSpec
from mockclaude.limits.faults import KINDS as FAULT_KINDS
from mockclaude.limits.faults import FaultSpec, Outage
from mockclaude.limits.ratelimit import RateLimits
from mockclaude.limits.ratelimit_shared import RedisBucketStore, SharedStores
from mockclaude.limits.store_guard import POLICIES, GuardedStore
from mockclaude.listen import ListenError, check_listen
from mockclaude.rules import spec as rules_spec
from mockclaude.server import supervision
from mockclaude.server.adoption import adopt_orphans
from mockclaude.server.app import make_app
from mockclaude.server.batch_store import DAY_S, DEFAULT_QUEUE, BatchOptions
from mockclaude.server.protocol_errors import ApiAppRunner
from mockclaude.server.settings import CONTENT_RATES, DEFAULT_PREFILL_TPS, Settings, positive, probability
from mockclaude.server.state import MockState, Options
from mockclaude.server.upstream import Upstream
from mockclaude.server.workers import BACKLOG, Listeners, run_workers
from mockclaude.synth.content import ContentSettings, OutputLength
from mockclaude.synth.pacing import Range
from mockclaude.targets import API_KEY_ENV, check_target, is_loopback

SHUTDOWN_GRACE_S = 5.0
# The Common Log Format with the user agent and the seconds taken (a stream: until its last byte).
ACCESS_LOG_FORMAT = '%a - - %t "%r" %s %b "%{User-Agent}i" %Tf'

EXAMPLES = """examples:
  mockclaude serve --tps 40 --rate-limit 50rpm
  mockclaude serve --ttft 0.3-0.8 --tps 30-60 --output-tokens 50-400 --seed 7
  mockclaude serve --rate-limit 50rpm,30000itpm,8000otpm --fault 529:0.05 --fault midstream:0.01
  mockclaude serve --api-key sk-ant-test --admin-token s3cret --port 9000

  mockclaude serve --outage 529@30s-60s --fault truncate:0.02 --acceleration-limit 2x,60rpm

per-request override for deterministic tests: header `x-mockclaude-fault: KIND` (a kind below, or none)
admin API: GET /_mockclaude/stats, GET|PATCH /_mockclaude/config, POST /_mockclaude/reset,
GET /_mockclaude/verdict (how each client handled errors; `mockclaude verdict URL`),
GET|DELETE /_mockclaude/cache (prompt cache); metrics: GET /metrics
rules: GET|POST|DELETE /_mockclaude/rules[?scope=NAME]; scopes (header x-mockclaude-scope: NAME):
POST /_mockclaude/scopes/NAME/reset, GET|PATCH /_mockclaude/scopes/NAME/config, GET .../stats, GET .../verdict
"""


# The collector's thresholds, for thousands of live streams (~70 tracked objects each: tasks,
# transports, parsers). With the defaults (700, 10, 10) a ramp to 2,000 streams set off full
# collections of 50-130 ms, measured: the TTFT error p99 of the ramp. Young collections every
# 2,000 allocations and full ones after 100 middle ones (and, as always, only once the survivors
# grew by a quarter) kept every pause there under ~20 ms.
GC_THRESHOLDS = (2000, 10, 100)


def _flag(parse, name: str):
    """An argparse type that turns a parser's ValueError into a message naming the flag."""

    def convert(text: str):
        try:
            return parse(text)
        except ValueError as exc:
            msg = str(exc)
            raise argparse.ArgumentTypeError(msg if name in msg else f"{name}: {msg}") from None

    convert.__name__ = name
    return convert


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(f"--port must be 0-65535, not {port}")
    return port


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"expected a whole number >= 1, not {text!r}") from None
    if value < 1:
        raise ValueError(f"expected a whole number >= 1, not {text!r}")
    return value


def _entries(text: str) -> int:
    n = _positive_int(text)
    if n < prompt_cache_store.WAYS:
        raise ValueError(f"--prompt-cache-entries must be at least {prompt_cache_store.WAYS}, not {n}")
    return n


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The `serve` flags."""
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = EXAMPLES
    net = p.add_argument_group("network")
    net.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; binding elsewhere is explicit)"
    )
    net.add_argument(
        "--port", type=_flag(_port, "--port"), default=8080, help="port (0 picks a free one; default 8080)"
    )
    net.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes accepting on one port (on Linux the kernel spreads connections over them), restarted "
        "if they die; rate limits stay exact across them, admin stats and /metrics are per worker (default 1)",
    )
    net.add_argument(
        "--idle-timeout",
        type=_flag(lambda s: positive(s, "--idle-timeout"), "--idle-timeout"),
        default=120.0,
        help="seconds before closing a silent connection: idle keep-alive, or stalled headers or body (default 120)",
    )
    timing = p.add_argument_group("timing")
    timing.add_argument(
        "--tps",
        type=_flag(lambda s: Range.parse(s, name="--tps", minimum=1e-3), "--tps"),
        help="output tokens per second per stream, N or MIN-MAX (default: the model's own profile)",
    )
    timing.add_argument(
        "--ttft",
        type=_flag(lambda s: Range.parse(s, name="--ttft"), "--ttft"),
        help="seconds to the first token for a tiny prompt, N or MIN-MAX (default: the model's profile)",
    )
    timing.add_argument(
        "--prefill-tps",
        type=_flag(lambda s: positive(s, "--prefill-tps"), "--prefill-tps"),
        default=DEFAULT_PREFILL_TPS,
        help=f"input tokens per second added to TTFT, so TTFT grows with the prompt (default {DEFAULT_PREFILL_TPS:g})",
    )
    timing.add_argument(
        "--chunk-tokens",
        type=_flag(lambda s: Range.parse(s, name="--chunk-tokens", minimum=1), "--chunk-tokens"),
        default=Range(1, 3),
        help="tokens per streamed delta, N or MIN-MAX (default 1-3)",
    )
    content = p.add_argument_group("content")
    content.add_argument(
        "--output-tokens",
        type=_flag(OutputLength.parse, "--output-tokens"),
        default=OutputLength.parse("default"),
        help="answer length in tokens: N, MIN-MAX or 'default' (a realistic distribution); capped by max_tokens",
    )
    for name, meaning in CONTENT_RATES.items():
        flag = "--" + name.replace("_", "-")
        default = getattr(ContentSettings(), name)
        content.add_argument(
            flag,
            type=_flag(lambda s, flag=flag: probability(s, flag), flag),
            default=default,
            help=f"{meaning} (default {default:g})",
        )
    content.add_argument("--seed", type=int, default=None, help="seed for text, tool inputs, timing jitter and faults")
    content.add_argument(
        "--any-model", action="store_true", help="accept any model name instead of 404 for unknown ones"
    )
    limits = p.add_argument_group("limits and faults")
    limits.add_argument(
        "--redis",
        metavar="URL",
        help="keep rate-limit buckets and prompt-cache entries in Redis (e.g. redis://127.0.0.1:6379/0), so "
        "every mock using it enforces one limit per key and shares one cache; needs `pip install redis`",
    )
    limits.add_argument(
        "--limits-on-store-failure",
        choices=POLICIES,
        help="while the --redis store is unreachable: 'open' admits requests unchecked (default), "
        "'closed' answers 529 overloaded_error; one log line when it goes away and one when it is back",
    )
    limits.add_argument(
        "--rate-limit",
        type=_flag(RateLimits.parse, "--rate-limit"),
        help="token buckets per API key, e.g. 50rpm or 50rpm,30000itpm,8000otpm (default: headers only, no limit)",
    )
    limits.add_argument(
        "--fault",
        action="append",
        default=[],
        type=_flag(FaultSpec.parse, "--fault"),
        metavar="KIND:PROB",
        help=f"inject a fault with a probability; kinds {', '.join(FAULT_KINDS)} (repeatable)",
    )
    limits.add_argument(
        "--outage",
        action="append",
        default=[],
        type=_flag(Outage.parse, "--outage"),
        metavar="KIND@START-END",
        help="fail every request with KIND between START and END into the run (or since the admin reset), "
        "e.g. 529@30s-60s (repeatable)",
    )
    limits.add_argument(
        "--stall-seconds",
        type=_flag(lambda v: positive(v, "--stall-seconds"), "--stall-seconds"),
        default=30.0,
        metavar="S",
        help="how long a `stall` fault holds a silent connection before closing it (default 30)",
    )
    limits.add_argument(
        "--slow-headers-seconds",
        type=_flag(lambda v: positive(v, "--slow-headers-seconds"), "--slow-headers-seconds"),
        default=5.0,
        metavar="S",
        help="how long a `slow-headers` fault delays the status line (default 5)",
    )
    limits.add_argument(
        "--acceleration-limit",
        type=_flag(AccelerationSpec.parse, "--acceleration-limit"),
        default=None,
        metavar="FACTORx[,FLOORrpm]",
        help="429 a key whose requests in a minute exceed FACTOR times the minute before (and FLOOR), "
        "like the API's acceleration limits, e.g. 2x,60rpm",
    )
    batch = p.add_argument_group("message batches (see README: Message Batches)")
    batch.add_argument(
        "--batch-speed",
        type=_flag(lambda s: positive(s, "--batch-speed"), "--batch-speed"),
        default=1.0,
        metavar="X",
        help="run batch processing X times faster than real time (each request takes its generation time; "
        "default 1)",
    )
    batch.add_argument(
        "--batch-expiry",
        type=_flag(lambda s: positive(s, "--batch-expiry"), "--batch-expiry"),
        default=DAY_S,
        metavar="S",
        help="simulated seconds after which a batch's unfinished requests expire (default 86400, the API's 24 h)",
    )
    batch.add_argument(
        "--batch-queue",
        type=_flag(_positive_int, "--batch-queue"),
        default=DEFAULT_QUEUE,
        metavar="N",
        help=f"requests per API key in batches not yet ended; more is a 429 (default {DEFAULT_QUEUE:,}, Tier 1)",
    )
    cache = p.add_argument_group("prompt caching (see README: Prompt caching)")
    cache.add_argument(
        "--prompt-cache",
        choices=["on", "off"],
        default="on",
        help="simulate prompt caching as the API does: cache_control writes, reads, TTLs (default on)",
    )
    cache.add_argument(
        "--prompt-cache-ttl-scale",
        type=_flag(lambda s: positive(s, "--prompt-cache-ttl-scale"), "--prompt-cache-ttl-scale"),
        default=1.0,
        metavar="X",
        help="multiply the 5m and 1h cache lifetimes (0.01: a 5m entry lives 3 s; default 1)",
    )
    cache.add_argument(
        "--prompt-cache-entries",
        type=_flag(_entries, "--prompt-cache-entries"),
        default=prompt_cache_store.DEFAULT_ENTRIES,
        metavar="N",
        help=f"most cache entries kept, 40 bytes each (default {prompt_cache_store.DEFAULT_ENTRIES:,} = 5 MiB; "
        "with --redis, Redis's maxmemory bounds them instead)",
    )
    rec = p.add_argument_group("recorded traffic (see README: Make the mock behave like your production)")
    rec.add_argument(
        "--fixtures",
        nargs="+",
        action="extend",
        default=[],
        metavar="FILE",
        help="answer requests that match a recorded exchange with the recorded response and timing",
    )
    rec.add_argument(
        "--time-scale", type=float, default=1.0, metavar="X", help="multiply recorded times (0.5 = twice as fast)"
    )
    rec.add_argument(
        "--strict-fixtures", action="store_true", help="answer unmatched requests with a 404 instead of synthetic text"
    )
    rec.add_argument(
        "--profile", metavar="FILE", help="latency profile from `mockclaude fixtures fit` for unmatched requests"
    )
    rec.add_argument(
        "--faults-from-fixtures", action="store_true", help="inject 429/529/5xx at the recorded rates (unmatched only)"
    )
    rec.add_argument(
        "--session-key", metavar="FILE", help="the recorder's session key file, so real text matches pii fixtures"
    )
    rec.add_argument(
        "--record-missing",
        action="store_true",
        help="send a request no rule or fixture answers to --upstream, answer with what it says, and append "
        "the exchange (anonymized) to the first --fixtures file, so the next run answers it offline",
    )
    rec.add_argument("--upstream", metavar="URL", help="the API --record-missing asks, e.g. https://api.anthropic.com")
    rec.add_argument(
        "--real",
        action="store_true",
        help="allow an --upstream outside 127.0.0.0/8 (real, billed requests; key from ANTHROPIC_API_KEY)",
    )
    scr = p.add_argument_group("scripted answers (see README: Scripted answers)")
    scr.add_argument(
        "--rules",
        action="append",
        default=[],
        metavar="FILE",
        help="YAML or JSON rules that match requests and say what to answer (checked at start; repeatable)",
    )
    scr.add_argument(
        "--strict-rules",
        action="store_true",
        help="answer a request no rule (and no fixture) matches with a 404 listing the closest rules",
    )
    auth = p.add_argument_group("access")
    auth.add_argument(
        "--api-key", action="append", default=[], help="accept only this key (repeatable; default: any key)"
    )
    auth.add_argument("--admin-token", help="require this value in x-mockclaude-admin-token for /_mockclaude/")
    auth.add_argument("--no-admin", action="store_true", help="disable the admin API")
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    p.add_argument(
        "--access-log",
        action="store_true",
        help="print one line per request on stdout (client, time, request line, status, bytes, seconds)",
    )
    p.add_argument(
        "--uvloop",
        action="store_true",
        help="run on uvloop (pip install 'mockclaude[speed]'); it measured no gain here, see BENCHMARKS.md",
    )


def build(args: argparse.Namespace, org_id: str | None = None) -> MockState:
    """The server state the flags describe."""
    content = ContentSettings(output_length=args.output_tokens, **{name: getattr(args, name) for name in CONTENT_RATES})
    settings = Settings(
        tps=args.tps,
        ttft=args.ttft,
        prefill_tps=args.prefill_tps,
        chunk_tokens=args.chunk_tokens,
        content=content,
        faults=tuple(args.fault),
        rate_limit=args.rate_limit,
        prompt_cache=args.prompt_cache == "on",
        prompt_cache_ttl_scale=args.prompt_cache_ttl_scale,
    )
    upstream = _upstream(args)  # first: it makes the fixture when there is none yet
    rec = None
    if args.fixtures or args.profile:
        rec = recorded.load(
            args.fixtures,
            session_key=args.session_key,
            scale=args.time_scale,
            strict=args.strict_fixtures,
            profile_path=args.profile,
            faults_from_fixtures=args.faults_from_fixtures,
            seed=args.seed,
        )
        recorded.print_notes(rec)
    elif args.strict_fixtures or args.faults_from_fixtures or args.session_key:
        raise ValueError("--strict-fixtures, --faults-from-fixtures and --session-key need --fixtures (or --profile)")
    options = Options(
        api_keys=frozenset(args.api_key),
        # Recorded requests must be answerable even if their model is not (or no longer) catalogued.
        any_model=args.any_model or (rec is not None and rec.needs_any_model()),
        admin=not args.no_admin,
        admin_token=args.admin_token,
        seed=args.seed,
        idle_timeout_s=args.idle_timeout,
        # Batches live in one process's memory: with --workers N the batch endpoints answer 400.
        batches=BatchOptions(args.batch_speed, args.batch_expiry, args.batch_queue) if args.workers == 1 else None,
        outages=tuple(args.outage),
        stall_s=args.stall_seconds,
        slow_headers_s=args.slow_headers_seconds,
        acceleration=args.acceleration_limit,
        prompt_cache_entries=args.prompt_cache_entries,
        **({"org_id": org_id} if org_id else {}),
    )
    state = MockState(options, settings)
    state.recorded = rec
    state.upstream = upstream
    state.rules = [rule for path in args.rules for rule in rules_spec.load_file(path)]
    state.strict_rules = args.strict_rules
    return state


def _upstream(args: argparse.Namespace) -> Upstream | None:
    """--record-missing: the upstream (loopback, or anything with --real) and the fixture to append to."""
    if not args.record_missing:
        if args.upstream or args.real:
            raise ValueError("--upstream and --real are for --record-missing")
        return None
    if not args.fixtures or not args.upstream:
        raise ValueError("--record-missing needs --fixtures FILE (appended to) and --upstream URL")
    key = check_target(args.upstream, args.real, flag="--upstream")
    if not is_loopback(args.upstream):
        print(
            f"mockclaude serve: --record-missing sends every request no rule or fixture answers to {args.upstream} "
            f"with the key in {API_KEY_ENV}: each is a real, billed API call (its input tokens, and output up to "
            "its max_tokens). Each recorded exchange is printed with its usage.",
            file=sys.stderr,
            flush=True,
        )
    return Upstream(args.upstream, key, Appender(args.fixtures[0], args.session_key))


def announce(host: str, port: int) -> None:
    """The line tests and tools wait for."""
    shown = f"[{host}]" if ":" in host else host
    print(f"mockclaude: listening on http://{shown}:{port}", flush=True)


async def serve(
    state: MockState,
    host: str,
    port: int,
    *,
    listeners: Listeners | None = None,
    on_ready: Callable[[int], None] | None = None,
    access_log: bool = False,
) -> None:
    """Run until SIGTERM/SIGINT; open streams get SHUTDOWN_GRACE_S to finish, then are closed. A worker
    of `--workers N` accepts on its `listeners`."""
    # aiohttp waits shutdown_timeout for each handler, then as long again after a "cancel" that a
    # streaming handler never sees: half the grace each makes the whole wait the grace.
    # handler_cancellation: a client that hangs up ends its handler at once (a JSON answer would
    # otherwise keep its task, stream count and rate-limit reservation for the whole generation time).
    runner = ApiAppRunner(
        make_app(state),
        handle_signals=False,
        shutdown_timeout=SHUTDOWN_GRACE_S / 2,
        handler_cancellation=True,
        **access_log_options(access_log),
    )
    await runner.setup()
    tokens.count_text("warm up")  # load the tokenizer now rather than during the first request
    # What start-up made (tokenizer tables, text corpus, the app) lives as long as the process:
    # frozen, full collections stop walking it again (25-35 ms each, measured, at 1,000+ streams).
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    # A worker of --workers N accepts on the sockets server.workers gave it. asyncio listens again
    # with the site's backlog (aiohttp's default 128), so both get the full one, or a burst of
    # connections overflows the accept queue (SYNs dropped, 1 s retransmits: measured, 1,000
    # connects in 10 ms to --workers 2 took 1.0 s at the p99).
    site = (
        web.SockSite(runner, listeners.own, backlog=BACKLOG)
        if listeners is not None
        else web.TCPSite(runner, host, port, backlog=BACKLOG)
    )
    await site.start()
    supervision.set_accepting()
    adoption = asyncio.create_task(adopt_orphans(runner, listeners.others if listeners else {}, BACKLOG))
    bound = runner.addresses[0][1]
    if on_ready is None:
        announce(host, bound)
    else:
        on_ready(bound)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    adoption.cancel()
    await runner.cleanup()


def access_log_options(enabled: bool) -> dict[str, object]:
    """aiohttp's access log arguments: none, or one line per request on stdout in a familiar format."""
    if not enabled:
        return {"access_log": None}
    logger = logging.getLogger("aiohttp.access")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # whatever --log-level says, the access log is on because it was asked for
    return {"access_log": logger, "access_log_format": ACCESS_LOG_FORMAT}


def uvloop_factory(wanted: bool) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory if `wanted` (None: asyncio's own); ValueError if uvloop is not installed."""
    if not wanted:
        return None
    try:
        import uvloop
    except ImportError:
        raise ValueError("--uvloop: uvloop is not installed (pip install 'mockclaude[speed]')") from None
    return uvloop.new_event_loop


def run(args: argparse.Namespace) -> int:
    """Entry point of `mockclaude serve`."""
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Faker logs every locale it looks at (hundreds of lines) at debug: not the mock's debugging.
    logging.getLogger("faker").setLevel(logging.INFO)
    try:
        check_listen(args.host, args.port)  # a taken port or a foreign host: one line, before loading anything
        _shared_limits(args)
        if args.workers > 1:
            if args.record_missing:
                raise ValueError("--record-missing appends from one process: start it without --workers")
            if args.fixtures:
                turn_counters.shared = turn_counters.shared_for(args.fixtures)  # before the workers fork
            return run_workers(args, _serve_worker, lambda port: announce(args.host, port))
        loop_factory = uvloop_factory(args.uvloop)
        state = build(args)
    except (ValueError, ListenError) as exc:
        print(f"mockclaude serve: {exc}", file=sys.stderr)
        return 2
    asyncio.run(serve(state, args.host, args.port, access_log=args.access_log), loop_factory=loop_factory)
    return 0


def _shared_limits(args: argparse.Namespace) -> None:
    """Check --workers; with --redis, rate-limit buckets and prompt-cache entries live in Redis; with
    --workers N, the cache entries live in shared memory made before the workers fork."""
    if args.workers < 1:
        raise ValueError(f"--workers {args.workers}: needs at least 1")
    if args.redis:
        policy = args.limits_on_store_failure or "open"
        ratelimit.default_store = SharedStores(GuardedStore(RedisBucketStore(args.redis), policy))
        prompt_cache_store.shared = prompt_cache_store.RedisCacheStore(args.redis)
    elif args.limits_on_store_failure:
        raise ValueError("--limits-on-store-failure applies to the --redis store; without --redis the buckets "
                         "live in this host's memory, which cannot become unreachable")
    if not args.redis and args.workers > 1:
        prompt_cache_store.shared = prompt_cache_store.CacheTable(args.prompt_cache_entries, shared=True)


def _serve_worker(
    args: argparse.Namespace, listeners: Listeners, org_id: str, on_ready: Callable[[int], None]
) -> None:
    """One worker of `--workers N`: its own state, its listening sockets, the shared limits."""
    try:
        state = build(args, org_id=org_id)
    except ValueError as exc:
        print(f"mockclaude serve: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    loop_factory = uvloop_factory(args.uvloop)
    asyncio.run(
        serve(state, args.host, 0, listeners=listeners, on_ready=on_ready, access_log=args.access_log),
        loop_factory=loop_factory,
    )
