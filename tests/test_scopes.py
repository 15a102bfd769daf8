"""Scopes (`x-mockclaude-scope`): tests sharing one server never see each other's rules, faults,
rate-limit buckets, recorded turns, stats or verdict."""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anthropic
import pytest

from mockclaude.processes import mock_server
from mockclaude.testing import MockServer
from tests import test_prompt_cache_server as cached
from tests.test_recorded_units import body, stream_exchange, write
from tests.test_rules import ask, text_of

pytestmark = pytest.mark.timeout(120)
ROUNDS = 6


@pytest.fixture
def srv() -> Iterator[MockServer]:
    """A fast mock with a tight rate limit for everyone (each scope has its own buckets)."""
    with mock_server("--ttft", "0.02", "--tps", "2000", "--rate-limit", "3rpm") as p:
        yield MockServer(popen=p.popen, url=p.url, lines=p.lines)


def run_scope(srv: MockServer, scope: str) -> list[str]:
    """ROUNDS requests in `scope` with one shared API key: each answer's text, or its status."""
    c = srv.client(scope=scope, api_key="sk-ant-same-key", max_retries=0)
    out = []
    for _ in range(ROUNDS):
        try:
            out.append(text_of(c.messages.create(**ask("hello"))))
        except anthropic.APIStatusError as exc:
            out.append(str(exc.status_code))
    return out


def test_two_scopes_in_parallel_keep_rules_faults_limits_and_stats_apart(srv: MockServer) -> None:
    srv.add_rules([{"match": {"user_contains": "hello"}, "respond": {"text": "scripted for a"}}], scope="a")
    srv.configure_scope("a", rate_limit="100rpm")
    srv.configure_scope("b", faults={"500": 1.0})
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(lambda s: run_scope(srv, s), ["a", "b"])
    assert a == ["scripted for a"] * ROUNDS  # its own rule, its own (looser) limit, no faults
    assert b == ["500"] * ROUNDS  # its own faults, and a's rule never answers it
    default = run_scope(srv, "")  # no header: the server's own settings (3 rpm, no rules, no faults)
    assert default[:3] != ["scripted for a"] * 3 and "500" not in default and default[3:] == ["429"] * 3
    c = run_scope(srv, "c")  # a fresh scope starts from the server's settings with full buckets
    assert c[3:] == ["429"] * 3 and "scripted for a" not in c
    sa, sb, sc = (srv.scope_stats(s) for s in "abc")
    assert sa["requests"] == ROUNDS and sa["by_status"] == {"200": ROUNDS} and sa["faults_injected"] == {}
    assert sb["by_status"] == {"500": ROUNDS} and sb["faults_injected"] == {"500": ROUNDS}
    assert sc["rate_limited"] == 3 and sc["by_status"] == {"200": 3, "429": 3}
    server = srv.admin("GET", "/stats")
    # The default scope's stats are the server's /stats (admin calls count there too).
    assert server["by_endpoint"]["/v1/messages"] == ROUNDS and server["rate_limited"] == 3
    assert server["faults_injected"] == {}
    assert srv.admin("GET", "/scopes/b/config")["faults"] == {"500": 1.0}
    assert srv.admin("GET", "/config")["faults"] == {}


def test_reset_scope_forgets_it_and_leaves_others_alone(srv: MockServer) -> None:
    for scope in ("x", "y"):
        srv.add_rules([{"match": {}, "respond": {"text": f"rule of {scope}"}}], scope=scope)
        srv.configure_scope(scope, faults={"529": 1.0})
        assert run_scope(srv, scope) == ["529"] * ROUNDS
    srv.reset_scope("x")
    assert srv.admin("GET", "/rules?scope=x")["rules"] == []
    assert srv.scope_stats("x")["requests"] == 0
    assert run_scope(srv, "x")[:3] != ["rule of x"] * 3  # no rule, no fault, full buckets: synthetic
    assert srv.admin("GET", "/rules?scope=y")["rules"][0]["respond"] == {"text": "rule of y"}
    assert srv.scope_stats("y")["faults_injected"] == {"529": ROUNDS}


def test_verdict_is_per_scope(srv: MockServer) -> None:
    srv.configure_scope("naive", faults={"529": 1.0})
    run_scope(srv, "naive")  # no retries at all: the verdict finds it gives up
    run_scope(srv, "calm")
    naive = srv.admin("GET", "/scopes/naive/verdict")
    assert [cl["scope"] for cl in naive["clients"]] == ["naive"] and naive["findings"] > 0
    assert [cl["scope"] for cl in srv.admin("GET", "/scopes/calm/verdict")["clients"]] == ["calm"]
    srv.reset_scope("naive")
    assert srv.admin("GET", "/scopes/naive/verdict")["clients"] == []
    assert {cl["scope"] for cl in srv.verdict()["clients"]} == {"calm"}


def test_recorded_turns_count_per_scope(tmp_path: Path) -> None:
    req = body("same question")
    fx = write(
        tmp_path / "f.jsonl",
        [stream_exchange(req, "first recording", seq=0), stream_exchange(req, "second recording", seq=1)],
    )
    with mock_server("--fixtures", str(fx), "--ttft", "0") as p:
        srv = MockServer(popen=p.popen, url=p.url, lines=p.lines)
        one, two = srv.client(scope="one", max_retries=0), srv.client(scope="two", max_retries=0)
        assert text_of(one.messages.create(**req)) == "first recording"
        assert text_of(two.messages.create(**req)) == "first recording"
        assert text_of(one.messages.create(**req)) == "second recording"
        assert text_of(srv.client().messages.create(**req)) == "first recording"


def test_a_bad_scope_name_is_a_clear_400(srv: MockServer) -> None:
    c = anthropic.Anthropic(
        base_url=srv.url, api_key="k", max_retries=0, default_headers={"x-mockclaude-scope": "x" * 201}
    )
    with pytest.raises(anthropic.BadRequestError, match="x-mockclaude-scope: a scope name is 1-200 printable"):
        c.messages.create(**ask())
    with pytest.raises(ValueError, match="400"):
        srv.admin("GET", "/rules?scope=" + "x" * 201)


def test_prompt_cache_entries_are_per_scope(srv: MockServer) -> None:
    def usage(scope: str) -> anthropic.types.Usage:
        c = srv.client(scope=scope, api_key="sk-ant-same-key", max_retries=0)
        args = {"model": cached.MODEL, "system": cached.system(), "messages": cached.QUESTION}
        return c.messages.create(max_tokens=8, **args).usage

    first = usage("cache-a")
    assert first.cache_creation_input_tokens > 0 and first.cache_read_input_tokens == 0
    time.sleep(0.1)  # an entry is readable once its response began
    assert usage("cache-a").cache_read_input_tokens == first.cache_creation_input_tokens
    other = usage("cache-b")  # the same key and prompt in another scope: its own, empty cache
    assert other.cache_read_input_tokens == 0 and other.cache_creation_input_tokens > 0
