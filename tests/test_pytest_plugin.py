"""The installed pytest plugin gives other projects' tests a real mock: flags by marker, one server per test."""

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = '''
import socket
from urllib.parse import urlsplit

import anthropic
import pytest

URLS = []


def test_default_server_answers_the_sdk(mockclaude_server):
    URLS.append(mockclaude_server.url)
    client = anthropic.Anthropic(base_url=mockclaude_server.url, api_key="test", max_retries=0)
    with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        message = stream.get_final_message()
    assert message.usage.output_tokens > 0


@pytest.mark.mockclaude("--fault", "529:1", "--ttft", "0")
def test_marker_flags_reach_the_server(mockclaude_server):
    URLS.append(mockclaude_server.url)
    client = anthropic.Anthropic(base_url=mockclaude_server.url, api_key="test", max_retries=0)
    with pytest.raises(anthropic.InternalServerError) as err:
        client.messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 529


def test_servers_are_per_test_and_stopped():
    assert len(set(URLS)) == 2
    for url in URLS:
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((parts.hostname, parts.port), timeout=2).close()
'''


def test_plugin_fixture_and_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=120)
    result.assert_outcomes(passed=3)
