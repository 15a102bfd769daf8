"""pytest plugin: a real `mockclaude serve` for your own tests, as the fixture `mockclaude_server`.

Installed with the package (entry point `pytest11`), so any project that has mockclaude installed
can write::

    @pytest.mark.mockclaude("--tps", "200", "--fault", "529:0.1")
    def test_my_app_retries(mockclaude_server):
        client = anthropic.Anthropic(base_url=mockclaude_server.url, api_key="test")
        ...

Each test gets its own server process on a free loopback port, stopped after the test, so flags
and counters never leak between tests. `mockclaude_server.verdict()` returns how your client
handled the mock's errors and limits, and `mockclaude_server.assert_resilient()` fails the test with
the verdict table when it found anything (see README: Is my client resilient?).
`mockclaude_server.add_rules([...], scope=...)` scripts answers and `mockclaude_server.client(scope=...)`
hands out an SDK client whose requests carry `x-mockclaude-scope` (see README: Scripted answers).
"""

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from mockclaude.processes import Proc, mock_server
from mockclaude.server.identity import SCOPE_HEADER
from mockclaude.verdict.command import fetch
from mockclaude.verdict.kinds import FINDING
from mockclaude.verdict.table import format_verdict


def _scope_query(scope: str | None) -> str:
    return "" if scope is None else "?" + urllib.parse.urlencode({"scope": scope})


class MockServer(Proc):
    """The running mock of one test: `.url`, `.output()`, scripted rules, scopes, and the client verdict."""

    def admin(self, method: str, path: str, body: object = None) -> dict:
        """Call the admin API (`/_mockclaude` + `path`); the JSON answer. A 4xx raises with the mock's message."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}/_mockclaude{path}", data=data, method=method)
        req.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as exc:
            raise ValueError(f"{method} {path}: {exc.code} {exc.read().decode(errors='replace')}") from None

    def add_rules(self, rules: list[dict], scope: str | None = None) -> dict:
        """Add scripted rules (the rules-file format, as dicts), server-wide or for one scope."""
        return self.admin("POST", "/rules" + _scope_query(scope), {"rules": rules})

    def clear_rules(self, scope: str | None = None) -> dict:
        """Remove the rules of a scope, or the server-wide ones."""
        return self.admin("DELETE", "/rules" + _scope_query(scope))

    def reset_scope(self, scope: str) -> dict:
        """Forget a scope: rules, settings, buckets, counters, stats and verdict start afresh."""
        return self.admin("POST", f"/scopes/{urllib.parse.quote(scope, safe='')}/reset")

    def configure_scope(self, scope: str, **settings: object) -> dict:
        """Change a scope's settings, e.g. `faults={"529": 1.0}` or `rate_limit="2rpm"`."""
        return self.admin("PATCH", f"/scopes/{urllib.parse.quote(scope, safe='')}/config", settings)

    def scope_stats(self, scope: str) -> dict:
        """A scope's counters."""
        return self.admin("GET", f"/scopes/{urllib.parse.quote(scope, safe='')}/stats")

    def client(self, scope: str | None = None, **kwargs: object):  # -> anthropic.Anthropic
        """An `anthropic.Anthropic` client for this mock, its requests in `scope` (the SDK must be installed)."""
        import anthropic  # the SDK is the test's dependency, not the plugin's

        headers = {SCOPE_HEADER: scope} if scope else {}
        kwargs.setdefault("api_key", "sk-ant-mockclaude-test")
        return anthropic.Anthropic(base_url=self.url, default_headers=headers, **kwargs)  # type: ignore[arg-type]

    def verdict(self) -> dict:
        """The verdict JSON (`GET /_mockclaude/verdict`)."""
        return fetch(self.url)

    def assert_resilient(self, allow: tuple[str, ...] = ()) -> None:
        """Fail with the verdict table if any client has a finding (warnings pass; `allow` names kinds to accept)."""
        v = self.verdict()
        bad = [f for c in v["clients"] for f in c["findings"] if f["severity"] == FINDING and f["kind"] not in allow]
        if bad:
            raise AssertionError("the client verdict has findings:\n" + format_verdict(v))


def pytest_configure(config: pytest.Config) -> None:
    """Register the `mockclaude` marker (serve flags for the test's server)."""
    config.addinivalue_line("markers", "mockclaude(*flags): `mockclaude serve` flags for the mockclaude_server fixture")


@pytest.fixture
def mockclaude_server(request: pytest.FixtureRequest) -> Iterator[MockServer]:
    """A real mock server on 127.0.0.1 for this test; `.url` is its base URL, `.output()` its log."""
    marker = request.node.get_closest_marker("mockclaude")
    flags = [str(f) for f in marker.args] if marker else []
    with mock_server("--host", "127.0.0.1", *flags) as proc:
        yield MockServer(popen=proc.popen, url=proc.url, lines=proc.lines)
