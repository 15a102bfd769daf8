"""The rules file is checked at start-up: every error names the file and the line."""

import subprocess
import sys
from pathlib import Path

import pytest

from mockclaude.rules import spec

ISSUE_EXAMPLE = """\
rules:
  - match: {user_contains: "weather", model: "claude-sonnet-4-5", tool_offered: get_weather}
    respond: {tool_use: {name: get_weather, input: {city: Paris}}}
  - match: {tool_result_for: get_weather}
    respond: {text: "It is sunny in Paris."}
  - match: {user_regex: "^fail"}
    times: 2
    respond: {error: {status: 529, type: overloaded_error, message: Overloaded}}
  - match: {user_contains: "steps"}
    respond: [{text: "first"}, {text: "second"}]   # successive matches
"""


def test_the_issue_example_loads(tmp_path: Path) -> None:
    f = tmp_path / "rules.yaml"
    f.write_text(ISSUE_EXAMPLE)
    rules = spec.load_file(f)
    assert [r.where for r in rules] == [f"{f}:2", f"{f}:4", f"{f}:6", f"{f}:9"]
    assert rules[2].times == 2 and rules[3].times == 2  # a sequence answers once per item
    assert rules[0].responses[0].blocks == ({"type": "tool_use", "name": "get_weather", "input": {"city": "Paris"}},)


def test_json_rules_load_too(tmp_path: Path) -> None:
    f = tmp_path / "rules.json"
    f.write_text('{"rules": [{"match": {"turn": 0}, "respond": {"text": "hi"}}]}')
    assert spec.load_file(f)[0].match == {"turn": 0}


BAD = [
    ("rules:\n  - match: {user_contains: a}\n    respond: {text: b}\n    tiems: 2\n", 4, "unknown key 'tiems'"),
    (
        "rules:\n  - match: {user_contains: a}\n    respond: {text: b}\n  - match:\n      usr_contains: x\n"
        "    respond: {text: y}\n",
        5,
        "unknown match key 'usr_contains'",
    ),
    ("rules:\n  - match: {user_regex: '(unclosed'}\n    respond: {text: b}\n", 2, "bad regular expression"),
    ("rules:\n  - match: {}\n    respond:\n      error: {status: 200}\n", 4, "HTTP error status"),
    ("rules:\n  - match: {}\n    respond: {fault: meltdown}\n", 3, "unknown fault 'meltdown'"),
    ("rules:\n  - match: {}\n    respond: {text: a, fault: '529'}\n", 3, "error and fault stand alone"),
    ("rules:\n  - match: {}\n    respond: {tool_use: {name: t, input: [1]}}\n", 3, "a tool call is {name: TOOL"),
    ("rules:\n  - match: {}\n    respond: {text: a}\n    times: 0\n", 4, "times must be a whole number >= 1"),
    ("rules:\n  - match: {turn: -1}\n    respond: {text: a}\n", 2, "turn must be a whole number >= 0"),
    ("rules:\n  - match: {}\n    respond: {text: a, stop_reason: done}\n", 3, "stop_reason must be one of"),
    ("rules:\n  - match: {}\n", 2, "the rule has no respond"),
    ("rules:\n  - match: {a: [1, 2}\n", 2, "not valid YAML or JSON"),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD)
def test_errors_name_the_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    f = tmp_path / "rules.yaml"
    f.write_text(text)
    with pytest.raises(spec.RulesError) as err:
        spec.load_file(f)
    assert str(err.value).startswith(f"{f}:{line}")
    assert message in str(err.value)


def test_serve_refuses_to_start_on_a_bad_rules_file(tmp_path: Path) -> None:
    f = tmp_path / "rules.yaml"
    f.write_text(BAD[1][0])
    done = subprocess.run(
        [sys.executable, "-m", "mockclaude", "serve", "--port", "0", "--rules", str(f)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"mockclaude serve: {f}:5 (rules[1].match.usr_contains): unknown match key" in done.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "mockclaude", "serve", "--port", "0", "--rules", "/nonexistent.yaml"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "/nonexistent.yaml: cannot read the rules file" in missing.stderr
