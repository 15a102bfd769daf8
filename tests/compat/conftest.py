"""The client-compatibility suite: real frameworks, with their own defaults, against a real mock.

It runs in its own venv (`./dev compat` makes `.venv-compat` with the pinned frameworks and the newest
anthropic SDK, and runs `npm ci` for the Vercel AI SDK). The main venv has none of the frameworks, so
a plain `pytest` there leaves this folder out instead of failing on the imports.
"""

import importlib.util
from collections.abc import Iterator

import pytest

from mockclaude.processes import Proc, mock_server

if importlib.util.find_spec("langchain_anthropic") is None:
    collect_ignore_glob = ["test_*.py"]

# The settings the table was measured with: the frameworks wait for nothing but the mock.
FAST = ("--ttft", "0", "--tps", "2000")


@pytest.fixture(scope="session")
def mock() -> Iterator[Proc]:
    """One `mockclaude serve --ttft 0 --tps 2000` for the whole suite."""
    with mock_server(*FAST) as p:
        yield p


@pytest.fixture(scope="session")
def mock_529_then_ok() -> Iterator[Proc]:
    """A mock whose first /v1/messages answer is a 529 and the second a 200."""
    # The fault draws are seeded with --seed + 1: Random(1) draws 0.13 (< 0.5, a 529), then 0.85.
    with mock_server(*FAST, "--fault", "529:0.5", "--seed", "0") as p:
        yield p
