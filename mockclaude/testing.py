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
"""

from collections.abc import Iterator

import pytest

from mockclaude.processes import Proc, mock_server
from mockclaude.verdict.command import fetch
from mockclaude.verdict.kinds import FINDING
from mockclaude.verdict.table import format_verdict


class MockServer(Proc):
    """The running mock of one test: `.url`, `.output()`, and the client verdict."""

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
