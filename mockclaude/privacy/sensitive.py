"""Detectors for secrets and PII in free text, shared by the recorder (to replace) and `fixtures scan`.

Each detector returns `Finding`s (kind, start, end). Card numbers must pass the Luhn check, IPs
must parse, phone numbers need a separator or a leading `+` and 9-13 digits. Names are found in
clear contexts ("my name is X", "Dear X", titles like "Dr. X", a name on the line after a sign-off
such as "Regards,") and bare in running text when a known first name is followed by a known last
name ("Maria Garcia", "John Paul Jones"), known meaning in the name lists of Faker's Latin-script
locales. A lone first name in running text ("ask Maria") or a name from outside those lists
("Nguyen Van An") is missed.

The recorder's pseudonyms are recognisably fake, so `scan` can tell them from real values:
emails and URLs use reserved domains (RFC 2606 `example.com|org|net`, `.example`, `.test`), IPs
come from the documentation ranges (RFC 5737, RFC 3849), card numbers fail the Luhn check, and a
pseudonym phone number's digits are a multiple of 997 (a real number passes by chance 1 in 997),
and every word of a pseudonym name has a CRC-32 that is a multiple of 7 (a real two-word name
passes by chance 1 in 49).
"""

import bisect
import functools
import importlib
import ipaddress
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

SECRET_KINDS = frozenset(
    {
        "private-key",
        "anthropic-key",
        "openai-key",
        "aws-access-key",
        "aws-secret",
        "github-token",
        "slack-token",
        "google-api-key",
        "stripe-key",
        "jwt",
        "bearer-token",
        "assigned-secret",
    }
)
PII_KINDS = frozenset({"url", "email", "ip", "card", "phone", "name"})
PHONE_MARK = 997
NAME_MARK = 7
REDACTED = "[REDACTED]"


@dataclass(frozen=True)
class Finding:
    """One detected secret or PII value: `text[start:end]` is the value to replace."""

    kind: str
    start: int
    end: int
    value: str


# Specific key shapes first: a match here wins over the generic patterns below.
_SECRET_PATTERNS: list[tuple[str, re.Pattern[str], int]] = [
    (
        "private-key",
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S),
        0,
    ),
    ("anthropic-key", re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{8,}"), 0),
    ("openai-key", re.compile(r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}"), 0),
    ("aws-access-key", re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"), 0),
    (
        "aws-secret",
        re.compile(r"(?i)aws.{0,20}?(?:secret|private).{0,20}?[=:]\s*[\"']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"),
        1,
    ),
    ("github-token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})"), 0),
    ("slack-token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), 0),
    ("google-api-key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"), 0),
    ("stripe-key", re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,}"), 0),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), 0),
    ("bearer-token", re.compile(r"(?i)\bbearer\s+([A-Za-z0-9\-._~+/]{8,}=*)"), 1),
    (
        "assigned-secret",
        re.compile(
            r"(?i)\b(?:api[_-]?key|secret(?:[_-]?key)?|access[_-]?token|auth[_-]?token|token|password|passwd|pwd)"
            r"[\"']?\s*[:=]\s*[\"']?([^\s\"',;\[\]{}]{6,})"
        ),
        1,
    ),
]

_URL = re.compile(r"\bhttps?://[^\s<>\"'`)\]}]+", re.I)
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+\-]+@(?:[A-Za-z0-9\-]+\.)+[A-Za-z]{2,}\b")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}(?::|[0-9A-Fa-f]{1,4})?(?::[0-9A-Fa-f]{1,4}){0,6}(?![\w:])")
_CARD = re.compile(r"(?<![\w\-])\d(?:[ \-]?\d){12,18}(?![\w\-])")  # not inside ids or hex digests
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d\s().\-]{6,}\d(?![\w])")

_UPPER, _LOWER = "A-ZÀ-ÖØ-Þ", "a-zß-öø-ÿ"
_NAME = rf"[{_UPPER}][{_LOWER}]+(?:[-'][{_UPPER}][{_LOWER}]+)?"
_FULL_NAME = rf"{_NAME}(?: {_NAME}){{0,2}}"
_NAME_CONTEXTS = [
    re.compile(rf"\b(?:[Mm]y name is|[Mm]y name's|I am|I'm|[Cc]all me)\s+({_FULL_NAME})"),
    re.compile(rf"\b(?:Dear|Hi|Hello|Hey)\s+({_FULL_NAME})(?=\s*[,!:\n])"),
    re.compile(rf"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof|Sir|Madam)\.?\s+({_FULL_NAME})"),
    re.compile(
        r"(?:Regards|Best|Thanks|Thank you|Sincerely|Cheers|Yours(?: truly| sincerely)?),?[ \t]*\r?\n"
        rf"[ \t]*({_FULL_NAME})[ \t]*(?:\r?\n|$)"
    ),
]
# Runs of two or more capitalised words: where bare names are looked for.
_CAPITALISED_RUN = re.compile(rf"(?<![\w.@/-]){_NAME}(?: {_NAME})+(?![\w@/])")
# Faker's Latin-script locales: their first and last names are the bare-name detector's dictionary.
_NAME_LOCALES = ("en_US", "en_GB", "en_IE", "en_IN", "en_NZ", "es_ES", "es_MX", "fr_FR", "de_DE", "it_IT",
                 "pt_BR", "nl_NL", "sv_SE")  # fmt: skip
# Capitalised words the context patterns catch that are not names.
_NOT_NAMES = frozenset(
    [
        "I",
        "Im",
        "The",
        "A",
        "An",
        "This",
        "That",
        "It",
        "Claude",
        "Assistant",
        "User",
        "Here",
        "There",
        "Sure",
        "Yes",
        "No",
        "Not",
        "Just",
        "Also",
        "Sorry",
        "Happy",
        "Glad",
        "Good",
        "Fine",
        "Back",
        "Done",
        "Ready",
        "Going",
        "Trying",
        "Looking",
        "Writing",
        "Working",
        "All",
        "Everyone",
        "Team",
        "Sir",
        "Madam",
        "Customer",
        "Customers",
        "Client",
        "Clients",
        "Friend",
        "Friends",
        "Colleague",
        "Colleagues",
        "Support",
        "Valued",
        "Hiring",
        "Manager",
        "Reader",
        "Readers",
        "Sender",
        "Recipient",
        "Admin",
        "Administrator",
        "Developer",
        "Developers",
        "Folks",
        "There",
        "Guys",
    ]
)


def luhn_valid(digits: str) -> bool:
    """True when a digit string passes the Luhn checksum (as real card numbers do)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


NATIONAL_DIGITS = 10


def phone_national(value: str) -> str:
    """The last ten digits of a phone number (all of them if fewer): the same number written with or
    without its country code or trunk prefix ("+1 415-555-0142", "(415) 555-0142") gives the same."""
    return _digits(value)[-NATIONAL_DIGITS:]


def _is_phone(value: str) -> bool:
    digits = _digits(value)
    if not 9 <= len(digits) <= 13:  # longer runs are card or account numbers
        return False
    if value.startswith("+"):
        return True
    # Without a country code, require phone-like grouping: separators between digit groups.
    groups = [g for g in re.split(r"[\s().\-]+", value) if g]
    return len(groups) >= 2 and all(len(g) <= 5 for g in groups) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", value)


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


@functools.cache
def name_lists() -> tuple[frozenset[str], frozenset[str]]:
    """(first names, last names) of the locales in _NAME_LOCALES."""
    firsts: set[str] = set()
    lasts: set[str] = set()
    for locale in _NAME_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        firsts.update(provider.first_names)
        lasts.update(provider.last_names)
    return frozenset(firsts - _NOT_NAMES), frozenset(lasts - _NOT_NAMES)


def carries_name_mark(name: str) -> bool:
    """True when every word of `name` has the pseudonym mark (see the module docstring)."""
    return all(zlib.crc32(word.encode()) % NAME_MARK == 0 for word in name.split())


def _bare_names(text: str) -> Iterator[tuple[int, int]]:
    """A known first name, then up to one more word, then a known last name, inside a capitalised run."""
    firsts, lasts = name_lists()
    for run in _CAPITALISED_RUN.finditer(text):
        words = run.group().split(" ")
        offsets = [run.start()]
        for w in words[:-1]:
            offsets.append(offsets[-1] + len(w) + 1)
        i = 0
        while i < len(words) - 1:
            end = next((j for j in (i + 2, i + 1) if j < len(words) and words[j] in lasts), None)
            if words[i] in firsts and end is not None:
                yield offsets[i], offsets[end] + len(words[end])
                i = end + 1
            else:
                i += 1


def find_names(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each name found in a clear context or bare (see the module docstring)."""
    yield from _bare_names(text)
    for pattern in _NAME_CONTEXTS:
        for m in pattern.finditer(text):
            words = m.group(1).split(" ")
            # Trim trailing words that are ordinary capitalised words ("Dear Anna Thanks").
            while words and words[-1] in _NOT_NAMES:
                words.pop()
            if not words or words[0] in _NOT_NAMES:
                continue
            start = m.start(1)
            yield start, start + len(" ".join(words))


def _urls(text: str) -> Iterator[Finding]:
    for m in _URL.finditer(text):
        value = m.group().rstrip(".,;:!?")
        yield Finding("url", m.start(), m.start() + len(value), value)


def _candidates(text: str, *, pii: bool) -> Iterator[Finding]:
    if pii:
        # A URL on a real host is replaced whole (its pseudonym keeps no path or query), so a key in
        # its query goes with it; otherwise the key would win and the host would stay.
        yield from (f for f in _urls(text) if not is_harmless(f))
    for kind, pattern, group in _SECRET_PATTERNS:
        for m in pattern.finditer(text):
            value = m.group(group)
            if not value.startswith(REDACTED):
                yield Finding(kind, m.start(group), m.end(group), value)
    if not pii:
        return
    yield from (f for f in _urls(text) if is_harmless(f))
    for m in _EMAIL.finditer(text):
        yield Finding("email", m.start(), m.end(), m.group())
    for pattern in (_IPV4, _IPV6):
        for m in pattern.finditer(text):
            if _ip(m.group()) is not None:
                yield Finding("ip", m.start(), m.end(), m.group())
    for m in _CARD.finditer(text):
        if luhn_valid(_digits(m.group())):
            yield Finding("card", m.start(), m.end(), m.group())
    for m in _PHONE.finditer(text):
        value = m.group().rstrip(" .-(")
        if _is_phone(value):
            yield Finding("phone", m.start(), m.start() + len(value), value)
    for start, end in find_names(text):
        yield Finding("name", start, end, text[start:end])


class Intervals:
    """Non-overlapping [start, end) intervals, sorted, with an O(log n) overlap test (texts can be MBs)."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def add_if_free(self, start: int, end: int) -> bool:
        """Add the interval unless it overlaps one already taken; True when added."""
        i = bisect.bisect_right(self.starts, start)
        if (i > 0 and self.ends[i - 1] > start) or (i < len(self.starts) and self.starts[i] < end):
            return False
        self.starts.insert(i, start)
        self.ends.insert(i, end)
        return True


def find(text: str, *, pii: bool = True) -> list[Finding]:
    """Non-overlapping findings in `text`, in order; earlier detectors win overlaps (secrets first)."""
    taken = Intervals()
    found = [f for f in _candidates(text, pii=pii) if taken.add_if_free(f.start, f.end)]
    return sorted(found, key=lambda f: f.start)


_RESERVED_HOST = re.compile(r"(?:^|\.)(?:example\.(?:com|org|net)|example|test|invalid|localhost)$", re.I)


def is_reserved_host(host: str) -> bool:
    """True for hosts that can never be anyone's: RFC 2606 names and loopback addresses."""
    host = host.strip("[]").lower()
    if _RESERVED_HOST.search(host):
        return True
    addr = _ip(host)
    return addr is not None and (addr.is_loopback or addr.is_unspecified)


def is_harmless(finding: Finding) -> bool:
    """True when a PII finding is a recorder pseudonym or otherwise no one's data."""
    v = finding.value
    if finding.kind == "email":
        return is_reserved_host(v.rsplit("@", 1)[1])
    if finding.kind == "url":
        host = re.sub(r"^[a-z]+://(?:[^@/]*@)?", "", v, flags=re.I).split("/")[0].split("?")[0]
        return is_reserved_host(host.rsplit(":", 1)[0] if host.count(":") == 1 else host)
    if finding.kind == "ip":
        addr = _ip(v)
        return addr is not None and (
            addr.is_loopback or addr.is_unspecified or any(addr in net for net in DOCUMENTATION_NETS)
        )
    if finding.kind == "phone":
        return int(phone_national(v)) % PHONE_MARK == 0
    if finding.kind == "name":
        return carries_name_mark(v)
    return False


DOCUMENTATION_NETS = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)


DELTA_TEXT_FIELDS = {"text_delta": "text", "input_json_delta": "partial_json", "thinking_delta": "thinking"}


def streamed_text_groups(events: list[dict[str, Any]]) -> dict[tuple[Any, str], list[int]]:
    """Indexes of the events whose delta strings form one text, keyed by (block index, field).

    A value split across deltas ("alice@exa" + "mple.com") is only visible in the joined text.
    """
    groups: dict[tuple[Any, str], list[int]] = {}
    for i, ev in enumerate(events):
        data = ev.get("data") if isinstance(ev, dict) else None
        if isinstance(data, dict) and data.get("type") == "content_block_delta" and isinstance(data.get("delta"), dict):
            field = DELTA_TEXT_FIELDS.get(data["delta"].get("type"))
            if field and isinstance(data["delta"].get(field), str):
                groups.setdefault((data.get("index"), field), []).append(i)
    return groups
