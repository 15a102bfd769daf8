"""Property-based and fuzz tests against a real `mockclaude serve`: whatever arrives, the answer is a
non-5xx response in the API's shape, and the server keeps answering correctly afterwards.

Two generators: schemathesis derives valid and invalid requests from the 2024 OpenAPI spec (only the
Messages and count_tokens operations: the mock serves nothing else the spec describes), and plain
hypothesis throws arbitrary methods, paths, headers and bodies at every route.
"""

import contextlib
import json
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import referencing
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockclaude.processes import Proc, mock_server
from mockclaude.wire.errors import ERROR_TYPES
from mockclaude.wire.sse import SSEParser
from tests.reliability_helpers import fd_count, get_json
from tests.test_server_sdk import _drop_null_types

KEY = {"x-api-key": "sk-ant-test"}
ADMIN_TOKEN = "fuzz-admin-token"
OPERATIONS = ("/v1/messages", "/v1/messages/count_tokens")
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
)
# Spec-derived Messages bodies are big and slow to generate: fewer examples per operation and mode.
SPEC_FUZZ = settings(FUZZ, max_examples=12)


BUNDLED = Path(__file__).resolve().parents[1] / "fixtures"


def _fast_mock(*extra: str) -> contextlib.AbstractContextManager[Proc]:
    return mock_server(
        "--ttft", "0", "--tps", "100000", "--output-tokens", "1-8", "--any-model", "--seed", "11",
        "--idle-timeout", "5", "--admin-token", ADMIN_TOKEN, *extra,
    )  # fmt: skip


@pytest.fixture(scope="module")
def server() -> Iterator[Proc]:
    """A fast mock accepting any model name, so generated requests get past the model check."""
    with _fast_mock() as p:
        yield p


@pytest.fixture(scope="module")
def recorded_server() -> Iterator[Proc]:
    """The same, answering from bundled recordings (incoming requests are anonymized and matched)."""
    with _fast_mock("--fixtures", str(BUNDLED / "multi_turn.jsonl")) as p:
        yield p


@pytest.fixture(scope="module")
def spec(reference_dir: Path) -> dict[str, Any]:
    """The 2024 OpenAPI spec, with its `type: null` quirk removed."""
    return _drop_null_types(yaml.safe_load((reference_dir / "anthropic-openapi-2024-11.yaml").read_text()))


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    """One HTTP session for the fuzzers (keep-alive: the server must survive reuse after errors)."""
    with requests.Session() as s:
        yield s


def validator(spec: dict[str, Any], name: str) -> jsonschema.protocols.Validator:
    """A JSON Schema validator for components/schemas/`name` of the spec."""
    resource = referencing.Resource.from_contents(spec, default_specification=referencing.jsonschema.DRAFT202012)
    registry = referencing.Registry().with_resource("urn:spec", resource)
    return jsonschema.Draft202012Validator({"$ref": f"urn:spec#/components/schemas/{name}"}, registry=registry)


def check_answer(resp: requests.Response, message: jsonschema.protocols.Validator | None = None) -> None:
    """Never a 5xx; errors in the API's envelope; successes well-formed (JSON Message or a complete SSE stream)."""
    assert resp.status_code < 500, (resp.status_code, resp.text[:500])
    assert resp.headers.get("request-id", "").startswith("req_"), resp.headers
    ctype = resp.headers.get("content-type", "")
    if resp.status_code >= 400:
        assert ctype.startswith("application/json"), (resp.status_code, ctype, resp.text[:300])
        env = resp.json()
        assert env["type"] == "error" and env["request_id"] == resp.headers["request-id"], env
        assert env["error"]["type"] in ERROR_TYPES.values(), env
        assert isinstance(env["error"]["message"], str) and env["error"]["message"], env
        assert resp.headers.get("x-should-retry") in ("true", "false"), resp.headers
        return
    if ctype.startswith("text/event-stream"):
        parser = SSEParser()
        events = [name for name, _ in parser.feed(resp.content)]
        assert events[0] == "message_start" and events[-1] == "message_stop", events
        return
    body = resp.json()
    if message is not None and body.get("type") == "message":
        message.validate(body)


def assert_still_healthy(p: Proc, s: requests.Session) -> None:
    """A correct request still gets a correct answer; nothing was logged as our own bug."""
    r = s.post(
        p.url + "/v1/messages",
        headers={**KEY, "anthropic-version": "2023-06-01"},
        json={"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["type"] == "message", r.text
    stats = get_json(p.url, "/_mockclaude/stats", headers={"x-mockclaude-admin-token": ADMIN_TOKEN})
    assert stats["active_streams"] == 0, stats
    assert not any(int(code) >= 500 for code in stats["by_status"]), stats
    assert "internal error" not in p.output(), p.output()
    assert p.popen.poll() is None


@pytest.mark.parametrize("path", OPERATIONS)
@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_schemathesis_requests_from_the_spec(
    server: Proc, spec: dict[str, Any], session: requests.Session, path: str, mode: schemathesis.GenerationMode
) -> None:
    """Requests generated from the spec (valid ones, and ones that break it): never a 5xx, always API-shaped."""
    operation = schemathesis.openapi.from_dict(spec)[path]["POST"]
    message = validator(spec, "Message")

    sent: list[int] = []

    @SPEC_FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        resp = session.request(**case.as_transport_kwargs(base_url=server.url, headers=KEY), timeout=10)
        sent.append(resp.status_code)
        check_answer(resp, message)

    run()
    assert len(sent) >= SPEC_FUZZ.max_examples, sent
    assert_still_healthy(server, session)


STANDARD_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")
TOKEN = st.text(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~", min_size=1, max_size=12)
METHODS = st.sampled_from(STANDARD_METHODS) | TOKEN
ROUTES = ["/v1/messages", "/v1/messages/count_tokens", "/v1/models", "/v1/models/claude-sonnet-4-5", "/metrics", "/"]
ROUTES += ["/_mockclaude/stats", "/_mockclaude/config", "/_mockclaude/reset"]
SEGMENTS = st.lists(st.text(string.printable.strip("/?#"), max_size=10), max_size=4)
PATHS = st.sampled_from(ROUTES) | SEGMENTS.map(lambda parts: "/" + "/".join(parts))
HEADER_NAMES = ["x-api-key", "authorization", "anthropic-version", "anthropic-beta", "content-type", "accept"]
HEADER_NAMES += ["x-mockclaude-fault", "x-mockclaude-admin-token", "content-encoding", "x-junk"]
# Header values go out as latin-1 bytes: 0x80-0xFF are bytes that are not UTF-8 on their own.
# (requests refuses a value that starts with whitespace, which includes \xa0 and \x85.)
HEADER_VALUE = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40
).map(str.lstrip)
HEADERS = st.dictionaries(
    st.sampled_from(HEADER_NAMES),
    HEADER_VALUE,
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=30,
)
MESSAGE_LIKE = st.fixed_dictionaries(
    {"model": st.text(max_size=30), "max_tokens": st.integers(-5, 10**7) | JSON_VALUES},
    optional={
        "messages": st.lists(
            st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "x"]), "content": JSON_VALUES}),
            max_size=3,
        )
        | JSON_VALUES,
        "stream": st.booleans() | JSON_VALUES,
        "system": JSON_VALUES,
        "tools": JSON_VALUES,
        "tool_choice": JSON_VALUES,
        "thinking": JSON_VALUES,
        "stop_sequences": JSON_VALUES,
        "metadata": JSON_VALUES,
    },
)
BODIES = (
    st.binary(max_size=300)
    | JSON_VALUES.map(lambda v: json.dumps(v).encode())
    | MESSAGE_LIKE.map(lambda v: json.dumps(v).encode())
)


@FUZZ
@given(method=METHODS, path=PATHS, headers=HEADERS, body=BODIES)
def test_arbitrary_methods_paths_headers_and_bodies(
    server: Proc, session: requests.Session, method: str, path: str, headers: dict[str, str], body: bytes
) -> None:
    """Never a 5xx (faults forced by the header aside). Standard methods always get an API-shaped answer;
    a method token aiohttp's C parser does not know is refused before routing: plain-text 400, closed."""
    arbitrary_request(server, session, method, path, headers, body)


@FUZZ
@given(method=METHODS, path=PATHS, headers=HEADERS, body=BODIES)
def test_arbitrary_requests_in_recorded_mode(
    recorded_server: Proc, session: requests.Session, method: str, path: str, headers: dict[str, str], body: bytes
) -> None:
    """The same against `serve --fixtures`, which anonymizes every incoming request to match it."""
    arbitrary_request(recorded_server, session, method, path, headers, body)


def arbitrary_request(
    server: Proc, session: requests.Session, method: str, path: str, headers: dict[str, str], body: bytes
) -> None:
    """Send one generated request and check the answer (see the tests above)."""
    if headers.get("x-mockclaude-fault") in ("500", "529", "midstream", "disconnect"):
        headers["x-mockclaude-fault"] = "none"
    resp = session.request(method, server.url + path, headers=headers, data=body, timeout=10)
    if method not in STANDARD_METHODS and "request-id" not in resp.headers:
        assert resp.status_code == 400 and resp.raw.version == 10, resp.headers  # HTTP/1.0: the server closes
        assert resp.text.startswith("Invalid method encountered"), resp.text
        return
    if method == "HEAD":
        assert resp.status_code < 500
        return
    if path == "/metrics" and resp.status_code == 200:
        return
    check_answer(resp)


@pytest.mark.parametrize("which", ["server", "recorded_server"])
def test_servers_healthy_after_fuzzing(request: pytest.FixtureRequest, session: requests.Session, which: str) -> None:
    """After everything above: still correct, no leaked stream, socket count back to a handful."""
    proc: Proc = request.getfixturevalue(which)
    assert_still_healthy(proc, session)
    session.close()
    assert fd_count(proc.popen.pid) < 30
