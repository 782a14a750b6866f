"""What a model call cost, from its token usage and the price table in settings."""

from __future__ import annotations

from decimal import Decimal

from summarizer.settings import ModelPrice

PER_TOKEN = Decimal(1_000_000)
COST_QUANTUM = Decimal("0.000001")


def price_for(model: str, prices: dict[str, ModelPrice]) -> ModelPrice | None:
    """The exact model's price, else the longest listed name the answered model extends
    (`gpt-4.1-mini-2025-04-14` is priced as `gpt-4.1-mini`, not as `gpt-4.1`)."""
    if model in prices:
        return prices[model]
    matches = [name for name in prices if model.startswith(name + "-")]
    return prices[max(matches, key=len)] if matches else None


def call_cost(
    price: ModelPrice, *, input_tokens: int, cached_input_tokens: int, output_tokens: int
) -> Decimal:
    uncached = max(0, input_tokens - cached_input_tokens)
    cost = (
        uncached * price.input + cached_input_tokens * price.cached_input
    ) / PER_TOKEN + output_tokens * price.output / PER_TOKEN
    return cost.quantize(COST_QUANTUM)
