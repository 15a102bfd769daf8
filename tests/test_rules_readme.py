"""The README's worked example (a two-turn tool-using agent tested with pytest) runs as written."""

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
README = Path(__file__).resolve().parent.parent / "README.md"


def block(first_line: str) -> str:
    """The README's python code block that starts with `first_line`."""
    found = re.search(r"```python\n(" + re.escape(first_line) + r"\n.*?)```", README.read_text(), re.S)
    assert found, f"README has no python block starting with {first_line!r}"
    return found.group(1)


def test_the_readme_agent_example_passes(pytester: pytest.Pytester) -> None:
    test_code = block("# test_my_agent.py")
    lines = [ln for ln in test_code.splitlines()[1:] if ln.strip()]
    assert len(lines) <= 10  # "in ten lines"
    pytester.makepyfile(my_agent=block("# my_agent.py"), test_my_agent=test_code)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=120)
    result.assert_outcomes(passed=1)
