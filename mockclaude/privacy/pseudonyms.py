"""Keyed, consistent, length-preserving fake values for detected PII.

HMAC-SHA256(session secret, kind + value) seeds Faker, so the same value gets the same pseudonym
for the whole session, and without the secret nobody can confirm a guess by hashing it. The secret
lives in a key file next to the fixture (mode 0600), never inside it. Pseudonyms are recognisably
fake (see mockclaude.privacy.sensitive) so `mockclaude fixtures scan` does not flag them.
"""

import hashlib
import hmac
import ipaddress
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from faker import Faker

from mockclaude.privacy.sensitive import (
    PHONE_MARK,
    carries_name_mark,
    is_reserved_host,
    luhn_valid,
    phone_national,
)

KEY_BYTES = 32
_RESERVED_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
_DOC_V4 = ("192.0.2", "198.51.100", "203.0.113")


def key_fingerprint(key: bytes) -> str:
    """A short public id of a session key (in the fixture header), so a wrong key is caught early."""
    return hashlib.sha256(b"mockclaude-key-id\0" + key).hexdigest()[:16]


def key_path_for(fixture: str | os.PathLike[str]) -> Path:
    """Where the session secret of a fixture file lives: `<fixture>.key`."""
    return Path(f"{os.fspath(fixture)}.key")


def load_or_create_key(path: str | os.PathLike[str]) -> bytes:
    """The secret in `path` (hex), creating it with mode 0600 when missing."""
    p = Path(path)
    if p.exists():
        text = p.read_text().strip()
        try:
            key = bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"{p}: not a mockclaude session key (expected {KEY_BYTES * 2} hex digits)") from None
        if len(key) < 16:
            raise ValueError(f"{p}: session key too short ({len(key)} bytes)")
        return key
    key = secrets.token_bytes(KEY_BYTES)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
    return key


def _closest(candidates: list[str], length: int) -> str:
    return min(candidates, key=lambda c: abs(len(c) - length))


class Pseudonymizer:
    """Maps a (kind, value) to its session pseudonym; the same input always gives the same output."""

    def __init__(self, secret: bytes, locale: str = "en_US") -> None:
        self._secret = secret
        self._faker = Faker(locale)
        self._cache: dict[tuple[str, str], str] = {}

    def _seeded(self, kind: str, value: str) -> Faker:
        digest = hmac.new(self._secret, f"{kind}\0{value}".encode(), hashlib.sha256).digest()
        self._faker.seed_instance(int.from_bytes(digest[:8], "big"))
        return self._faker

    def fake(self, kind: str, value: str) -> str:
        """The pseudonym of `value` detected as `kind` (url, email, ip, card, phone, first, last)."""
        key = (kind, value)
        if key not in self._cache:
            make = getattr(self, f"_{kind}")
            # One number written two ways is one person's number: seed by what identifies it.
            seed = phone_national(value) if kind == "phone" else value
            out = make(self._seeded(kind, seed), value)
            # A collision with the original would leak it; perturb deterministically instead.
            self._cache[key] = out if out != value else make(self._seeded(kind, seed + "\0"), value)
        return self._cache[key]

    def _email(self, fk: Faker, value: str) -> str:
        domain = fk.random_element(_RESERVED_EMAIL_DOMAINS)
        local_len = max(3, len(value) - len(domain) - 1)
        local = _closest([fk.user_name() for _ in range(6)], local_len)
        local = (local + "".join(str(fk.random_digit()) for _ in range(local_len)))[:local_len]
        return f"{local}@{domain}"

    def _url(self, fk: Faker, value: str) -> str:
        if is_reserved_host(urlsplit(value).hostname or ""):
            return value
        scheme = value.split(":", 1)[0]
        host = f"{fk.domain_word()}.example.com"
        prefix = f"{scheme}://{host}"
        path = ""
        while len(prefix) + len(path) < len(value) - 3:
            path += "/" + fk.word()
        return prefix + (path or "/")

    def _ip(self, fk: Faker, value: str) -> str:
        addr = ipaddress.ip_address(value)
        if addr.is_loopback or addr.is_unspecified:
            return value
        if addr.version == 6:
            return f"2001:db8::{fk.random_int(1, 0xFFFF):x}"
        return f"{fk.random_element(_DOC_V4)}.{fk.random_int(1, 254)}"

    def _digits_like(self, value: str, new_digits: str) -> str:
        it = iter(new_digits)
        return "".join(next(it) if c.isdigit() else c for c in value)

    def _card(self, fk: Faker, value: str) -> str:
        digits = [c for c in value if c.isdigit()]
        body = digits[0] + "".join(str(fk.random_digit()) for _ in digits[1:-1])
        # Same shape and brand digit, but a deliberately wrong check digit: never a real card.
        check = next(d for d in "0123456789" if luhn_valid(body + d))
        return self._digits_like(value, body + str((int(check) + 1) % 10))

    def _phone(self, fk: Faker, value: str) -> str:
        national = phone_national(value)
        # A country code or trunk prefix stays as written; the national number is drawn from the seed,
        # so every way of writing one number gets the same fake one.
        head = "".join(c for c in value if c.isdigit())[: -len(national)]
        body = "".join(str(fk.random_digit()) for _ in range(len(national) - 3))
        # Last three digits make the national number a multiple of PHONE_MARK: recognisably a pseudonym.
        tail = (-int(body + "000")) % PHONE_MARK
        return self._digits_like(value, f"{head}{body}{tail:03d}")

    def _first(self, fk: Faker, value: str) -> str:
        return _closest(_marked(fk.first_name), len(value))

    def _last(self, fk: Faker, value: str) -> str:
        return _closest(_marked(fk.last_name), len(value))


def _marked(draw: Callable[[], str], n: int = 8) -> list[str]:
    """`n` names from `draw` that carry the pseudonym mark, so `fixtures scan` can tell them from real ones."""
    out: list[str] = []
    while len(out) < n:
        name = draw()
        if carries_name_mark(name):
            out.append(name)
    return out
