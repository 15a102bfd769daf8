"""Names: found bare in running text, pseudonymized consistently, and recognised by `fixtures scan`."""

import pytest

from mockclaude.fixtures.command import scan_exchange
from mockclaude.privacy.anonymize import Anonymizer
from mockclaude.privacy.pseudonyms import Pseudonymizer
from mockclaude.privacy.sensitive import carries_name_mark, find_names

KEY = bytes(range(32))


def names(text: str) -> list[str]:
    """The names the detector finds in `text`, in order."""
    return sorted((text[a:b] for a, b in find_names(text)), key=text.index)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yesterday John Smith called about the invoice.", ["John Smith"]),
        ("Forward it to Maria Garcia and John Paul Jones.", ["Maria Garcia", "John Paul Jones"]),
        ("Hope this helps, Barry White", ["Barry White"]),
        ("José García López vino ayer.", ["José García López"]),
        ("Dear Anna,\nthanks.", ["Anna"]),  # context detector, as before
    ],
)
def test_bare_and_context_names_are_found(text: str, expected: list[str]) -> None:
    assert names(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "The New York Times reported on Machine Learning Basics.",
        "Ask Maria about it tomorrow.",  # a lone first name in running text is not claimed
        "Use the Python Requests library with Docker Compose.",
        "user@Anna.Smith.example.com and https://host/John Smith",
    ],
)
def test_ordinary_capitalised_words_are_not_names(text: str) -> None:
    assert names(text) == []


def test_pii_mode_replaces_bare_names_consistently_and_marks_them() -> None:
    anon = Anonymizer("pii", Pseudonymizer(KEY))
    out = anon.text("Maria Garcia met John Paul Jones. Later Maria called Jones back.")
    for real in ("Maria", "Garcia", "John", "Paul", "Jones"):
        assert real not in out
    first, rest = out.split(". Later ")
    maria, jones = first.split(" ")[0], first.split(" ")[-1]
    assert rest == f"{maria} called {jones} back."
    assert all(carries_name_mark(w) for w in first.replace(" met ", " ").split())


def test_a_name_word_that_is_an_everyday_word_is_replaced_only_inside_the_name() -> None:
    anon = Anonymizer("pii", Pseudonymizer(KEY))
    out = anon.text("Barry White painted the hall. White paint is cheap; Barry agreed.")
    assert "Barry" not in out and "Barry White" not in out
    assert "White paint is cheap" in out


def test_scan_reports_real_names_and_passes_the_recorders_pseudonyms() -> None:
    body = {"messages": [{"role": "user", "content": "Please email Maria Garcia about the order."}]}
    found = scan_exchange({"request": {"body": body}})
    assert len(found) == 1 and found[0].startswith("name 'Mari")
    anon = Anonymizer("pii", Pseudonymizer(KEY))
    assert scan_exchange({"request": {"body": anon.body(body)}}) == []


def test_pseudonym_names_always_carry_the_mark_and_real_names_rarely_do() -> None:
    pseudo = Pseudonymizer(KEY)
    fakes = [pseudo.fake(role, f"Person{i}") for i in range(200) for role in ("first", "last")]
    assert all(carries_name_mark(f) for f in fakes)
    real = ["Maria Garcia", "John Smith", "Wei Zhang", "Anna Müller", "Olivia Brown", "Liam Wilson"]
    assert sum(carries_name_mark(n) for n in real) <= 1
