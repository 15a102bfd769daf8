"""Cache usage and cost of a set of requests: the cache and cost figures of summary.json.

Only successful message calls count (count_tokens is free, and failed calls carry no usage). Each
request is priced on its own (a long-context tier or the batch discount applies per request), at the
list prices of mockclaude.pricing; against the mock that is what the same traffic would cost on the
real API, against `--real` what it did cost.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from mockclaude.pricing import HIT_RATIO, Cost, Price, TokenUsage, cost, hit_ratio, price_of
from replay.records import RequestRecord

DEFINITIONS = {
    "cache_hit_ratio": HIT_RATIO,
    "cache_read_tokens": "usage.cache_read_input_tokens, summed over successful message calls",
    "cache_write_tokens": "usage.cache_creation_input_tokens (5m and 1h TTL), summed over successful message calls",
    "cost_usd": "each successful message call's usage at the list prices of mockclaude.pricing (cache writes "
    "1.25x/2x, reads 0.1x base input unless the model's row differs; long-context tier and the 50% batch "
    "discount per request), summed; unpriced models are left out",
    "cost_per_1000_requests": "cost_usd / priced requests x 1000",
}


def _usd(x: float) -> float:
    return round(x, 6)


@dataclass
class _Tally:
    price: Price
    requests: int = 0
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost: Cost = field(default_factory=Cost)


def cache_and_cost(records: Sequence[RequestRecord]) -> dict[str, Any]:
    """Cache tokens and hit ratio over `records`, and their cost in total, per 1,000 requests and per model."""
    usage = TokenUsage()
    by_model: dict[str, _Tally] = {}
    unpriced: dict[str, int] = {}
    for r in records:
        tokens = r.token_usage()
        if tokens is None:
            continue
        usage += tokens
        price = price_of(r.model)
        if price is None:
            unpriced[r.model] = unpriced.get(r.model, 0) + 1
            continue
        tally = by_model.setdefault(r.model, _Tally(price))
        tally.requests += 1
        tally.usage += tokens
        tally.cost += cost(price, tokens, batch=r.usage.get("service_tier") == "batch")
    priced = sum(t.requests for t in by_model.values())
    total = sum(t.cost.total for t in by_model.values())
    models = {
        model: {
            "requests": t.requests,
            **asdict(t.usage),
            "cost_usd": _usd(t.cost.total),
            "cost_by_category": {k: _usd(v) for k, v in asdict(t.cost).items()},
            "price_per_mtok": asdict(t.price.rates),
            "price_source": t.price.source,
            "price_as_of": t.price.as_of,
            "price_estimate": t.price.estimate,
        }
        for model, t in sorted(by_model.items())
    }
    ratio = hit_ratio(usage)
    return {
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "cache_write_5m_tokens": usage.cache_write_5m_tokens,
        "cache_write_1h_tokens": usage.cache_write_1h_tokens,
        "cache_hit_ratio": None if ratio is None else round(ratio, 6),
        "cost_usd": _usd(total) if priced else None,
        "cost_per_1000_requests": _usd(total / priced * 1000) if priced else None,
        "priced_requests": priced,
        "cost_by_model": models,
        "unpriced_models": dict(sorted(unpriced.items())),
    }
