"""Prompt caching in a real `mockclaude serve`, seen through the real `anthropic` SDK."""

import concurrent.futures
import contextlib
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from mockclaude.processes import Proc, mock_server
from mockclaude.wire import messages as wm
from tests import test_recorded_units as recorded_units
from tests.conftest import free_port
from tests.test_store_outage import redis_on

MODEL = "claude-sonnet-4-6"  # minimum cacheable prompt: 1,024 tokens
SYSTEM = "You are a meticulous assistant for a large software project. " * 450  # ~5,000 tokens
QUESTION = [{"role": "user", "content": "What changed?"}]
FAST = ("--ttft", "0", "--tps", "5000", "--output-tokens", "5")


def system(text: str = SYSTEM, ttl: str | None = None) -> list[dict[str, Any]]:
    """A system prompt with one breakpoint."""
    mark = {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}
    return [{"type": "text", "text": text, "cache_control": mark}]


def client(p: Proc, key: str = "sk-ant-cache", **kw: Any) -> anthropic.Anthropic:
    """The SDK on the mock, no retries (a 429 must be seen)."""
    return anthropic.Anthropic(api_key=key, base_url=p.url, max_retries=0, **kw)


def ask(c: anthropic.Anthropic, **kw: Any) -> anthropic.types.Usage:
    """One JSON request; its usage."""
    args: dict[str, Any] = {"model": MODEL, "max_tokens": 16, "system": system(), "messages": QUESTION, **kw}
    return c.messages.create(**args).usage


def admin(p: Proc, path: str, method: str = "GET") -> dict[str, Any]:
    """An admin API call."""
    with urllib.request.urlopen(urllib.request.Request(f"{p.url}/_mockclaude/{path}", method=method), timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def fast() -> Iterator[Proc]:
    """A quick mock for the usage checks (each test uses its own API key, so entries never mix)."""
    with mock_server(*FAST) as p:
        yield p


def test_written_then_read_in_json_and_stream_events(fast: Proc) -> None:
    c = client(fast, "sk-ant-usage")
    first = ask(c)
    total = c.messages.count_tokens(model=MODEL, system=system(), messages=QUESTION).input_tokens
    assert first.cache_creation_input_tokens > 4500 and first.cache_read_input_tokens == 0
    assert first.cache_creation is not None
    assert first.cache_creation.ephemeral_5m_input_tokens == first.cache_creation_input_tokens
    assert first.input_tokens + first.cache_creation_input_tokens == total  # count_tokens is unaffected
    second = ask(c)
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == 0 and second.input_tokens == first.input_tokens
    with c.messages.stream(model=MODEL, max_tokens=16, system=system(), messages=QUESTION) as stream:
        events = list(stream)
        final = stream.get_final_message()
    start = next(e for e in events if e.type == "message_start").message.usage
    delta = next(e for e in events if e.type == "message_delta").usage
    assert start.cache_read_input_tokens == delta.cache_read_input_tokens == first.cache_creation_input_tokens
    assert start.cache_creation is not None and start.cache_creation.ephemeral_5m_input_tokens == 0
    assert delta.input_tokens == start.input_tokens and delta.cache_creation_input_tokens == 0
    assert final.usage.cache_read_input_tokens == first.cache_creation_input_tokens


def test_one_hour_ttl_and_the_newer_tokenizer_still_sum_to_count_tokens(fast: Proc) -> None:
    c = client(fast, "sk-ant-1h")
    model = "claude-opus-4-7"  # tokenizer factor 1.3, minimum 2,048
    used = ask(c, model=model, system=system(ttl="1h"))
    total = c.messages.count_tokens(model=model, system=system(ttl="1h"), messages=QUESTION).input_tokens
    assert used.cache_creation is not None and used.cache_creation.ephemeral_1h_input_tokens > 5000
    assert used.input_tokens + used.cache_creation_input_tokens == total
    again = ask(c, model=model, system=system(ttl="1h"))
    assert again.input_tokens + again.cache_read_input_tokens == total


def test_under_the_models_minimum_nothing_is_ever_cached(fast: Proc) -> None:
    c = client(fast, "sk-ant-short")
    short = system("A short system prompt. " * 100)  # ~500 tokens < 1,024
    for _ in range(2):
        used = ask(c, system=short)
        assert used.cache_creation_input_tokens == used.cache_read_input_tokens == 0


def test_changed_prefix_misses(fast: Proc) -> None:
    c = client(fast, "sk-ant-change")
    ask(c)
    changed = ask(c, system=system(SYSTEM + " Answer in French."))
    assert changed.cache_read_input_tokens == 0 and changed.cache_creation_input_tokens > 4500


def test_a_breakpoint_spelled_with_escapes_is_found(fast: Proc) -> None:
    # The mock skips looking for breakpoints in a body whose bytes lack "cache_control": a key that
    # spells it with a \u escape (legal JSON) must still be found, and one without any is not a miss.
    plain = ask(client(fast, "sk-ant-plain-bytes"))
    body = {"model": MODEL, "max_tokens": 16, "system": system(), "messages": QUESTION}
    raw = json.dumps(body).replace('"cache_control"', '"cache\\u005fcontrol"').encode()
    assert b"cache_control" not in raw
    headers = {"x-api-key": "sk-ant-escaped", "anthropic-version": "2023-06-01", "content-type": "application/json"}
    request = urllib.request.Request(f"{fast.url}/v1/messages", data=raw, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as r:
        escaped = json.loads(r.read())["usage"]
    assert escaped["cache_creation_input_tokens"] == plain.cache_creation_input_tokens > 4500
    unmarked = ask(client(fast, "sk-ant-unmarked-bytes"), system=SYSTEM)
    assert unmarked.cache_creation_input_tokens == 0 and unmarked.input_tokens > 4500


def test_two_api_keys_never_share_and_bearer_is_the_same_key(fast: Proc) -> None:
    ask(client(fast, "sk-ant-owner"))
    assert ask(client(fast, "sk-ant-stranger")).cache_read_input_tokens == 0
    bearer = anthropic.Anthropic(auth_token="sk-ant-owner", base_url=fast.url, max_retries=0)
    assert ask(bearer).cache_read_input_tokens > 4500
    # The same key in another workspace (the header the SDK sends for workspace_id) does not share either.
    other_workspace = ask(client(fast, "sk-ant-owner"), extra_headers={"anthropic-workspace-id": "wrkspc_other"})
    assert other_workspace.cache_read_input_tokens == 0


def test_automatic_caching_follows_a_growing_conversation(fast: Proc) -> None:
    c = client(fast, "sk-ant-auto")
    history: list[dict[str, Any]] = [{"role": "user", "content": "Summarise the design. " * 150}]
    plain = [{"type": "text", "text": SYSTEM}]
    reads = []
    for turn in range(3):
        resp = c.messages.create(
            model=MODEL, max_tokens=16, system=plain, messages=history, cache_control={"type": "ephemeral"}
        )
        reads.append(resp.usage.cache_read_input_tokens)
        history += [{"role": "assistant", "content": resp.content}, {"role": "user", "content": f"And turn {turn}?"}]
    assert reads[0] == 0 and 0 < reads[1] < reads[2]


def test_breakpoint_errors_are_the_apis_400s(fast: Proc) -> None:
    c = client(fast, "sk-ant-bad")
    five = [{"type": "text", "text": str(i), "cache_control": {"type": "ephemeral"}} for i in range(5)]
    with pytest.raises(anthropic.BadRequestError, match="A maximum of 4 blocks with cache_control may be provided"):
        ask(c, system=five)
    mixed = [*system(ttl="5m"), *system("later", ttl="1h")]
    with pytest.raises(anthropic.BadRequestError, match=r"system\.1\.cache_control\.ttl: a ttl='1h' cache_control"):
        ask(c, system=mixed)


def test_admin_shows_flushes_and_reset_empties_the_cache(fast: Proc) -> None:
    c = client(fast, "sk-ant-admin")
    ask(c)
    shown = admin(fast, "cache")
    assert shown["enabled"] and shown["store"] == "memory" and shown["entries"] >= 1 and shown["hits"] >= 0
    assert admin(fast, "cache", "DELETE")["flushed"] >= 1 and admin(fast, "cache")["entries"] == 0
    assert ask(c).cache_read_input_tokens == 0
    admin(fast, "reset", "POST")
    assert admin(fast, "cache")["entries"] == 0 and ask(c).cache_read_input_tokens == 0
    assert ask(c).cache_read_input_tokens > 4500
    after = admin(fast, "cache")
    assert (after["hits"], after["misses"]) == (1, 1) and after["read_tokens"] > 4500
    with urllib.request.urlopen(f"{fast.url}/metrics", timeout=10) as r:
        metrics = r.read().decode()
    assert re.search(r'^mockclaude_prompt_cache_lookups_total\{result="hit"\} [1-9]', metrics, re.M)
    assert re.search(r"^mockclaude_prompt_cache_entries [1-9]", metrics, re.M)


def test_prompt_cache_off_reports_no_cache_and_can_be_switched_at_runtime() -> None:
    with mock_server(*FAST, "--prompt-cache", "off") as p:
        c = client(p)
        for _ in range(2):
            assert ask(c).cache_creation_input_tokens == ask(c).cache_read_input_tokens == 0
        req = urllib.request.Request(f"{p.url}/_mockclaude/config", data=b'{"prompt_cache": "on"}', method="PATCH")
        urllib.request.urlopen(req, timeout=10).close()
        assert ask(c).cache_creation_input_tokens > 4500 and ask(c).cache_read_input_tokens > 4500
        bad = urllib.request.Request(f"{p.url}/_mockclaude/config", data=b'{"prompt_cache": "maybe"}', method="PATCH")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad, timeout=10)
        assert refused.value.code == 400 and b"prompt_cache: expected on or off" in refused.value.read()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--prompt-cache-entries", "3"], "--prompt-cache-entries must be at least 8, not 3"),
        (["--prompt-cache-entries", "many"], "--prompt-cache-entries: expected a whole number >= 1, not 'many'"),
        (["--prompt-cache-ttl-scale", "0"], "--prompt-cache-ttl-scale: expected a positive number"),
        (["--prompt-cache", "maybe"], "--prompt-cache: invalid choice: 'maybe'"),
    ],
)
def test_bad_cache_flags_name_the_flag(flags: list[str], message: str) -> None:
    argv = [sys.executable, "-m", "mockclaude", "serve", "--port", "0", *flags]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and message in done.stderr, done.stderr


def test_entry_expires_after_the_scaled_ttl_and_a_hit_refreshes_it() -> None:
    # 5m × 0.02 = 6 s. Loaded machine: every wait keeps ≥ 1.5 s from the boundary it tests.
    with mock_server(*FAST, "--prompt-cache-ttl-scale", "0.02") as p:
        c = client(p)
        assert ask(c).cache_creation_input_tokens > 0
        time.sleep(4.0)
        assert ask(c).cache_read_input_tokens > 0  # refreshed: now lives until about t=10
        time.sleep(4.0)
        assert ask(c).cache_read_input_tokens > 0  # t≈8, past the first write's expiry at 6
        time.sleep(7.5)
        used = ask(c)
        assert used.cache_read_input_tokens == 0 and used.cache_creation_input_tokens > 0


def _ttft(c: anthropic.Anthropic) -> float:
    """Seconds from sending a streamed request to its first text delta."""
    start = time.monotonic()
    with c.messages.stream(model=MODEL, max_tokens=16, system=system(), messages=QUESTION) as stream:
        for event in stream:
            if event.type == "content_block_delta":
                return time.monotonic() - start
    raise AssertionError("no content delta")


def test_second_requests_ttft_is_shorter_by_the_cached_prefill() -> None:
    prefill_tps = 2000.0
    with mock_server("--ttft", "0", "--tps", "5000", "--prefill-tps", str(prefill_tps)) as p:
        c = client(p)
        first = _ttft(c)
        cached = ask(c).cache_read_input_tokens
        second = _ttft(c)
    saved = cached / prefill_tps  # ~2.5 s
    assert first - second == pytest.approx(saved, abs=0.5), (first, second, saved)
    assert second < 0.5


def test_cached_workload_fits_an_itpm_limit_that_refuses_the_uncached_one() -> None:
    # 8 requests of ~5,000 input tokens against 20,000 ITPM: uncached, the bucket is empty after 4;
    # cached, only the first pays for its write and the rest charge a few tokens each.
    with mock_server(*FAST, "--rate-limit", "20000itpm") as p:

        def statuses(key: str, sys: list[dict[str, Any]]) -> list[int]:
            out = []
            for _ in range(8):
                try:
                    ask(client(p, key), system=sys)
                    out.append(200)
                except anthropic.RateLimitError:
                    out.append(429)
            return out

        uncached = statuses("sk-ant-plain", [{"type": "text", "text": SYSTEM}])
        cached = statuses("sk-ant-cached", system())
    assert uncached.count(429) >= 3, uncached
    assert cached == [200] * 8, cached


def test_two_workers_share_entries() -> None:
    with mock_server(*FAST, "--workers", "2") as p:
        ask(client(p, "sk-ant-workers"))
        # New clients, new connections: SO_REUSEPORT spreads them over both workers.
        reads = [ask(client(p, "sk-ant-workers")).cache_read_input_tokens for _ in range(8)]
        assert all(r > 4500 for r in reads), reads
        # Some worker answered reads without ever having written: it read the other's entry.
        seen = [admin(p, "cache") for _ in range(30)]
        assert any(s["misses"] == 0 and s["hits"] > 0 for s in seen), seen
        assert {s["store"] for s in seen} == {"shared memory"}


def test_two_hosts_share_entries_through_redis_and_they_expire(redis_url: str) -> None:
    flags = (*FAST, "--redis", redis_url, "--prompt-cache-ttl-scale", "0.01")  # 5m → 3 s
    with mock_server(*flags) as a, mock_server(*flags) as b:
        assert ask(client(a, "sk-ant-redis")).cache_creation_input_tokens > 4500
        assert ask(client(b, "sk-ant-redis")).cache_read_input_tokens > 4500
        assert ask(client(b, "sk-ant-other")).cache_read_input_tokens == 0
        assert admin(a, "cache")["store"] == "redis" and admin(b, "cache")["entries"] == 2
        time.sleep(4.5)
        assert ask(client(a, "sk-ant-redis")).cache_read_input_tokens == 0
        assert admin(b, "cache", "DELETE")["flushed"] >= 1 and admin(a, "cache")["entries"] == 0


def test_recorded_answers_keep_their_cache_usage_and_unmatched_ones_use_the_cache(tmp_path: Path) -> None:
    recorded_usage = wm.InputUsage(12, cache_read=3000, cache_write_5m=40)
    req = {**recorded_units.body("Recorded question"), "system": system()}
    content = [{"type": "text", "text": "Recorded."}]
    msg = wm.message(
        msg_id="msg_rec", model=recorded_units.MODEL, content=content, stop_reason="end_turn", stop_sequence=None,
        input_tokens=recorded_usage, output_tokens=3,
    )  # fmt: skip
    timing = {"ttfb_ms": 50.0, "ttft_ms": None, "total_ms": 50.0}
    fx = recorded_units.write(
        tmp_path / "f.jsonl", [recorded_units.exchange(req, 200, body=msg, timing=timing, usage=msg["usage"])]
    )
    with mock_server(*FAST, "--fixtures", str(fx)) as p:
        c = client(p)
        for _ in range(2):
            used = c.messages.create(**req).usage
            assert (used.input_tokens, used.cache_read_input_tokens, used.cache_creation_input_tokens) == (12, 3000, 40)
        # A JSON recording sent as a stream keeps its usage too.
        with c.messages.stream(**req) as stream:
            assert stream.get_final_message().usage.cache_read_input_tokens == 3000
        other = {**req, "messages": [{"role": "user", "content": "Never recorded"}]}
        assert c.messages.create(**other).usage.cache_creation_input_tokens > 4500
        assert c.messages.create(**other).usage.cache_read_input_tokens > 4500


def test_an_entry_is_readable_only_once_the_writing_response_has_begun() -> None:
    # TTFT ≥ 3 s: the first response's message_start (and its entry) comes after ≥ 1.5 s; the second
    # request, sent at once, finds nothing yet and writes too, as parallel requests do on the API.
    with mock_server("--ttft", "3", "--tps", "5000", "--output-tokens", "5") as p:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            first = pool.submit(ask, client(p, "sk-ant-parallel"))
            time.sleep(0.2)
            second = pool.submit(ask, client(p, "sk-ant-parallel"))
            used = [first.result(timeout=30), second.result(timeout=30)]
        assert [u.cache_read_input_tokens for u in used] == [0, 0], used
        assert ask(client(p, "sk-ant-parallel")).cache_read_input_tokens > 4500


def test_while_redis_is_away_the_cache_is_empty_and_caching_resumes_when_it_is_back() -> None:
    port = free_port()
    with contextlib.ExitStack() as redis_up:
        redis_up.enter_context(redis_on(port))
        with mock_server(*FAST, "--redis", f"redis://127.0.0.1:{port}/0") as p:
            c = client(p, "sk-ant-outage")
            assert ask(c).cache_creation_input_tokens > 4500
            redis_up.close()  # Redis stops
            for _ in range(3):
                # Answered as by an empty cache, never a 500: each request misses and pays the write.
                used = ask(c)
                assert used.cache_read_input_tokens == 0 and used.cache_creation_input_tokens > 4500
            with redis_on(port):  # back, empty
                time.sleep(1.0)  # past the 0.5 s in which requests leave it alone
                assert ask(c).cache_creation_input_tokens > 4500
                assert ask(c).cache_read_input_tokens > 4500
            log = p.output()
    assert log.count("prompt cache: Redis") == 2 and "unreachable" in log and "is back" in log, log
