"""Request validation that fails like the real API: same rules, same `error.message` texts.

Every public function here returns None or raises `ApiError(400, ...)`, never anything else
(property-tested in tests/test_validation.py). Messages are pydantic-v2 style `loc: msg`, where the
location names the union tag of a block, e.g. `messages.3.content.1.tool_use.input` and
`tools.16.custom.name`, as in the real errors quoted next to each rule. Sources:
  [REF]  /work/shared/reference/anthropic-api.md §1.5 (verbatim texts with their issue links)
  [ISS]  the GitHub issue quoted inline, with the real API's response body
  [SDK]  anthropic==2.12.0 request types (field names, literals, required keys)
Unknown fields are accepted by default, because SDK 2.12 sends fields newer than any list of them;
`strict=True` rejects unknown top-level fields as the real API does (`extra_body: Extra inputs are not
permitted`). Checks that depend on the model (limits, prefill, thinking modes, sampling, system
messages) live in `check_model_limits`, run once the model is known. An optional field given as
null counts as absent, as with pydantic's Optional fields: `obj.get(name) is None` tests both.
"""

import base64
import binascii
import re
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

import orjson

from mockclaude.recent import ENTRY_BYTES, Recent, remembered
from mockclaude.wire.errors import ApiError
from mockclaude.wire.schema_check import INVALID_SCHEMA, is_valid_schema
from mockclaude.wire.structured import check_structured

if TYPE_CHECKING:
    from mockclaude.models import ModelInfo

Loc = tuple[str | int, ...]

# [SDK] types/content_block_param.py plus the beta union (the installed SDK posts beta requests to
# plain /v1/messages, reference §1.1), so every block a 2026 client can send is known here.
BLOCK_TYPES = (
    "text", "image", "document", "search_result", "thinking", "redacted_thinking", "tool_use",
    "tool_result", "server_tool_use", "web_search_tool_result", "web_fetch_tool_result",
    "advisor_tool_result", "code_execution_tool_result", "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result", "tool_search_tool_result", "mcp_tool_use",
    "mcp_tool_result", "mcp_tool_listing", "container_upload", "compaction", "tool_addition",
    "tool_removal", "fallback",
)  # fmt: skip
# Blocks allowed inside tool_result.content ([SDK] tool_result_block_param.py).
TOOL_RESULT_BLOCK_TYPES = ("text", "image", "search_result", "document", "tool_reference")
# Server tools ([SDK] tool_union_param.py); newer dated versions are accepted by pattern.
SERVER_TOOL_TYPES = (
    "bash_20250124", "browser_toolset_20260801", "code_execution_20250522", "code_execution_20250825",
    "code_execution_20260120", "code_execution_20260521", "computer_toolset_20260801", "memory_20250818",
    "text_editor_20250124", "text_editor_20250429", "text_editor_20250728", "tool_search_tool_bm25_20251119",
    "tool_search_tool_bm25", "tool_search_tool_regex_20251119", "tool_search_tool_regex",
    "web_fetch_20250910", "web_fetch_20260209", "web_fetch_20260309", "web_fetch_20260318",
    "web_search_20250305", "web_search_20260209", "web_search_20260318",
)  # fmt: skip
_DATED_TOOL = re.compile(r"[a-z][a-z0-9_]*_20\d{6}")
# Patterns as the API's errors quote them, anchors included (harmless under fullmatch).
_TOOL_NAME = re.compile("^[a-zA-Z0-9_-]{1,128}$")  # [ISS] modelcontextprotocol/modelcontextprotocol#1345
# [ISS] BlockRunAI/ClawRouter#17 (2026-02): `messages.92.content.0.tool_use.id: String should match
# pattern '^[a-zA-Z0-9_-]+$'`; ding113/claude-code-hub#470 (2025-12) for server_tool_use.
_ID_PATTERNS = {"tool_use": re.compile("^[a-zA-Z0-9_-]+$"), "server_tool_use": re.compile("^srvtoolu_[a-zA-Z0-9_]+$")}
IMAGE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_SIDE = 8000
MAX_CACHE_BREAKPOINTS = 4
MAX_PDF_PAGES = 100
MAX_ATTACHMENTS = 100  # images + documents in one request
THINKING_TYPES = ("enabled", "disabled", "adaptive", "between_tools")
ROLES = ("user", "assistant", "system")  # "system": [SDK] system_message_param.py, Opus 4.8+
EFFORTS = ("low", "medium", "high", "xhigh", "max")

# Messages and tool lists that passed their checks lately, by their JSON (orjson's bytes): an
# application resends its tools and its whole history with every new turn, and checking them again
# was most of a long conversation's validation (bench.agent_body, 20 messages and 4 tools: 80 us, 36
# with these kept, measured). Those checks depend on the value alone (where it sits only words an
# error), and only what passed is kept, so whatever fails is checked, and gets its error, every time.
PASSED_HELD_BYTES = 8 * 1024 * 1024
PASSED_LARGEST_BYTES = 256 * 1024  # larger ones (images) are checked every time: hashing costs too
_PASSED_MESSAGES: Recent[bytes, "_Checked"] = Recent(PASSED_HELD_BYTES, PASSED_LARGEST_BYTES, ENTRY_BYTES)
_PASSED_TOOLS: Recent[bytes, bool] = Recent(PASSED_HELD_BYTES, PASSED_LARGEST_BYTES, ENTRY_BYTES)

# Verbatim texts ([REF] §1.5 unless noted).
EMPTY_MESSAGES = "messages: at least one message is required"
EMPTY_CONTENT = "all messages must have non-empty content except for the optional final assistant message"
EMPTY_TEXT = "messages: text content blocks must be non-empty"
BLANK_TEXT = "messages: text content blocks must contain non-whitespace text"
# The same rules in `system` carry its name: [ISS] BoltAI/BoltAI#165 (2024-09)
# `system: text content blocks must contain non-whitespace text`.
# [ISS] tailcallhq/forgecode#1872 (2025-11, with request_id)
TRAILING_WHITESPACE = "messages: final assistant content cannot end with trailing whitespace"
BUDGET_TOO_BIG = (
    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at "
    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
)
PREFILL_UNSUPPORTED = (
    "This model does not support assistant message prefill. The conversation must end with a user message."
)
# [ISS] dotCipher/opencode-claude-bridge#1 (2026-03, verified against the API by the maintainer)
THINKING_TEMPERATURE = "temperature may only be set to 1 when thinking is enabled or in adaptive mode"
# [ISS] OpenHands/software-agent-sdk#1945 (Opus 4.6), SalesforceAIResearch/MCP-Universe#49 (since 4.1)
TEMPERATURE_AND_TOP_P = "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
# [ISS] Boise-State-Development/agentcore-public-stack#201: the model's text relayed by Bedrock for
# Opus 4.7 ("The model returned the following errors: temperature is deprecated for this model.").
SAMPLING_DEPRECATED = "{param} is deprecated for this model."
# [ISS] anthropics/claude-code#61412 (2026-05): models before Opus 4.8
SYSTEM_ROLE_UNSUPPORTED = "role 'system' is not supported on this model"
INITIAL_SYSTEM_MESSAGE = (
    "use the top-level 'system' parameter for the initial system prompt; "
    "the directive-only form (content: [] with output_config) is accepted at any position"
)
# [ISS] mastra-ai/mastra#7507 (2025-09), can1357/oh-my-pi#341 (2026-03, Sonnet 4.6). Budget thinking
# only: adaptive thinking accepts a forced tool and answers without thinking (pydantic-ai-slim 2.78
# `_thinking_type.request_allows_tool_forcing`, "verified live"; @ai-sdk/anthropic 3.0.140 counts only
# `enabled` as a conflict).
FORCED_TOOL_WITH_THINKING = "Thinking may not be enabled when tool_choice forces tool use."
# [ISS] can1357/oh-my-pi#12939 (2026-09, Opus 5.5, with request_id): models that never force a tool.
FORCED_TOOL_UNSUPPORTED = 'tool_choice: type "tool" and "any" are not supported for this model.'
# [ISS] quarkiverse/quarkus-langchain4j#1812 (2025-09, Opus 4.1), danny-avila/LibreChat#6023 (3.7)
_THINKING_DOCS = (
    "Please consult our documentation at "
    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking#important-considerations-when-using-extended-thinking"
)
THINKING_TOP_K = f"`top_k` must be unset when thinking is enabled. {_THINKING_DOCS}"
# The rule (top_p >= 0.95 while thinking) is pydantic-ai-slim 2.78's `anthropic_restricts_sampling_with_
# thinking`, citing the docs; no real text was found, so this one is ours, shaped like THINKING_TOP_K.
THINKING_TOP_P = f"`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled. {_THINKING_DOCS}"
# [ISS] anthropics/claude-code#79798 (2026-07); the models: pydantic-ai-slim 2.78
# `disallows_top_effort_when_thinking_disabled` (see models.ModelInfo.top_effort_needs_thinking).
TOP_EFFORT_WITHOUT_THINKING = (
    "output_config.effort '{effort}' is not supported when thinking is disabled on this model. "
    "Use effort 'high' or below, or enable thinking."
)
# [ISS] tailcallhq/forgecode#892, microsoft/vscode#276110
DUPLICATE_TOOLS = "tools: Tool names must be unique."


def _join(loc: Loc) -> str:
    return ".".join(str(part) for part in loc)


def _fail(loc: Loc, message: str) -> NoReturn:
    raise ApiError(400, f"{_join(loc)}: {message}" if loc else message)


def _expected(choices: tuple[str, ...]) -> str:
    quoted = [f"'{c}'" for c in choices]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


# Type checks with pydantic v2's wording (checked against pydantic 2.11 in the dev venv).


def _dict(value: Any, loc: Loc) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(loc, "Input should be a valid dictionary")
    return value


def _list(value: Any, loc: Loc) -> list[Any]:
    if not isinstance(value, list):
        _fail(loc, "Input should be a valid list")
    return value


def _str(value: Any, loc: Loc) -> str:
    if not isinstance(value, str):
        _fail(loc, "Input should be a valid string")
    return value


def _bool(value: Any, loc: Loc) -> bool:
    if not isinstance(value, bool):
        _fail(loc, "Input should be a valid boolean")
    return value


def _int(value: Any, loc: Loc) -> int:
    # Stricter than pydantic's lax mode (which takes "12" and True) so callers always get an int.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and not value.is_integer():
        _fail(loc, "Input should be a valid integer, got a number with a fractional part")
    if isinstance(value, str):
        _fail(loc, "Input should be a valid integer, unable to parse string as an integer")
    _fail(loc, "Input should be a valid integer")


def _number(value: Any, loc: Loc) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str):
            _fail(loc, "Input should be a valid number, unable to parse string as a number")
        _fail(loc, "Input should be a valid number")
    return float(value)


def _bounded(value: float, loc: Loc, low: float | None = None, high: float | None = None) -> None:
    if low is not None and value < low:
        _fail(loc, f"Input should be greater than or equal to {low:g}")
    if high is not None and value > high:
        _fail(loc, f"Input should be less than or equal to {high:g}")


def _literal(value: Any, loc: Loc, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        _fail(loc, f"Input should be {_expected(choices)}")
    return value


def _pattern(value: str, loc: Loc, pattern: re.Pattern[str]) -> None:
    if not pattern.fullmatch(value):
        _fail(loc, f"String should match pattern '{pattern.pattern}'")


def _required(obj: dict[str, Any], key: str, loc: Loc) -> Any:
    if key not in obj:
        _fail((*loc, key), "Field required")
    return obj[key]


def _tag(obj: Any, loc: Loc, tags: tuple[str, ...]) -> str:
    block = _dict(obj, loc)
    if "type" not in block:
        _fail(loc, "Unable to extract tag using discriminator 'type'")
    tag = block["type"]
    if not isinstance(tag, str) or tag not in tags:
        _fail(loc, f"Input tag '{tag}' found using 'type' does not match any of the expected tags: "
              + ", ".join(f"'{t}'" for t in tags))  # fmt: skip
    return tag


# JSON body.


def parse_json(raw: bytes) -> Any:
    """Decode a request body as the real API does (orjson: same error texts, no NaN, depth limit)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # [REF] `The request body is not valid JSON: unexpected control character in string: line 1
        # column 2379 (char 2378)` is orjson's own wording; orjson is what produces it here too.
        raise ApiError(400, f"The request body is not valid JSON: {exc}") from None


# Content blocks.


def _text_block(block: dict[str, Any], loc: Loc) -> None:
    text = _str(_required(block, "text", loc), (*loc, "text"))
    scope = f"{loc[0]}:" if loc else "messages:"
    if text == "":
        raise ApiError(400, EMPTY_TEXT.replace("messages:", scope, 1))
    if not text.strip():
        raise ApiError(400, BLANK_TEXT.replace("messages:", scope, 1))
    citations = block.get("citations")
    if citations is not None:
        _list(citations, (*loc, "citations"))


_PNG = b"\x89PNG\r\n\x1a\n"


def _sniff_image(data: bytes) -> str | None:
    if data.startswith(_PNG):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _image_size(data: bytes, media_type: str) -> tuple[int, int] | None:
    """Width and height from the header, for the formats that keep them at a fixed place."""
    if media_type == "image/png" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if media_type == "image/gif" and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if media_type == "image/webp" and data[12:16] == b"VP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    return None


def _image_source(source: Any, loc: Loc) -> None:
    kind = _tag(source, loc, ("base64", "url", "file"))
    here = (*loc, kind)
    if kind == "base64":
        media_type = _literal(_required(source, "media_type", here), (*here, "media_type"), IMAGE_MEDIA_TYPES)
        data = _str(_required(source, "data", here), (*here, "data"))
        if len(data) > MAX_IMAGE_BYTES:
            # [ISS] anthropics/claude-code#19631 (2026-01): measured on the base64 text, which is why
            # a 4.5 MB file already fails (cg-dot/vertexai-cf-workers#16).
            _fail(here, f"image exceeds 5 MB maximum: {len(data)} bytes > {MAX_IMAGE_BYTES} bytes")
        try:
            head = base64.b64decode(data[:64] + "=" * (-len(data[:64]) % 4), validate=True)
        except (binascii.Error, ValueError):
            head = b""
        actual = _sniff_image(head)
        if actual is None:
            # [ISS] anthropics/claude-code#6300, #15746 (2025-12)
            _fail((*here, "data"), f"Image does not match the provided media type {media_type}")
        if actual != media_type:
            # [ISS] vybestack/llxprt-code#2130 (2026-06, Opus 4.8)
            _fail(here, f"The image was specified using the {media_type} media type, "
                  f"but the image appears to be a {actual} image")  # fmt: skip
        size = _image_size(head, media_type)
        if size is not None and max(size) > MAX_IMAGE_SIDE:
            # [ISS] anthropics/claude-code#4778 (2025-08)
            _fail((*here, "data"), "At least one of the image dimensions exceed max allowed size: "
                  f"{MAX_IMAGE_SIDE} pixels")  # fmt: skip
    elif kind == "url":
        _str(_required(source, "url", here), (*here, "url"))
    else:
        _str(_required(source, "file_id", here), (*here, "file_id"))


_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def _pdf_pages(data: str) -> int:
    """Page objects in a base64 PDF (0 if it does not decode)."""
    try:
        return len(_PDF_PAGE.findall(base64.b64decode(data, validate=True)))
    except (binascii.Error, ValueError):
        return 0


def _document_source(source: Any, loc: Loc) -> None:
    kind = _tag(source, loc, ("base64", "text", "content", "url", "file"))
    here = (*loc, kind)
    if kind == "base64":
        _literal(_required(source, "media_type", here), (*here, "media_type"), ("application/pdf",))
        data = _str(_required(source, "data", here), (*here, "data"))
        if _pdf_pages(data) > MAX_PDF_PAGES:
            # [ISS] anthropics/claude-code#6231 (2025-08): `messages.38.content.0.pdf.source.base64.data:
            # A maximum of 100 PDF pages may be provided.`
            _fail((*here, "data"), f"A maximum of {MAX_PDF_PAGES} PDF pages may be provided.")
    elif kind == "text":
        _literal(_required(source, "media_type", here), (*here, "media_type"), ("text/plain",))
        _str(_required(source, "data", here), (*here, "data"))
    elif kind == "content":
        content = _required(source, "content", here)
        if not isinstance(content, str):
            for i, block in enumerate(_list(content, (*here, "content"))):
                _validate_block(block, (*here, "content", i), ("text", "image"))
    elif kind == "url":
        _str(_required(source, "url", here), (*here, "url"))
    else:
        _str(_required(source, "file_id", here), (*here, "file_id"))


def _validate_block(block: Any, loc: Loc, allowed: tuple[str, ...] = BLOCK_TYPES) -> str:
    """Check one content block; returns its type."""
    kind = _tag(block, loc, allowed)
    # The API names a document block `pdf` in locations (the real text quoted at _pdf_pages' caller).
    here = (*loc, "pdf" if kind == "document" else kind)
    if kind == "text":
        _text_block(block, here)
    elif kind == "image":
        _image_source(_required(block, "source", here), (*here, "source"))
    elif kind == "document":
        _document_source(_required(block, "source", here), (*here, "source"))
    elif kind in ("tool_use", "server_tool_use"):
        _pattern(_str(_required(block, "id", here), (*here, "id")), (*here, "id"), _ID_PATTERNS[kind])
        _str(_required(block, "name", here), (*here, "name"))
        # [ISS] anthropics/anthropic-sdk-typescript#648: `messages.3.content.1.tool_use.input: Input
        # should be a valid dictionary`
        _dict(_required(block, "input", here), (*here, "input"))
    elif kind == "tool_result":
        _str(_required(block, "tool_use_id", here), (*here, "tool_use_id"))
        content = block.get("content")
        if content is not None and not isinstance(content, str):
            for i, inner in enumerate(_list(content, (*here, "content"))):
                _validate_block(inner, (*here, "content", i), TOOL_RESULT_BLOCK_TYPES)
        if block.get("is_error") is not None:
            _bool(block["is_error"], (*here, "is_error"))
    elif kind == "thinking":
        # [ISS] anthropics/claude-code#26542: `messages.1.content.0.thinking.signature: Field required`
        _str(_required(block, "thinking", here), (*here, "thinking"))
        _str(_required(block, "signature", here), (*here, "signature"))
    elif kind == "redacted_thinking":
        _str(_required(block, "data", here), (*here, "data"))
    elif kind == "search_result":
        _str(_required(block, "source", here), (*here, "source"))
        _str(_required(block, "title", here), (*here, "title"))
        for i, inner in enumerate(_list(_required(block, "content", here), (*here, "content"))):
            _validate_block(inner, (*here, "content", i), ("text",))
    return kind


# Messages.


def _blocks(content: str | list[Any]) -> list[Any]:
    """A message content as blocks: a string is one text block (none when empty)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return content


def _content_blocks(content: Any, loc: Loc) -> list[dict[str, Any]]:
    """The message content as a list of blocks, each checked (a string is one text block)."""
    if isinstance(content, str):
        return _blocks(content)
    blocks = _list(content, loc)
    for i, block in enumerate(blocks):
        _validate_block(block, (*loc, i))
    return blocks


class _Checked(NamedTuple):
    """What the checks of one message found that the checks across messages need."""

    role: str
    size: int  # its blocks
    uses: tuple[str, ...]  # the ids of its tool_use blocks, in order
    results: tuple[tuple[int, str], ...]  # (block index, tool_use_id) of its tool_result blocks
    marked: int  # blocks with a cache_control marker (_marked)
    images: int  # image blocks, those inside tool results included
    documents: int  # document blocks, the same


def _check_message(message: Any, i: int, final: bool) -> _Checked:
    """Check `messages[i]` (`final`: the last one); what the checks across messages need of it."""
    loc: Loc = ("messages", i)
    _dict(message, loc)
    role = _literal(_required(message, "role", loc), (*loc, "role"), ROLES)
    content = _required(message, "content", loc)
    if content in ("", []):
        # The final assistant turn may be empty, and so may a system "directive" that only carries
        # output_config ([ISS] LeenHawk/gproxy#209, quoting the API's own wording).
        if (final and role == "assistant") or (role == "system" and "output_config" in message):
            return _Checked(role, 0, (), (), 0, 0, 0)
        _fail(loc, EMPTY_CONTENT)
    if isinstance(content, str) and not content.strip() and not (final and role == "assistant"):
        raise ApiError(400, BLANK_TEXT)
    blocks = _content_blocks(content, (*loc, "content"))
    attached = {"image": 0, "document": 0}
    for block in blocks:
        inner = block.get("content") if block.get("type") == "tool_result" else None
        for item in [block, *(inner if isinstance(inner, list) else ())]:
            if item.get("type") in attached:
                attached[item["type"]] += 1
    return _Checked(
        role,
        len(blocks),
        tuple(b["id"] for b in blocks if b.get("type") == "tool_use"),
        tuple((n, b["tool_use_id"]) for n, b in enumerate(blocks) if b.get("type") == "tool_result"),
        _marked(blocks),
        attached["image"],
        attached["document"],
    )


def _check_roles_and_content(messages: list[Any]) -> list[_Checked]:
    last = len(messages) - 1
    found: list[_Checked] = []
    for i, message in enumerate(messages):
        if i == last:
            found.append(_check_message(message, i, True))
        else:
            # Any message but the last passes or fails wherever it sits (only the last has rules of
            # its own), so the history a conversation resends is not checked again.
            found.append(remembered(_PASSED_MESSAGES, message, _check_message, message, i, False))
    return found


def _check_final_assistant(message: dict[str, Any]) -> None:
    blocks = _blocks(message["content"])
    if message["role"] != "assistant" or not blocks:
        return
    tail = blocks[-1]
    if tail.get("type") == "text" and tail["text"] != tail["text"].rstrip():
        raise ApiError(400, TRAILING_WHITESPACE)


# Consecutive messages of one role merged, as the current API merges them: the index of the last,
# the role, how many blocks, the ids of the tool_use blocks and (block index, tool_use_id) of the tool_result
# blocks, block indexes counted from the turn's first block.
Turn = tuple[int, str, int, tuple[str, ...], tuple[tuple[int, str], ...]]


def _turns(found: list[_Checked]) -> list[Turn]:
    """Consecutive same-role messages merged, as the current API does; system messages dropped."""
    turns: list[Turn] = []
    for index, m in enumerate(found):
        if m.role == "system":
            continue
        if turns and turns[-1][1] == m.role:
            _, role, size, uses, results = turns[-1]
            merged = results + tuple((size + n, use_id) for n, use_id in m.results)
            turns[-1] = (index, role, size + m.size, uses + m.uses, merged)
        else:
            turns.append((index, m.role, m.size, m.uses, m.results))
    return turns


def _check_tool_pairing(found: list[_Checked]) -> None:
    if not any(m.uses or m.results for m in found):
        return  # no tool_use or tool_result: nothing to pair (most conversations' first turn)
    turns = _turns(found)
    for t, (index, role, _, _, results) in enumerate(turns):
        if role != "user" or not results:
            continue
        known = set(turns[t - 1][3]) if t > 0 and turns[t - 1][1] == "assistant" else set()
        for n, use_id in results:
            if use_id not in known:
                # [ISS] anthropics/claude-code#13460: `messages.48.content.1: unexpected `tool_use_id`
                # found in `tool_result` blocks: toolu_…. Each `tool_result` block must have a
                # corresponding `tool_use` block in the previous message.`
                _fail(("messages", index, "content", n), "unexpected `tool_use_id` found in `tool_result` "
                      f"blocks: {use_id}. Each `tool_result` block must have a corresponding `tool_use` "
                      "block in the previous message.")  # fmt: skip
    for t, (index, role, _, uses, _) in enumerate(turns[:-1]):
        if role != "assistant" or not uses:
            continue
        answered = {use_id for _, use_id in turns[t + 1][4]}
        missing = [use_id for use_id in uses if use_id not in answered]
        if missing:
            # [REF] anthropics/claude-code#3512 (index = the assistant message holding the tool_use)
            _fail(("messages", index), "`tool_use` ids were found without `tool_result` blocks immediately "
                  f"after: {', '.join(missing)}. Each `tool_use` block must have a corresponding "
                  "`tool_result` block in the next message.")  # fmt: skip


def _check_messages(body: dict[str, Any]) -> list[_Checked]:
    messages = _list(_required(body, "messages", ()), ("messages",))
    if not messages:
        raise ApiError(400, EMPTY_MESSAGES)
    found = _check_roles_and_content(messages)
    _check_final_assistant(messages[-1])
    _check_tool_pairing(found)
    return found


# Other top-level fields.


def _check_system(body: dict[str, Any]) -> None:
    system = body.get("system")
    if system is None or isinstance(system, str):
        return
    for i, block in enumerate(_list(system, ("system",))):
        _validate_block(block, ("system", i), ("text",))


def _check_tool(tool: Any, loc: Loc) -> str | None:
    """Check one tool definition; returns its name."""
    spec = _dict(tool, loc)
    kind = spec.get("type")
    if kind is None or kind == "custom":
        here = (*loc, "custom")
        name = _str(_required(spec, "name", here), (*here, "name"))
        _pattern(name, (*here, "name"), _TOOL_NAME)
        schema = _dict(_required(spec, "input_schema", here), (*here, "input_schema"))
        schema_loc = (*here, "input_schema")
        _literal(_required(schema, "type", schema_loc), (*schema_loc, "type"), ("object",))
        if not is_valid_schema(schema):
            _fail(schema_loc, INVALID_SCHEMA)
        if spec.get("description") is not None:
            _str(spec["description"], (*here, "description"))
        if spec.get("strict") is not None:
            _bool(spec["strict"], (*here, "strict"))
        return name
    if not (isinstance(kind, str) and (kind in SERVER_TOOL_TYPES or _DATED_TOOL.fullmatch(kind))):
        _tag(spec, loc, ("custom", *SERVER_TOOL_TYPES))
    name = spec.get("name")
    return name if isinstance(name, str) else None


def _check_tools(body: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools is None:
        return
    tools = _list(tools, ("tools",))
    remembered(_PASSED_TOOLS, tools, _check_tool_list, tools)


def _check_tool_list(tools: list[Any]) -> bool:
    """Check each tool definition and that their names are unique; True when they pass."""
    names = [_check_tool(tool, ("tools", i)) for i, tool in enumerate(tools)]
    named = [n for n in names if n is not None]
    if len(named) != len(set(named)):
        raise ApiError(400, DUPLICATE_TOOLS)
    return True


def _check_tool_choice(body: dict[str, Any]) -> None:
    choice = body.get("tool_choice")
    if choice is None:
        return
    kind = _tag(choice, ("tool_choice",), ("auto", "any", "tool", "none"))
    here = ("tool_choice", kind)
    if kind == "tool":
        _str(_required(choice, "name", here), (*here, "name"))
    if kind != "none" and choice.get("disable_parallel_tool_use") is not None:
        _bool(choice["disable_parallel_tool_use"], (*here, "disable_parallel_tool_use"))


def _check_thinking(body: dict[str, Any], max_tokens: int | None) -> None:
    thinking = body.get("thinking")
    if thinking is None:
        return
    kind = _tag(thinking, ("thinking",), THINKING_TYPES)
    here = ("thinking", kind)
    if kind == "enabled":
        budget = _int(_required(thinking, "budget_tokens", here), (*here, "budget_tokens"))
        _bounded(budget, (*here, "budget_tokens"), low=1024)
        if max_tokens is not None and max_tokens <= budget:
            raise ApiError(400, BUDGET_TOO_BIG)
    if kind in ("enabled", "adaptive") and thinking.get("display") is not None:
        _literal(thinking["display"], (*here, "display"), ("summarized", "omitted"))
    if kind not in ("enabled", "adaptive"):
        return
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        raise ApiError(400, THINKING_TEMPERATURE)
    if body.get("top_k") is not None:
        raise ApiError(400, THINKING_TOP_K)
    top_p = body.get("top_p")
    if top_p is not None and top_p < 0.95:
        raise ApiError(400, THINKING_TOP_P)
    if kind == "enabled" and _forces_tool_use(body):
        raise ApiError(400, FORCED_TOOL_WITH_THINKING)


def _forces_tool_use(body: dict[str, Any]) -> bool:
    choice = body.get("tool_choice")
    return isinstance(choice, dict) and choice.get("type") in ("any", "tool")


def _marked(blocks: Any) -> int:
    """How many of these blocks carry a cache_control marker (no deeper than the API nests blocks)."""
    if not isinstance(blocks, list):
        return 0
    count = 0
    for block in blocks:
        if isinstance(block, dict):
            count += block.get("cache_control") is not None
            if block.get("type") == "tool_result":
                count += _marked(block.get("content"))
    return count


def _check_cache_control(body: dict[str, Any], messages: list[_Checked]) -> None:
    found = _marked(body.get("system")) + _marked(body.get("tools")) + sum(m.marked for m in messages)
    if found > MAX_CACHE_BREAKPOINTS:
        # [ISS] tghamm/Anthropic.SDK#50 (2024-09), griffinmartin/opencode-claude-auth#121 (2026-04)
        raise ApiError(400, f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be "
                       f"provided. Found {found}.")  # fmt: skip


def _check_attachments(messages: list[_Checked]) -> None:
    images, documents = sum(m.images for m in messages), sum(m.documents for m in messages)
    if images + documents > MAX_ATTACHMENTS:
        # [ISS] anthropics/claude-code#23392 (2026-02): `too many images and documents: 104 + 1 > 100`
        raise ApiError(400, f"too many images and documents: {images} + {documents} > {MAX_ATTACHMENTS}")


def _check_extra_fields(body: dict[str, Any], known: frozenset[str]) -> None:
    for key in body:
        if key not in known:
            # [ISS] Aider-AI/aider#3367: `extra_body: Extra inputs are not permitted`
            _fail((key,), "Extra inputs are not permitted")


def _check_sampling(body: dict[str, Any]) -> None:
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            _bounded(_number(body[key], (key,)), (key,), low=0, high=1)
    if body.get("top_k") is not None:
        _bounded(_int(body["top_k"], ("top_k",)), ("top_k",), low=0)


def _check_small_fields(body: dict[str, Any]) -> None:
    if body.get("stream") is not None:
        _bool(body["stream"], ("stream",))
    stops = body.get("stop_sequences")
    if stops is not None:
        for i, stop in enumerate(_list(stops, ("stop_sequences",))):
            if not _str(stop, ("stop_sequences", i)).strip():
                # [ISS] BerriAI/litellm#3286 (2024-04)
                raise ApiError(400, "stop_sequences: each stop sequence must contain non-whitespace")
    metadata = body.get("metadata")
    if metadata is not None and _dict(metadata, ("metadata",)).get("user_id") is not None:
        _str(metadata["user_id"], ("metadata", "user_id"))
    if body.get("service_tier") is not None:
        _literal(body["service_tier"], ("service_tier",), ("auto", "standard_only"))
    if body.get("speed") is not None:
        _literal(body["speed"], ("speed",), ("standard", "fast"))
    config = body.get("output_config")
    if config is not None:
        _dict(config, ("output_config",))
        if config.get("effort") is not None:
            _literal(config["effort"], ("output_config", "effort"), EFFORTS)
        _check_format(config.get("format"), ("output_config", "format"))
    _check_format(body.get("output_format"), ("output_format",))


def _check_format(output_format: Any, loc: Loc) -> None:
    """A structured-output format: `{"type": "json_schema", "schema": {...}}`."""
    if output_format is None:
        return
    _tag(output_format, loc, ("json_schema",))
    _dict(_required(output_format, "schema", (*loc, "json_schema")), (*loc, "json_schema", "schema"))


def _check_model(body: dict[str, Any]) -> None:
    model = _str(_required(body, "model", ()), ("model",))
    if not model:
        _fail(("model",), "String should have at least 1 character")
    if len(model) > 256:
        _fail(("model",), "String should have at most 256 characters")


# Top-level fields the 2026 API knows: [SDK] MessageCreateParams / MessageCountTokensParams and their
# beta twins (minus the header-only betas/user_profile_id/workspace_id), plus the deprecated sampling
# parameters and the older beta `output_format`.
_COUNT_FIELDS = frozenset({
    "model", "messages", "system", "tools", "tool_choice", "thinking", "output_config", "cache_control",
    "speed", "billing_policy", "compaction", "context_management", "mcp_servers", "output_format",
})  # fmt: skip
_CREATE_FIELDS = _COUNT_FIELDS | {
    "max_tokens", "stream", "stop_sequences", "metadata", "service_tier", "temperature", "top_p", "top_k",
    "container", "diagnostics", "inference_geo", "fallbacks", "fallback_credit_token", "thread",
}  # fmt: skip


def _check_common(body: Any, max_tokens: int | None, known: frozenset[str] | None) -> None:
    # The model is checked by the callers, first (before max_tokens for create), as the API orders its errors.
    if not isinstance(body, dict):
        raise ApiError(400, "Input should be a valid dictionary or object to extract fields from")
    messages = _check_messages(body)
    _check_system(body)
    _check_tools(body)
    _check_tool_choice(body)
    _check_sampling(body)
    _check_thinking(body, max_tokens)
    _check_small_fields(body)
    check_structured(body)
    _check_cache_control(body, messages)
    _check_attachments(messages)
    if known is not None:
        _check_extra_fields(body, known)


def validate_create(body: Any, *, strict: bool = False) -> None:
    """Validate a POST /v1/messages body; raise ApiError(400) with the real API's message.

    `strict` also rejects top-level fields the API does not know, as the real API does; off by
    default so that fields newer than this catalogue still pass.
    """
    if isinstance(body, dict):
        _check_model(body)
        # [REF] `max_tokens: Field required`; 0 is allowed since 2026 (cache pre-warming, [SDK])
        max_tokens = _int(_required(body, "max_tokens", ()), ("max_tokens",))
        _bounded(max_tokens, ("max_tokens",), low=0)
    else:
        max_tokens = None
    _check_common(body, max_tokens, _CREATE_FIELDS if strict else None)


def validate_count_tokens(body: Any, *, strict: bool = False) -> None:
    """Validate a POST /v1/messages/count_tokens body (no max_tokens); `strict` as for create."""
    if isinstance(body, dict):  # the model first, as for create (_check_common refuses a non-object)
        _check_model(body)
    _check_common(body, None, _COUNT_FIELDS if strict else None)


# Checks that need the model.


def _check_system_messages(messages: list[Any], info: "ModelInfo") -> None:
    roles = [m.get("role") if isinstance(m, dict) else None for m in messages]
    for i, role in enumerate(roles):
        if role != "system":
            continue
        if not info.system_role:
            raise ApiError(400, SYSTEM_ROLE_UNSUPPORTED)
        if i == 0 and messages[0].get("content") not in ([], ""):
            # [ISS] LeenHawk/gproxy#209 (2026-09, Opus 4.8 and Opus 5)
            _fail(("messages", 0), INITIAL_SYSTEM_MESSAGE)
        if i < len(roles) - 1 and roles[i + 1] != "assistant":
            # [ISS] anthropics/claude-code#73821 (2026-07)
            _fail(("messages", i), "role 'system' must precede an 'assistant' message or end the array")


_SAMPLING_DEFAULTS = (("temperature", 1), ("top_p", 1), ("top_k", object()))


def check_model_limits(body: dict[str, Any], info: "ModelInfo") -> None:
    """Model-specific rules for an already valid body: output limit, prefill, thinking, sampling."""
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and max_tokens > info.max_output_tokens:
        # [REF] anthropics/claude-code#11302
        raise ApiError(400, f"max_tokens: {max_tokens} > {info.max_output_tokens}, which is the maximum "
                       f"allowed number of output tokens for {info.id}")  # fmt: skip
    messages = body.get("messages") if isinstance(body.get("messages"), list) else []
    _check_system_messages(messages, info)
    final = messages[-1] if messages else None
    if isinstance(final, dict) and final.get("role") == "assistant" and not info.supports_prefill:
        raise ApiError(400, PREFILL_UNSUPPORTED)
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind is not None and kind not in info.thinking_types:
        if not info.supports_thinking and kind != "disabled":
            # [ISS] anthropics/claude-code#2245: `'claude-3-5-sonnet-20241022' does not support thinking.`
            raise ApiError(400, f"'{info.id}' does not support thinking.")
        # [ISS] cline/cline#13203 (Fable 5, 2026-08) and yeahhe365/Gemini-Nexus#42 (2026-06)
        hint = ' Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.'
        suggest = kind == "enabled" and "adaptive" in info.thinking_types
        message = f'"thinking.type.{kind}" is not supported for this model.'
        raise ApiError(400, message + (hint if suggest else ""))
    if not info.forced_tool_choice and _forces_tool_use(body):
        raise ApiError(400, FORCED_TOOL_UNSUPPORTED)
    config = body.get("output_config")
    effort = config.get("effort") if isinstance(config, dict) else None
    if info.top_effort_needs_thinking and kind in ("disabled", "between_tools") and effort in ("xhigh", "max"):
        raise ApiError(400, TOP_EFFORT_WITHOUT_THINKING.format(effort=effort))
    # Only non-default values are refused by the models without sampling parameters [DOCS 4.7 notes].
    changed = [key for key, default in _SAMPLING_DEFAULTS if body.get(key) not in (None, default)]
    if changed and not info.accepts_sampling:
        raise ApiError(400, SAMPLING_DEPRECATED.format(param=changed[0]))
    if info.exclusive_sampling and body.get("temperature") is not None and body.get("top_p") is not None:
        raise ApiError(400, TEMPERATURE_AND_TOP_P)


def check_context(input_tokens: int, max_tokens: int, info: "ModelInfo") -> None:
    """Reject a prompt that does not fit the model's context window, with the real texts."""
    if input_tokens > info.max_input_tokens:
        # [REF] anthropics/claude-code#59696
        raise ApiError(400, f"prompt is too long: {input_tokens} tokens > {info.max_input_tokens} maximum")
    if input_tokens + max_tokens > info.max_input_tokens:
        # [ISS] docker/docker-agent#569 (2025-10, with request_id), continuedev/continue#6080
        raise ApiError(400, f"input length and `max_tokens` exceed context limit: {input_tokens} + "
                       f"{max_tokens} > {info.max_input_tokens}, decrease input length or `max_tokens` "
                       "and try again")  # fmt: skip
