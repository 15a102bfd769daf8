"""Anonymize one exchange before it reaches disk: `off`, `pii` (default) or `shape`.

The recorder applies it to what it writes; `mockclaude serve --fixtures` applies it to incoming
requests, so real text finds the recording made of it.

- Every mode drops credentials: strings shaped like keys or tokens are replaced by `[REDACTED]`
  (the recorder filters headers earlier, see fixtures.headers).
- `pii` also replaces emails, phone and card numbers, IP addresses, URLs and names (in a clear
  context, or bare when first and last name are known ones: mockclaude.privacy.sensitive) with keyed Faker
  pseudonyms (mockclaude.privacy.pseudonyms). A name learnt anywhere in the session is replaced everywhere
  after that, word by word, so "Alice" and "Alice Smith" agree; a name word that is also an
  everyday word ("Summer", "White") is replaced only where the whole name appears.
  In tool inputs, string values under name-like keys ("name", "customer_name", ...) are names.
  Streamed text is anonymized across event boundaries: deltas of one content block are joined,
  replaced, and the replacements put back into the delta where each value started.
- `shape` keeps no text: every free-text string becomes `{"$tokens": N}` (N = tiktoken count).
  Kept: roles, block and event types, model, ids, tool names, JSON keys of tool inputs and schemas
  (they are the tool's interface), `required` lists, numbers and booleans.
- Base64 images become a 1x1 PNG in `pii` and `shape` (pictures cannot be pseudonymized).
"""

import bisect
import contextlib
import json
import re
from typing import Any

from faker.providers.lorem.en_US import Provider as EnglishWords

from mockclaude.privacy.modes import ANONYMIZATION_MODES, SHAPE_KEY
from mockclaude.privacy.pseudonyms import Pseudonymizer
from mockclaude.privacy.sensitive import REDACTED, SECRET_KINDS, Intervals, find, find_names, streamed_text_groups
from mockclaude.tokens import count_text

# Everyday English words: a name word that is one of these is replaced only inside the whole name.
_COMMON_WORDS = frozenset(EnglishWords.word_list)

TINY_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
# String values under these keys are identifiers or enums, not prose (outside tool inputs).
_STRUCTURAL = frozenset(
    {"type", "role", "model", "id", "tool_use_id", "name", "media_type", "stop_reason", "required", "format",
     "service_tier", "signature", "$ref",
     "ttl", "speed", "effort", "inference_geo"}  # enums: a placeholder there makes the request invalid
)  # fmt: skip
# Subtrees that hold the user's own data: every string there is data, keys are kept.
_DATA_KEYS = frozenset({"input", "metadata"})
_NAME_KEYS = re.compile(
    r"(?i)^(?:(?:first|last|full|given|family|middle|sur|user|customer|client|contact|patient|sender"
    r"|recipient|author|display|person|employee)_?name|name|author|recipient|sender|surname|assignee)$"
)
_NAME_VALUE = re.compile(r"^[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?(?: [A-Z][a-z]+(?:[-'][A-Z][a-z]+)?){0,2}$")

Span = tuple[int, int, str]


def placeholder(text: str) -> dict[str, int]:
    """The shape-mode stand-in for a free-text string."""
    return {SHAPE_KEY: count_text(text)}


class Anonymizer:
    """Applies one anonymization mode; holds the session's pseudonyms and the names it has learnt."""

    def __init__(self, mode: str, pseudonymizer: Pseudonymizer | None = None) -> None:
        if mode not in ANONYMIZATION_MODES:
            raise ValueError(f"anonymize mode must be one of {', '.join(ANONYMIZATION_MODES)}, not {mode!r}")
        if mode == "pii" and pseudonymizer is None:
            raise ValueError("pii mode needs a Pseudonymizer (a session secret)")
        self.mode = mode
        self._pseudo = pseudonymizer
        self._names: dict[str, str] = {}  # name word → "first" | "last"
        self._names_re: re.Pattern[str] | None = None

    # -- names -----------------------------------------------------------------------------
    def _learn(self, name: str) -> None:
        words = name.split()
        for i, word in enumerate(words):
            # A name word that is also an everyday word ("Summer", "White") is replaced only inside
            # the whole name, so "White" in "a white wall" at a sentence start stays as it was.
            key = name if len(words) > 1 and word.lower() in _COMMON_WORDS else word
            if key not in self._names:
                self._names[key] = "first" if i == 0 else "last"  # for a whole name, unused
                self._names_re = None

    def _pseudonym(self, found: str) -> str:
        assert self._pseudo is not None
        role = self._names[found]
        if " " not in found:
            return self._pseudo.fake(role, found)
        return " ".join(self._pseudo.fake("first" if i == 0 else "last", w) for i, w in enumerate(found.split()))

    def learn_names(self, text: str) -> None:
        """Remember the names found in `text`, so every later mention is replaced too."""
        for start, end in find_names(text):
            self._learn(text[start:end])

    def _learn_data(self, obj: Any, key: str = "") -> None:
        if isinstance(obj, str):
            if _NAME_KEYS.match(key) and _NAME_VALUE.match(obj):
                self._learn(obj)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                self._learn_data(v, k)
        elif isinstance(obj, list):
            for v in obj:
                self._learn_data(v, key)

    def _learn_tree(self, obj: Any, key: str = "") -> None:
        if isinstance(obj, str):
            if key not in _STRUCTURAL:
                self.learn_names(obj)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                if k in _DATA_KEYS:
                    self._learn_data(v)
                self._learn_tree(v, k)
        elif isinstance(obj, list):
            for v in obj:
                self._learn_tree(v, key)

    def _name_spans(self, text: str) -> list[re.Match[str]]:
        if not self._names:
            return []
        if self._names_re is None:
            words = sorted(self._names, key=len, reverse=True)
            self._names_re = re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b")
        return list(self._names_re.finditer(text))

    # -- text ------------------------------------------------------------------------------
    def spans(self, text: str) -> list[Span]:
        """(start, end, replacement) for every secret and (in pii mode) PII value in `text`."""
        pii = self.mode == "pii"
        out: list[Span] = []
        taken = Intervals()
        for f in find(text, pii=pii):
            if f.kind == "name":
                continue  # names: replaced word by word below, from the learnt set
            taken.add_if_free(f.start, f.end)
            if f.kind in SECRET_KINDS:
                out.append((f.start, f.end, REDACTED))
            else:
                assert self._pseudo is not None
                out.append((f.start, f.end, self._pseudo.fake(f.kind, f.value)))
        if pii and self._pseudo is not None:
            for m in self._name_spans(text):
                if taken.add_if_free(m.start(), m.end()):
                    out.append((m.start(), m.end(), self._pseudonym(m.group())))
        return sorted(out)

    def text(self, text: str) -> str:
        """`text` with secrets redacted and (in pii mode) PII replaced, names in it included."""
        if self.mode == "shape":
            raise ValueError("shape mode replaces text by placeholders; use tree()")
        if self.mode == "pii":
            self.learn_names(text)
        return self._replace(text)

    def _replace(self, text: str) -> str:
        return split_apply([text], self.spans(text))[0]

    # -- JSON trees ------------------------------------------------------------------------
    def tree(self, obj: Any, key: str = "", data: bool = False) -> Any:
        """An anonymized copy of a JSON value (a request or response body, an event's data)."""
        if isinstance(obj, str):
            if key in _STRUCTURAL and not data:
                # Identifiers stay for replay, but a credential pasted into one is still a credential.
                return split_apply([obj], [(f.start, f.end, REDACTED) for f in find(obj, pii=False)])[0]
            # Names were learnt from the whole tree first (body(), events()), so only replace here.
            return placeholder(obj) if self.mode == "shape" else self._replace(obj)
        if isinstance(obj, list):
            return [self.tree(v, key, data) for v in obj]
        if not isinstance(obj, dict):
            return obj
        if obj.get("type") == "base64" and isinstance(obj.get("data"), str) and self.mode != "off":
            return self._base64_source(obj)
        return {k: self.tree(v, k, data or k in _DATA_KEYS) for k, v in obj.items()}

    def _base64_source(self, source: dict[str, Any]) -> dict[str, Any]:
        if str(source.get("media_type", "")).startswith("image/"):
            return {**source, "media_type": "image/png", "data": TINY_PNG}
        # A document cannot be pseudonymized in place: keep only its size.
        return {**source, "data": placeholder(source["data"]) if self.mode == "shape" else REDACTED}

    def body(self, body: Any) -> Any:
        """Anonymize a whole request or response body (learns its names first)."""
        if self.mode == "pii":
            self._learn_tree(body)
        return self.tree(body)

    def events(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Anonymize a list of recorded SSE events (`{"t_ms", "event", "data"}`), across deltas."""
        groups = streamed_text_groups(events)
        out = [dict(ev) for ev in events]
        grouped = {i for idx in groups.values() for i in idx}
        if self.mode == "pii":
            for (_, field), idx in groups.items():
                joined = "".join(events[i]["data"]["delta"][field] for i in idx)
                self.learn_names(joined)
                if field == "partial_json":
                    with contextlib.suppress(ValueError):
                        self._learn_data(json.loads(joined))
            for i, ev in enumerate(events):
                if i not in grouped:
                    self._learn_tree(ev.get("data"))
        for (_, field), idx in groups.items():
            pieces = [events[i]["data"]["delta"][field] for i in idx]
            new: list[Any]
            if self.mode == "shape":
                new = [placeholder(p) for p in pieces]
            else:
                new = list(split_apply(pieces, self.spans("".join(pieces))))
            for i, value in zip(idx, new, strict=True):
                data = events[i]["data"]
                out[i]["data"] = {**data, "delta": {**data["delta"], field: value}}
        for i, ev in enumerate(events):
            if i not in grouped:
                out[i]["data"] = self.tree(ev.get("data"))
        return out


def split_apply(pieces: list[str], spans: list[Span]) -> list[str]:
    """Apply replacements found in the joined pieces back to the pieces, keeping their count.

    A replacement goes into the piece where its span starts; the rest of the span is removed
    from the following pieces, so streamed deltas keep their number and order.
    """
    starts = [s for s, _, _ in spans]
    out: list[str] = []
    joined = "".join(pieces)
    offset = 0
    for piece in pieces:
        a, b = offset, offset + len(piece)
        offset = b
        k = max(0, bisect.bisect_right(starts, a) - 1)
        parts: list[str] = []
        cur = a
        while k < len(spans) and spans[k][0] < b:
            s, e, repl = spans[k]
            k += 1
            if e <= a:
                continue
            if s > cur:
                parts.append(joined[cur:s])
            if s >= a:
                parts.append(repl)
            cur = max(cur, min(e, b))
        if cur < b:
            parts.append(joined[cur:b])
        out.append("".join(parts))
    return out
