"""The model catalogue as of 2026-11: ids, aliases, limits, capabilities, latency, and /v1/models paging.

Sources, cited per entry below:
  [MDEV]  models.dev data files (github anomalyco/models.dev: providers/anthropic/models/*.toml and
          models/anthropic/*.toml): names, release dates, context and output limits, sampling support.
  [DOCS]  platform.claude.com model overview pages (mirrored 2026): Fable 5.1, Opus 5/5.5, Sonnet 5/5.5
          limits ("1M context, 128K max output"), thinking modes, legacy status.
  [SDK]   anthropic==2.12.0: `types/model_param.py` (the ids), `DEPRECATED_MODELS` in
          `resources/messages/messages.py` (end-of-life dates), `types/model_info.py` (the wire object).
  [AA]    Artificial Analysis medians quoted at lattice.uptownhr.com/claude-opus-4-5/speed-analysis
          (Sonnet 4.5: 63 tok/s, 1.80 s TTFT; Opus 4.1: 45 tok/s, 2.67 s) and artificialanalysis.ai provider
          pages (Claude 3 Sonnet on Anthropic: 63 tok/s, 1.14 s; Claude 3.5 Haiku: ~67 tok/s, ~0.8 s).
  [BB]    bridgebench.ai/speedbench/claude-sonnet-4-6: 95.3 tok/s median, 1.207 s median TTFT.
  [CACHE] platform.claude.com/docs/en/build-with-claude/prompt-caching, "Cache limitations" (2026-09
          mirror): minimum cacheable prompt length per model.
  [PAI]   pydantic-ai-slim==2.78.0 `profiles/anthropic.py` (its comments say "verified live 2026-11-04"):
          output limits, forced tool_choice, thinking defaults, sampling rules.
  [VER4]  npm @ai-sdk/anthropic@4.0.112 `anthropic-model-catalog.ts` (one row per model).
  [LC]    langchain-anthropic==1.7.10 `data/_profiles.py` and `profile_augmentations.toml`.
  [LMS]   lmspeed.net Haiku 4.5 vs Sonnet 4.6: Haiku 4.5 97 tok/s, 1.336 s first token.
Where no public measurement exists, `latency_source` says "estimate" and the figures are scaled from
the nearest measured sibling.
"""

from dataclasses import dataclass
from typing import Any

from mockclaude.wire import pages
from mockclaude.wire.errors import ApiError

_NO_THINKING = ("disabled",)
_BUDGET = ("enabled", "disabled")  # manual extended thinking with budget_tokens
_BUDGET_AND_ADAPTIVE = ("enabled", "adaptive", "disabled")  # 4.6: enabled still accepted, deprecated
_ADAPTIVE = ("adaptive", "disabled")  # Opus 4.7+: `enabled` returns 400 [DOCS what's new 4.7]
_ALWAYS_ON = ("adaptive",)  # Fable, Mythos, Opus 5.5: thinking cannot be turned off [DOCS]
_SONNET_55 = ("adaptive", "between_tools")  # "disabled is rejected" [MDEV sonnet-5-5 comments]
EFFORTS_ALL = ("low", "medium", "high", "xhigh", "max")
# `speed: "fast"`: "up to 2.5x higher output tokens per second", time to first token unchanged
# (contentbuffer.com guide to Opus 4.8 fast mode, checked against the docs; [MDEV] experimental.modes.fast).
FAST_MODE_SPEEDUP = 2.5


@dataclass(frozen=True)
class ModelInfo:
    """One model: what /v1/models says about it and how the mock should behave for it."""

    id: str
    display_name: str
    created_at: str  # RFC 3339, ...Z
    max_input_tokens: int
    max_output_tokens: int
    aliases: tuple[str, ...] = ()
    ttft_s: float = 1.0  # default latency profile: median time to first token
    tps: float = 60.0  # median output tokens per second
    latency_source: str = "estimate"
    supports_prefill: bool = True
    thinking_types: tuple[str, ...] = _BUDGET
    lifecycle: str = "active"  # active | deprecated | retired
    deprecated_at: str | None = None
    retires_at: str | None = None
    line: str | None = None  # haiku | sonnet | opus | fable | mythos
    efforts: tuple[str, ...] = ()
    accepts_sampling: bool = True  # temperature/top_p/top_k (removed from Opus 4.7 on)
    exclusive_sampling: bool = False  # "`temperature` and `top_p` cannot both be specified"
    system_role: bool = False  # role "system" inside messages (Opus 4.8 and later)
    fast_mode: bool = False  # accepts speed "fast" ([MDEV] experimental.modes.fast)
    # tool_choice "any"/"tool" accepted at all: [PAI] `supports_forced_tool_choice`, [VER4]
    # `forcedToolUse`, [LC] sonnet-5-5 `tool_choice = false`; the 400 text is in wire.validation.
    forced_tool_choice: bool = True
    # Thinks (adaptively) when the request has no `thinking` [PAI] `thinking_enabled_by_default`;
    # [DOCS] haiku-5-5/overview "Adaptive thinking is on by default".
    thinks_by_default: bool = False
    # effort xhigh/max only while thinking: with `disabled` or `between_tools` the effort is capped
    # at high [PAI] `disallows_top_effort_when_thinking_disabled`, [VER4] `canBeDisabled:
    # 'up-to-high-effort'`; [MDEV] sonnet-5-5 "between_tools works only at low, medium, or high effort".
    top_effort_needs_thinking: bool = False
    # output_config.format / strict tools [VER4] `nativeStructuredOutput`, [PAI]
    # `models_that_support_json_schema_output` (both false for Claude 3 and the 4.0 models).
    structured_outputs: bool = True
    # Tokens this model counts for a text, relative to the models before Opus 4.7: their newer
    # tokenizer yields "approximately 30% more tokens" for the same text ([DOCS] haiku-5-5/overview;
    # Simon Willison's Sonnet 5 measurement as reported by QbitAI, 2026-07-01).
    tokenizer_factor: float = 1.0
    # Shortest prompt prefix the API caches; a shorter one is silently not cached (both cache usage
    # fields 0). Values: the prompt-caching docs' "Cache limitations" list as of 2026-09 [CACHE];
    # see docs/models.md for the second source per value and the June→September changes.
    min_cache_tokens: int = 1024
    image_input: bool = True
    pdf_input: bool = True
    source: str = ""

    def output_tps(self, speed: str | None) -> float:
        """Median output tokens/s for a request's `speed` field."""
        return self.tps * FAST_MODE_SPEEDUP if speed == "fast" and self.fast_mode else self.tps

    @property
    def supports_thinking(self) -> bool:
        """Whether any thinking mode that actually thinks is accepted."""
        return any(t != "disabled" for t in self.thinking_types)


def _at(day: str) -> str:
    return f"{day}T00:00:00Z"


def _m(**kw: Any) -> ModelInfo:
    kw["created_at"] = _at(kw["created_at"])
    for key in ("deprecated_at", "retires_at"):
        if kw.get(key):
            kw[key] = _at(kw[key])
    return ModelInfo(**kw)


_NEW_TOKENIZER = 1.3
_NEW_GEN = dict(  # what Opus 4.7 changed and later models kept [DOCS, MDEV temperature=false]
    supports_prefill=False, accepts_sampling=False, system_role=True, efforts=EFFORTS_ALL,
    tokenizer_factor=_NEW_TOKENIZER,
)
_GEN_5 = dict(_NEW_GEN, thinks_by_default=True)  # Opus/Sonnet 5+, Haiku 5.5, Fable, Mythos [PAI]
_NO_FORCING = dict(_GEN_5, forced_tool_choice=False)  # forced tool_choice → 400 [PAI, VER4, LC, DOCS]

# Newest first, as /v1/models lists them.
CATALOGUE: tuple[ModelInfo, ...] = (
    # Fable/Mythos 5.2: ids from [SDK] ModelParam; release date and limits not found publicly:
    # limits copied from 5.1, date estimated.
    _m(id="claude-fable-5-2", display_name="Claude Fable 5.2", created_at="2026-11-01",
       max_input_tokens=1_000_000, max_output_tokens=128_000, line="fable", thinking_types=_ALWAYS_ON,
       min_cache_tokens=512, ttft_s=3.5, tps=40.0, source="[SDK] id; date/limits estimate", **_NO_FORCING),
    _m(id="claude-mythos-5-2", display_name="Claude Mythos 5.2", created_at="2026-11-01",
       max_input_tokens=1_000_000, max_output_tokens=128_000, line="mythos", thinking_types=_ALWAYS_ON,
       min_cache_tokens=512, ttft_s=3.5, tps=40.0, source="[SDK] id; date/limits estimate", **_NO_FORCING),
    _m(top_effort_needs_thinking=True, id="claude-haiku-5-5", display_name="Claude Haiku 5.5", created_at="2026-10-07",
       max_input_tokens=1_000_000, max_output_tokens=128_000, line="haiku", thinking_types=_ADAPTIVE,
       min_cache_tokens=512, ttft_s=0.9, tps=110.0, source="[MDEV] models/anthropic/claude-haiku-5-5.toml", **_GEN_5),
    _m(top_effort_needs_thinking=True, id="claude-sonnet-5-5", display_name="Claude Sonnet 5.5",
       created_at="2026-09-28",
       max_input_tokens=1_000_000, max_output_tokens=128_000, line="sonnet", thinking_types=_SONNET_55,
       min_cache_tokens=512, ttft_s=1.3, tps=85.0,
       source="[DOCS] sonnet-5-5/overview ('Released September 28, 2026'); [LC] 2026-09-28", **_NO_FORCING),
    _m(id="claude-opus-5-5", fast_mode=True, display_name="Claude Opus 5.5", created_at="2026-09-22",
       max_input_tokens=1_000_000, max_output_tokens=128_000, line="opus", thinking_types=_ALWAYS_ON,
       min_cache_tokens=512,
       ttft_s=2.2, tps=55.0, source="[DOCS] opus-5-5/overview; date: anthropic.com/claude-opus-5-5 as "
       "cited in AkihikoWatanabe/paper_notes#6619 and datacurve-ai/deep-swe#98 (2026-09-22)",
       **_NO_FORCING),
    _m(id="claude-fable-5-1", display_name="Claude Fable 5.1", created_at="2026-09-01",
       max_input_tokens=1_000_000, max_output_tokens=128_000, line="fable", thinking_types=_ALWAYS_ON,
       min_cache_tokens=512,
       ttft_s=3.5, tps=40.0, source="[DOCS] fable-5-1/overview; anthropic.com/claude-fable-and-mythos-5-1",
       **_NO_FORCING),
    _m(id="claude-mythos-5-1", display_name="Claude Mythos 5.1", created_at="2026-09-01",
       max_input_tokens=1_000_000, max_output_tokens=128_000, line="mythos", thinking_types=_ALWAYS_ON,
       min_cache_tokens=512, ttft_s=3.5, tps=40.0, source="[DOCS] mythos-5-1/overview", **_NO_FORCING),
    _m(top_effort_needs_thinking=True, id="claude-opus-5", fast_mode=True, display_name="Claude Opus 5",
       created_at="2026-07-24",
       max_input_tokens=1_000_000, max_output_tokens=128_000, line="opus", thinking_types=_ADAPTIVE,
       min_cache_tokens=512, ttft_s=2.2, tps=55.0, source="[MDEV] models/anthropic/claude-opus-5.toml", **_GEN_5),
    _m(id="claude-sonnet-5", display_name="Claude Sonnet 5", created_at="2026-06-30",
       max_input_tokens=1_000_000, max_output_tokens=128_000, line="sonnet", thinking_types=_ADAPTIVE,
       min_cache_tokens=1_024,
       ttft_s=1.3, tps=85.0, source="[MDEV] claude-sonnet-5.toml; [DOCS] sonnet-5/overview", **_GEN_5),
    _m(id="claude-fable-5", display_name="Claude Fable 5", created_at="2026-06-09",
       max_input_tokens=1_000_000, max_output_tokens=128_000, line="fable", thinking_types=_ALWAYS_ON,
       min_cache_tokens=512, ttft_s=3.5, tps=40.0, source="[MDEV] claude-fable-5.toml", **_GEN_5),
    _m(id="claude-mythos-5", display_name="Claude Mythos 5", created_at="2026-06-09",
       max_input_tokens=1_000_000, max_output_tokens=128_000, line="mythos", thinking_types=_ALWAYS_ON,
       min_cache_tokens=512, ttft_s=3.5, tps=40.0, source="[MDEV] models/anthropic/claude-mythos-5.toml", **_GEN_5),
    _m(id="claude-opus-4-8", fast_mode=True, display_name="Claude Opus 4.8", created_at="2026-05-28",
       max_input_tokens=1_000_000, max_output_tokens=128_000, line="opus", thinking_types=_ADAPTIVE,
       min_cache_tokens=1_024,
       ttft_s=2.2, tps=50.0, source="[MDEV] claude-opus-4-8.toml; first model with mid-conversation "
       "system messages (vercel/ai#15674)", **_NEW_GEN),
    _m(id="claude-opus-4-7", fast_mode=True, display_name="Claude Opus 4.7", created_at="2026-04-16",
       max_input_tokens=1_000_000, max_output_tokens=128_000, line="opus", thinking_types=_ADAPTIVE,
       min_cache_tokens=2_048, ttft_s=2.2, tps=50.0, source="[MDEV] claude-opus-4-7.toml", supports_prefill=False,
       accepts_sampling=False, efforts=EFFORTS_ALL, tokenizer_factor=_NEW_TOKENIZER),
    _m(id="claude-sonnet-4-6", display_name="Claude Sonnet 4.6", created_at="2026-02-17",
       max_input_tokens=1_000_000, max_output_tokens=128_000, line="sonnet", min_cache_tokens=1_024,
       thinking_types=_BUDGET_AND_ADAPTIVE, ttft_s=1.207, tps=95.3, latency_source="[BB] bridgebench.ai",
       supports_prefill=False, exclusive_sampling=True, efforts=("low", "medium", "high", "max"),
       source="[MDEV] claude-sonnet-4-6.toml, but its 64K output is stale: [PAI], [VER4], [LC] say 128K; "
       "released 2026-02-17 (betagouv/ComparIA#332)"),
    _m(id="claude-opus-4-6", fast_mode=True, display_name="Claude Opus 4.6", created_at="2026-02-05",
       max_input_tokens=1_000_000, max_output_tokens=128_000, line="opus", min_cache_tokens=4_096,
       thinking_types=_BUDGET_AND_ADAPTIVE, ttft_s=2.4, tps=48.0, supports_prefill=False,
       exclusive_sampling=True, efforts=("low", "medium", "high", "max"),
       source="[MDEV] claude-opus-4-6.toml"),
    _m(id="claude-opus-4-5-20251101", display_name="Claude Opus 4.5", created_at="2025-11-24",
       aliases=("claude-opus-4-5",), max_input_tokens=200_000, max_output_tokens=64_000, line="opus",
       min_cache_tokens=4_096, ttft_s=2.5, tps=47.0, exclusive_sampling=True, efforts=("low", "medium", "high"),
       source="[MDEV] claude-opus-4-5.toml"),
    _m(id="claude-haiku-4-5-20251001", display_name="Claude Haiku 4.5", created_at="2025-10-15",
       aliases=("claude-haiku-4-5",), max_input_tokens=200_000, max_output_tokens=64_000, line="haiku",
       min_cache_tokens=4_096, ttft_s=1.336, tps=97.0, latency_source="[LMS] lmspeed.net", exclusive_sampling=True,
       source="[MDEV] claude-haiku-4-5-20251001.toml"),
    _m(id="claude-sonnet-4-5-20250929", display_name="Claude Sonnet 4.5", created_at="2025-09-29",
       aliases=("claude-sonnet-4-5",), max_input_tokens=200_000, max_output_tokens=64_000, line="sonnet",
       min_cache_tokens=1_024,
       ttft_s=1.80, tps=63.0, latency_source="[AA] via lattice.uptownhr.com", exclusive_sampling=True,
       lifecycle="deprecated", deprecated_at="2026-08-31", retires_at="2026-11-30",
       source="[MDEV] claude-sonnet-4-5.toml; retirement: [SDK] DEPRECATED_MODELS; deprecation date "
       "estimate"),
    # Retired: listed only with lifecycle[]=retired; requests naming them fail.
    _m(id="claude-opus-4-1-20250805", display_name="Claude Opus 4.1", created_at="2025-08-05",
       aliases=("claude-opus-4-1",), max_input_tokens=200_000, max_output_tokens=32_000, line="opus",
       min_cache_tokens=1_024,
       ttft_s=2.67, tps=45.0, latency_source="[AA] via lattice.uptownhr.com", exclusive_sampling=True,
       lifecycle="retired", deprecated_at="2026-05-05", retires_at="2026-08-05",
       source="[MDEV]; retired 2026-08-05 (multidotdev/cli v0.0.135 notes); deprecation date estimate"),
    _m(thinks_by_default=True, id="claude-mythos-preview", display_name="Claude Mythos Preview",
       created_at="2026-04-07",
       max_input_tokens=1_000_000, max_output_tokens=128_000, thinking_types=_BUDGET_AND_ADAPTIVE,
       min_cache_tokens=2_048,
       ttft_s=3.5, tps=40.0, supports_prefill=False, lifecycle="retired", deprecated_at="2026-06-09",
       retires_at="2026-06-30", source="[SDK] DEPRECATED_MODELS; created/deprecated dates estimate"),
    _m(structured_outputs=False, id="claude-opus-4-20250514", display_name="Claude Opus 4", created_at="2025-05-22",
       aliases=("claude-opus-4-0",), max_input_tokens=200_000, max_output_tokens=32_000, line="opus",
       min_cache_tokens=1_024,
       ttft_s=2.67, tps=45.0, lifecycle="retired", deprecated_at="2026-04-14", retires_at="2026-06-15",
       source="[MDEV]; retirement [SDK] DEPRECATED_MODELS; deprecation date estimate"),
    _m(structured_outputs=False, id="claude-sonnet-4-20250514", display_name="Claude Sonnet 4", created_at="2025-05-22",
       aliases=("claude-sonnet-4-0",), max_input_tokens=200_000, max_output_tokens=64_000, line="sonnet",
       min_cache_tokens=1_024,
       ttft_s=1.8, tps=63.0, lifecycle="retired", deprecated_at="2026-04-14", retires_at="2026-06-15",
       source="[MDEV]; retirement [SDK] DEPRECATED_MODELS; deprecation date estimate"),
    _m(structured_outputs=False, id="claude-3-7-sonnet-20250219", display_name="Claude Sonnet 3.7",
       created_at="2025-02-24",
       aliases=("claude-3-7-sonnet-latest",), max_input_tokens=200_000, max_output_tokens=64_000,
       min_cache_tokens=1_024, line="sonnet", ttft_s=1.2, tps=63.0, lifecycle="retired", deprecated_at="2025-10-28",
       retires_at="2026-02-19", source="[MDEV]; retirement [SDK] DEPRECATED_MODELS"),
    _m(structured_outputs=False, id="claude-3-5-haiku-20241022", display_name="Claude Haiku 3.5",
       created_at="2024-10-22",
       aliases=("claude-3-5-haiku-latest",), max_input_tokens=200_000, max_output_tokens=8_192, min_cache_tokens=2_048,
       line="haiku", thinking_types=_NO_THINKING, ttft_s=0.8, tps=67.0,
       latency_source="[AA] artificialanalysis.ai/models/claude-3-5-haiku/providers", lifecycle="retired",
       deprecated_at="2025-12-19", retires_at="2026-02-19", pdf_input=False,
       source="[MDEV]; retirement [SDK] DEPRECATED_MODELS; deprecation date estimate"),
    _m(structured_outputs=False, id="claude-3-haiku-20240307", display_name="Claude Haiku 3", created_at="2024-03-07",
       max_input_tokens=200_000, max_output_tokens=4_096, line="haiku", thinking_types=_NO_THINKING,
       min_cache_tokens=2_048,
       ttft_s=0.7, tps=120.0, lifecycle="retired", deprecated_at="2026-02-19", retires_at="2026-04-20",
       pdf_input=False, source="[MDEV] claude-3-haiku-20240307.toml; retired 2026-04-20 "
       "(BerriAI/litellm#26139, anthropics/skills#1607); deprecation date estimate"),
    _m(structured_outputs=False, id="claude-3-opus-20240229", display_name="Claude Opus 3", created_at="2024-02-29",
       max_input_tokens=200_000, max_output_tokens=4_096, line="opus", thinking_types=_NO_THINKING,
       min_cache_tokens=1_024,
       ttft_s=1.5, tps=25.0, lifecycle="retired", deprecated_at="2025-06-30", retires_at="2026-01-05",
       pdf_input=False, source="[MDEV]; retirement [SDK] DEPRECATED_MODELS; max_tokens 4096 per the real "
       "error text in anthropics/claude-code#11302"),
)

_BY_NAME: dict[str, ModelInfo] = {}
for _info in CATALOGUE:
    for _name in (_info.id, *_info.aliases):
        _BY_NAME[_name] = _info

_LIFECYCLES = ("active", "deprecated", "retired")


def resolve(name: str) -> ModelInfo | None:
    """The catalogue entry for a model id or alias, or None."""
    return _BY_NAME.get(name)


def generic_model(name: str) -> ModelInfo:
    """A permissive stand-in for a model the catalogue does not know (for `--any-model`)."""
    return ModelInfo(
        id=name,
        display_name=name,
        created_at="1970-01-01T00:00:00Z",  # the SDK docs: epoch when the release date is unknown
        max_input_tokens=1_000_000,
        max_output_tokens=128_000,
        thinking_types=("enabled", "adaptive", "disabled", "between_tools"),
        efforts=EFFORTS_ALL,
        system_role=True,
        source="generic (--any-model)",
    )


def resolve_or_generic(name: str) -> ModelInfo:
    """The catalogue entry for `name`, else a generic one; a retired model stays itself."""
    return resolve(name) or generic_model(name)


def unknown_model(name: str) -> ApiError:
    """The real 404 for a model name the API does not serve."""
    # `model: claude-3-5-sonnet-latest` (not_found_error): ISSUE Shopify/shop-chat-agent#55
    return ApiError(404, f"model: {name}")


def require_usable(name: str, info: ModelInfo | None) -> ModelInfo:
    """The model to answer with, or the 404 the real API sends for unknown and retired models."""
    if info is None or info.lifecycle == "retired":
        raise unknown_model(name)
    return info


def lookup(name: str, *, any_model: bool = False) -> ModelInfo:
    """The model a request names: catalogued and usable, or a generic one with `any_model`; else 404."""
    if any_model:
        return resolve_or_generic(name)
    return require_usable(name, resolve(name))


def _capabilities(info: ModelInfo) -> dict[str, Any]:
    # Thinking, effort, image and PDF flags follow the catalogue; the tool and context-management
    # flags are approximations (every model of a named line gets them), as no per-model table was found.
    def flag(value: bool) -> dict[str, bool]:
        return {"supported": value}

    types = info.thinking_types
    return {
        "batch": flag(True),
        "citations": flag(True),
        "code_execution": flag(info.line is not None),
        "context_management": {
            "supported": info.line is not None,
            "clear_thinking_20251015": flag(info.supports_thinking),
            "clear_tool_uses_20250919": flag(info.line is not None),
            "compact_20260112": flag(info.max_input_tokens >= 1_000_000),
        },
        "effort": {
            "supported": bool(info.efforts),
            **{level: flag(level in info.efforts) for level in EFFORTS_ALL},
        },
        "image_input": flag(info.image_input),
        "pdf_input": flag(info.pdf_input),
        "server_tools": {
            "supported": info.line is not None,
            "code_execution": flag(info.line is not None),
            "web_search": flag(info.line is not None),
        },
        "structured_outputs": flag(info.structured_outputs),
        "thinking": {
            "supported": info.supports_thinking,
            "types": {
                kind: flag(kind in types) for kind in ("adaptive", "between_tools", "disabled", "enabled")
            },
        },
    }


def model_json(info: ModelInfo) -> dict[str, Any]:
    """The ModelInfo wire object (SDK 2.12.0 `types/model_info.py`)."""
    return {
        "type": "model",
        "id": info.id,
        "display_name": info.display_name,
        "created_at": info.created_at,
        "capabilities": _capabilities(info),
        "lifecycle": info.lifecycle,
        "deprecated_at": info.deprecated_at,
        "retires_at": info.retires_at,
        "line": info.line,
        "max_input_tokens": info.max_input_tokens,
        "max_tokens": info.max_output_tokens,
    }


def _listed(lifecycle: list[str] | tuple[str, ...] | None) -> list[ModelInfo]:
    # Default is active + deprecated; retired appear only when asked for [SDK model_list_params.py].
    wanted = set(lifecycle) if lifecycle else {"active", "deprecated"}
    for stage in wanted:
        if stage not in _LIFECYCLES:
            expected = "'active', 'deprecated' or 'retired'"
            raise ApiError(400, f"lifecycle: Input should be {expected} (got {stage!r})")
    return [info for info in CATALOGUE if info.lifecycle in wanted]


def list_models(
    limit: int | str | None = None,
    after_id: str | None = None,
    before_id: str | None = None,
    lifecycle: list[str] | tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """One page of GET /v1/models: newest first, cursor-paginated by id like the real API."""
    return pages.page(
        _listed(lifecycle),
        lambda info: info.id,
        model_json,
        limit=limit,
        after_id=after_id,
        before_id=before_id,
        noun="model",
    )
