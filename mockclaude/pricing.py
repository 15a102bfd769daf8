"""List prices of the Claude API and what a request's usage costs: the one price table, with sources.

USD per million tokens, first-party Claude API, standard tier. Every row names its source and the
date that source was read or quoted; rows marked `estimate` have no public price.

Sources (short keys, as in the research notes for issue 12):
  [PR]      Anthropic docs, "Pricing", platform.claude.com/docs/en/about-claude/pricing, read from the
            public mirror llms-txt-archive/anthropic-platform at commit 7967a16b (synced 2026-08-21),
            and at commit 979aa9c8 (2026-03-13) for models gone from the newer page.
  [PR-OCT]  Later revisions of the same page (Sep-Oct 2026), known through dated verbatim quotes of
            the live page in third-party repositories.
  [PRESS]   Press reports of a partner price (not on Anthropic's pricing page).

Rules applied by `cost` ([PR]; prompt-caching page of the same mirror and date):
  - "5-minute cache write tokens are 1.25 times the base input tokens price / 1-hour cache write
    tokens are 2 times the base input tokens price / Cache read tokens are 0.1 times the base input
    tokens price", except "Cache hits and refreshes on Claude Fable 5.1 and Claude Mythos 5.1 are
    priced at 0.025x the base input price" and "on Claude Opus 5.5 and Claude Sonnet 5.5 ... at 0.05x"
    ([PR-OCT], quoted 2026-10-08).
  - Batch API: "a 50% discount on both input and output tokens"; the cache multipliers "stack with
    other pricing modifiers, including the Batch API discount" (so every category is halved).
  - Long context: above a model's threshold, counted over all input tokens including cache reads and
    writes, "all tokens incur premium pricing" (Sonnet 4.5 / Sonnet 4 above 200k, [PR] 2026-03-13;
    Haiku 5.5 above 100k, its overview page). Claude 4.6 and later otherwise bill 1M context at the
    standard rate ([PR] 2026-08-21).
Not modelled: fast mode (`speed: "fast"`) and US-only `inference_geo` (1.1x) surcharges.
"""

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Self

from mockclaude.models import resolve
from mockclaude.wire.messages import InputUsage

MTOK = 1_000_000
WRITE_5M = 1.25  # x base input
WRITE_1H = 2.0  # x base input
READ = 0.1  # x base input, unless the row says otherwise
BATCH = 0.5  # Batch API: half of every category
HIT_RATIO = "cache_read / (input + cache_creation + cache_read) input tokens, summed over the requests"


@dataclass(frozen=True)
class Rates:
    """USD per million tokens of each category."""

    input: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float
    output: float


@dataclass(frozen=True)
class Price:
    """One model's list price, where it comes from, and its long-context tier if it has one."""

    rates: Rates
    source: str
    as_of: str  # when the source was published or quoted (YYYY-MM or YYYY-MM-DD)
    estimate: bool = False
    long_context_above: int | None = None  # input tokens (incl. cache) above which...
    long_context: Rates | None = None  # ...every token of the request is billed at these rates


class _Summable:
    """Field-wise addition for the dataclasses below (tokens and dollars add up per category)."""

    def __add__(self, other: Self) -> Self:
        return type(self)(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True)
class TokenUsage(_Summable):
    """The billable token counts of one request (or a sum of them), as the API reports them."""

    input_tokens: int = 0  # uncached input: after the last cache breakpoint
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0
    output_tokens: int = 0

    @property
    def cache_write_tokens(self) -> int:
        """Tokens written to the cache, both TTLs (the API's `cache_creation_input_tokens`)."""
        return self.cache_write_5m_tokens + self.cache_write_1h_tokens

    @property
    def total_input_tokens(self) -> int:
        """input + cache_creation + cache_read: every input token of the prompt."""
        return self.input_tokens + self.cache_write_tokens + self.cache_read_tokens


@dataclass(frozen=True)
class Cost(_Summable):
    """USD per category for some usage at some price."""

    input: float = 0.0
    cache_write_5m: float = 0.0
    cache_write_1h: float = 0.0
    cache_read: float = 0.0
    output: float = 0.0

    @property
    def total(self) -> float:
        """The sum of every category."""
        return sum(getattr(self, f.name) for f in fields(self))


def _std(input_: float, output: float, read: float = READ) -> Rates:
    """Rates with the cache columns derived from base input by the documented multipliers."""
    return Rates(input_, input_ * WRITE_5M, input_ * WRITE_1H, input_ * read, output)


_PR = "[PR] pricing page"
_PR_MAR = "[PR] pricing page (commit 979aa9c8)"
_FABLE_51 = Price(
    _std(10, 50, read=0.025), "[PR-OCT] pricing row, 0.025x cache-read footnote, quoted 2026-09-22..10-08", "2026-10-08"
)
_OPUS_45_TO_48 = Price(_std(5, 25), _PR, "2026-08-21")
_SONNET_4 = Price(
    _std(3, 15), _PR, "2026-08-21", long_context_above=200_000, long_context=_std(6, 22.5)
)  # long-context rows ($6 / $22.50 above 200k input tokens, 1M beta header) from [PR] 2026-03-13

# Every model of mockclaude.models.CATALOGUE, by id (aliases resolve through the catalogue).
PRICES: dict[str, Price] = {
    "claude-fable-5-2": Price(_FABLE_51.rates, "no public price: Fable 5.1's", "2026-12-06", estimate=True),
    "claude-mythos-5-2": Price(_FABLE_51.rates, "no public price: Mythos 5.1's", "2026-12-06", estimate=True),
    "claude-haiku-5-5": Price(
        _std(0.10, 0.50), "haiku-5-5 overview page (mirror), incl. the tier for prompts over 100,000 tokens",
        "2026-10-07", long_context_above=100_000, long_context=_std(0.50, 2.50),
    ),
    "claude-sonnet-5-5": Price(_std(2, 10, read=0.05), "[PR-OCT] pricing row quoted 2026-10-08", "2026-10-08"),
    "claude-opus-5-5": Price(_std(4, 20, read=0.05), "[PR-OCT] pricing row quoted 2026-09-28", "2026-09-28"),
    "claude-fable-5-1": _FABLE_51,
    "claude-mythos-5-1": _FABLE_51,
    "claude-opus-5": Price(_std(5, 25), _PR, "2026-08-21"),
    "claude-sonnet-5": Price(_std(2, 10), _PR + ' ("The $2/$10 ... is now the standard price")', "2026-08-21"),
    "claude-fable-5": Price(_std(10, 50), _PR, "2026-08-21"),
    "claude-mythos-5": Price(_std(10, 50), _PR, "2026-08-21"),
    "claude-opus-4-8": _OPUS_45_TO_48,
    "claude-opus-4-7": _OPUS_45_TO_48,
    "claude-sonnet-4-6": Price(_std(3, 15), _PR, "2026-08-21"),
    "claude-opus-4-6": _OPUS_45_TO_48,
    "claude-opus-4-5-20251101": _OPUS_45_TO_48,
    "claude-haiku-4-5-20251001": Price(_std(1, 5), _PR, "2026-08-21"),
    "claude-sonnet-4-5-20250929": _SONNET_4,
    "claude-opus-4-1-20250805": Price(_std(15, 75), _PR, "2026-08-21"),
    "claude-mythos-preview": Price(
        _std(25, 125), "[PRESS] $25/$125 partner price (Apr 2026); cache columns by the standard multipliers",
        "2026-04", estimate=True,
    ),
    "claude-opus-4-20250514": Price(_std(15, 75), _PR, "2026-08-21"),
    "claude-sonnet-4-20250514": _SONNET_4,
    "claude-3-7-sonnet-20250219": Price(_std(3, 15), _PR_MAR, "2026-03-13"),
    "claude-3-5-haiku-20241022": Price(_std(0.80, 4), _PR, "2026-08-21"),
    # The page lists Haiku 3's cache columns rounded ($0.30 / $0.50 / $0.03), not the exact multiples.
    "claude-3-haiku-20240307": Price(Rates(0.25, 0.30, 0.50, 0.03, 1.25), _PR_MAR, "2026-03-13"),
    "claude-3-opus-20240229": Price(_std(15, 75), _PR_MAR, "2026-03-13"),
}  # fmt: skip


def price_of(model: str) -> Price | None:
    """The list price of a model id or alias, or None for a model the table does not know."""
    info = resolve(model)
    return PRICES.get(info.id if info else model)


def cost(price: Price, usage: TokenUsage, *, batch: bool = False) -> Cost:
    """What one request's `usage` costs at `price` (`batch`: sent through the Batch API)."""
    rates = price.rates
    if price.long_context_above is not None and usage.total_input_tokens > price.long_context_above:
        rates = price.long_context or rates
    scale = (BATCH if batch else 1.0) / MTOK
    return Cost(
        input=usage.input_tokens * rates.input * scale,
        cache_write_5m=usage.cache_write_5m_tokens * rates.cache_write_5m * scale,
        cache_write_1h=usage.cache_write_1h_tokens * rates.cache_write_1h * scale,
        cache_read=usage.cache_read_tokens * rates.cache_read * scale,
        output=usage.output_tokens * rates.output * scale,
    )


def hit_ratio(usage: TokenUsage) -> float | None:
    """Cache-read share of all input tokens (see HIT_RATIO); None when there was no input."""
    total = usage.total_input_tokens
    return usage.cache_read_tokens / total if total else None


def usage_from_api(usage: Mapping[str, Any]) -> TokenUsage:
    """A TokenUsage from the API's `usage` object (the input side read as wire.messages.InputUsage does)."""
    used = InputUsage.of(dict(usage))
    out = usage.get("output_tokens")
    return TokenUsage(
        input_tokens=used.input_tokens,
        cache_write_5m_tokens=used.cache_write_5m,
        cache_write_1h_tokens=used.cache_write_1h,
        cache_read_tokens=used.cache_read,
        output_tokens=out if isinstance(out, int) else 0,
    )
