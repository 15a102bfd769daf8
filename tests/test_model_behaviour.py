"""Per-model behaviour from the catalogue: the newer tokenizer's larger counts, and `speed: "fast"`."""

import time
from collections.abc import Iterator

import anthropic
import pytest

from mockclaude import models, tokens
from mockclaude.processes import Proc, mock_server

pytestmark = pytest.mark.timeout(90)
MESSAGES = [{"role": "user", "content": "Count me: the quick brown fox jumps over the lazy dog, twice over."}]


@pytest.fixture(scope="module")
def srv() -> Iterator[Proc]:
    with mock_server("--ttft", "0", "--output-tokens", "110", "--seed", "5") as proc:
        yield proc


def client(url: str) -> anthropic.Anthropic:
    """An SDK client without retries."""
    return anthropic.Anthropic(base_url=url, api_key="sk-ant-test", max_retries=0, timeout=30)


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "claude-opus-5-5"])
def test_input_counts_follow_the_models_tokenizer(srv: Proc, model: str) -> None:
    c = client(srv.url)
    body = {"model": model, "messages": MESSAGES}
    counted = c.messages.count_tokens(**body).input_tokens
    used = c.messages.create(**body, max_tokens=5).usage.input_tokens
    factor = models.lookup(model, any_model=False).tokenizer_factor
    assert counted == used == round(tokens.count_request({"model": model, "messages": MESSAGES}) * factor)
    assert (factor > 1) == (model == "claude-opus-5-5")


def test_fast_speed_shortens_generation_on_models_that_offer_it(srv: Proc) -> None:
    c = client(srv.url)

    def seconds(**extra: object) -> float:
        t0 = time.perf_counter()
        # Opus 4.8: fast mode, and no thinking unless asked (Opus 5.5 thinks by default, which
        # would add thinking tokens to the count).
        msg = c.messages.create(model="claude-opus-4-8", max_tokens=200, messages=MESSAGES, **extra)
        assert msg.usage.output_tokens == 110
        return time.perf_counter() - t0

    standard, fast = seconds(), seconds(extra_body={"speed": "fast"})
    # 110 tokens at the profile's ~50 tok/s (±15%) take ~2.2 s; fast mode is up to 2.5x quicker.
    assert 1.6 < standard < 3.2 and standard / fast > 1.8, (standard, fast)
