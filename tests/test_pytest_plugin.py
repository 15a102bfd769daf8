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


VERDICT_TESTS = '''
import json
import urllib.error
import urllib.request

import anthropic
import pytest

ASK = {"model": "claude-sonnet-4-6", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.mockclaude("--fault", "429:0.4", "--seed", "2", "--ttft", "0", "--tps", "2000")
def test_sdk_client_is_resilient(mockclaude_server):
    client = anthropic.Anthropic(base_url=mockclaude_server.url, api_key="sk-ant-user-7777")
    for _ in range(4):
        try:
            client.messages.create(**ASK)
        except anthropic.RateLimitError:
            pass
    mockclaude_server.assert_resilient()
    (c,) = mockclaude_server.verdict()["clients"]
    assert c["key"] == "…7777" and c["retries"] >= 1


@pytest.mark.mockclaude("--ttft", "0", "--tps", "2000")
def test_naive_client_is_not(mockclaude_server):
    headers = {"x-api-key": "k-8888", "anthropic-version": "2023-06-01", "x-mockclaude-fault": "529"}
    for _ in range(2):
        req = urllib.request.Request(mockclaude_server.url + "/v1/messages", data=json.dumps(ASK).encode(),
                                     headers=headers)
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(req)
    with pytest.raises(AssertionError, match="no_backoff"):
        mockclaude_server.assert_resilient()
    mockclaude_server.assert_resilient(allow=("no_backoff",))
'''


def test_plugin_verdict_helpers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user_verdict=VERDICT_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=120)
    result.assert_outcomes(passed=2)
