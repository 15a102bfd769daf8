"""The recorder's anonymization: detectors, keyed pseudonyms, streamed text, shape mode."""

import itertools
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockclaude.fixtures.format import expand_shape
from mockclaude.privacy.anonymize import TINY_PNG, Anonymizer, split_apply
from mockclaude.privacy.pseudonyms import Pseudonymizer, load_or_create_key
from mockclaude.privacy.sensitive import find, is_harmless, luhn_valid
from mockclaude.tokens import count_text

KEY = bytes(range(32))
PII_TEXT = (
    "Hi, my name is Alice Johnson. Write to alice.johnson@acme-corp.com or call +1 415-555-0199 "
    "or (212) 555 2671. Card 4111 1111 1111 1111 expires soon. Our server 10.1.2.3 and "
    "2001:4860::8888 serve https://intranet.acme-corp.com/wiki/Onboarding?id=42. Thanks,\nBob Miller\n"
)


def pii() -> Anonymizer:
    """A pii-mode anonymizer with a fixed session key."""
    return Anonymizer("pii", Pseudonymizer(KEY))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("key sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx", "anthropic-key"),
        ("OPENAI=sk-proj-abcdefghijklmnopqrstuvwxyz123456", "openai-key"),
        ("id AKIAIOSFODNN7EXAMPLE here", "aws-access-key"),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws-secret"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "github-token"),
        ("xoxb-123456789012-abcdefghijkl", "slack-token"),
        ("AIzaSyA1234567890abcdefghijklmnopqrstuv", "google-api-key"),
        ("sk_live_abcdefghijklmnop1234", "stripe-key"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.abcdefghijkl_mnop", "jwt"),
        ("Authorization: Bearer abc.def-ghi_jkl~mno", "bearer-token"),
        ('{"password": "hunter22"}', "assigned-secret"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "private-key"),
    ],
)
def test_secret_shapes_are_detected_and_redacted_in_every_mode(text: str, kind: str) -> None:
    assert kind in {f.kind for f in find(text)}
    for mode in ("off", "pii"):
        out = Anonymizer(mode, Pseudonymizer(KEY)).text(text)
        assert "[REDACTED]" in out
        assert not [f for f in find(out) if f.kind == kind], out


def test_pii_kinds_found() -> None:
    kinds = [f.kind for f in find(PII_TEXT)]
    assert kinds.count("email") == 1 and kinds.count("phone") == 2 and kinds.count("card") == 1
    assert kinds.count("ip") == 2 and kinds.count("url") == 1 and kinds.count("name") == 2


@pytest.mark.parametrize(
    "text",
    [
        "version 1.2.3",
        "on 2026-11-25 at 13:00",
        "order 4111 1111 1111 1112",
        "1234567",
        "price 1,299.00",
        "sha256:0e1f8bb6e7a4111111111111111d3f",  # a Luhn-valid digit run inside a hex digest
        "msg_01XFDUDYJgAACzvnptvVoYEL req_011CSHoEeqs5C35K2UUqR7Fy",
        "Dear Customer, hello Team!",
    ],
)
def test_ordinary_numbers_are_not_pii(text: str) -> None:
    assert [f for f in find(text) if f.kind in ("phone", "card", "ip", "name")] == []


def test_pseudonyms_consistent_keyed_and_close_in_length() -> None:
    a, b = Pseudonymizer(KEY), Pseudonymizer(KEY)
    other = Pseudonymizer(bytes(32))
    email = "alice.johnson@acme-corp.com"
    assert a.fake("email", email) == b.fake("email", email)
    assert a.fake("email", email) != other.fake("email", email)
    assert a.fake("email", email) != a.fake("email", "bob@acme-corp.com")
    for kind, value in [("email", email), ("phone", "+1 415-555-0199"), ("card", "4111 1111 1111 1111")]:
        fake = a.fake(kind, value)
        assert fake != value and abs(len(fake) - len(value)) <= 1, (kind, fake)


def test_pseudonyms_are_recognisably_fake() -> None:
    out = pii().text(PII_TEXT)
    for f in find(out):
        if f.kind != "name":
            assert is_harmless(f), f
    card = next(w for w in out.split("Card ")[1].split(" expires")[:1])
    assert not luhn_valid(card.replace(" ", ""))


def test_anonymized_text_keeps_token_count_within_a_few_percent() -> None:
    text = PII_TEXT * 3 + "Please summarise the attached notes about the onboarding process. " * 10
    out = pii().text(text)
    for gone in ("alice.johnson", "555-0199", "4111", "10.1.2.3", "acme-corp", "Alice", "Johnson", "Miller"):
        assert gone not in out
    assert abs(count_text(out) - count_text(text)) / count_text(text) < 0.06


def test_names_learnt_once_are_replaced_everywhere() -> None:
    anon = pii()
    body = {
        "messages": [
            {"role": "user", "content": "Alice asked about the invoice."},
            {"role": "assistant", "content": "Sure."},
            {"role": "user", "content": "Dear support, my name is Alice Johnson."},
        ]
    }
    out = anon.body(body)
    first, last = out["messages"][2]["content"].removeprefix("Dear support, my name is ").rstrip(".").split()
    assert out["messages"][0]["content"].startswith(first + " asked")
    assert "Alice" not in json.dumps(out) and "Johnson" not in json.dumps(out)
    # A later exchange of the same session maps the same names the same way.
    assert anon.text("Johnson called") == f"{last} called"


def test_tool_inputs_and_results_are_covered() -> None:
    body = {
        "messages": [
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "toolu_01", "name": "crm_lookup",
                     "input": {"customer_name": "Maria Garcia", "email": "maria@shop.io", "n": 3}},
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_01",
                             "content": [{"type": "text", "text": "Maria Garcia, +44 20 7946 0958"}]}],
            },
        ]
    }  # fmt: skip
    out = pii().body(body)
    tool_use = out["messages"][0]["content"][0]
    assert tool_use["name"] == "crm_lookup" and tool_use["id"] == "toolu_01" and tool_use["input"]["n"] == 3
    fake_name = tool_use["input"]["customer_name"]
    assert fake_name != "Maria Garcia" and len(fake_name.split()) == 2
    assert tool_use["input"]["email"].endswith((".com", ".org", ".net")) and "shop.io" not in json.dumps(out)
    result = out["messages"][1]["content"][0]["content"][0]["text"]
    assert result.startswith(fake_name + ", ") and "7946 0958" not in result


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(PII_TEXT)), max_size=12))
def test_streamed_pieces_anonymize_like_the_joined_text(cuts: list[int]) -> None:
    bounds = sorted({0, len(PII_TEXT), *cuts})
    pieces = [PII_TEXT[a:b] for a, b in itertools.pairwise(bounds)]
    anon = pii()
    anon.learn_names(PII_TEXT)
    out = split_apply(pieces, anon.spans(PII_TEXT))
    assert len(out) == len(pieces)
    assert "".join(out) == anon.text(PII_TEXT)


def delta_events(kind: str, field: str, pieces: list[str]) -> list[dict[str, Any]]:
    """Recorded content_block_delta events of one block, one per piece, 1 ms apart."""
    return [
        {"t_ms": i, "event": "content_block_delta",
         "data": {"type": "content_block_delta", "index": 0, "delta": {"type": kind, field: p}}}
        for i, p in enumerate(pieces)
    ]  # fmt: skip


def test_events_split_email_is_replaced() -> None:
    out = pii().events(delta_events("text_delta", "text", ["Contact al", "ice@corp", ".com today"]))
    texts = [e["data"]["delta"]["text"] for e in out]
    assert "alice" not in "".join(texts) and texts[0].startswith("Contact ") and texts[2] == " today"
    assert [e["t_ms"] for e in out] == [0, 1, 2]


def test_shape_mode_keeps_structure_and_no_text() -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "system": "You are a support bot for ACME.",
        "tools": [{"name": "lookup", "description": "Find a customer",
                   "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Where is my order 42?"},
                                         {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg",
                                                                      "data": "/9j/4AAQSkZJRg=="}}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup",
                                               "input": {"q": "order 42"}}]},
        ],
    }  # fmt: skip
    out = Anonymizer("shape").body(body)
    raw = json.dumps(out)
    for gone in ("ACME", "support bot", "Find a customer", "order 42", "Where is"):
        assert gone not in raw
    assert out["model"] == body["model"] and out["tools"][0]["name"] == "lookup"
    assert out["tools"][0]["input_schema"]["required"] == ["q"]
    question = {"$tokens": count_text("Where is my order 42?")}
    assert out["messages"][0]["content"][0] == {"type": "text", "text": question}
    assert out["messages"][0]["content"][1]["source"]["data"] == TINY_PNG
    assert out["messages"][1]["content"][0]["input"] == {"q": {"$tokens": count_text("order 42")}}
    expanded = expand_shape(out, lambda n: "word " * n)
    assert expanded["messages"][0]["content"][0]["text"].count("word") == count_text("Where is my order 42?")


def test_key_file_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl.key"
    key = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key and len(key) == 32
    path.write_text("not hex")
    with pytest.raises(ValueError, match="not a mockclaude session key"):
        load_or_create_key(path)


def test_streamed_tool_input_is_anonymized_and_stays_valid_json() -> None:
    parts = ['{"customer_name": "Maria', ' Garcia", "email": "maria.g', 'arcia@shop.io", "n": 2}']
    out = pii().events(delta_events("input_json_delta", "partial_json", parts))
    joined = "".join(e["data"]["delta"]["partial_json"] for e in out)
    value = json.loads(joined)
    assert value["n"] == 2 and len(out) == 3
    assert "Maria" not in joined and "Garcia" not in joined and "shop.io" not in joined
    assert value["email"].endswith((".com", ".org", ".net")) and len(value["customer_name"].split()) == 2


def test_one_phone_number_written_two_ways_gets_one_pseudonym() -> None:
    anon = Anonymizer("pii", Pseudonymizer(bytes(range(32))))
    out = anon.text("Call +1 415-555-0142 or (415) 555-0142, or 415.555.0142.")
    assert "555-0142" not in out and "555.0142" not in out
    fakes = [f.value for f in find(out) if f.kind == "phone"]
    assert len(fakes) == 3, out
    national = {"".join(c for c in f if c.isdigit())[-10:] for f in fakes}
    assert len(national) == 1, fakes  # the same fake number, in each of the three spellings
    assert fakes[0].startswith("+1 ") and fakes[1].startswith("(")
    assert all(is_harmless(f) for f in find(out) if f.kind == "phone")  # scan knows them as pseudonyms
