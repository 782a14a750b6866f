"""What a session's tokens cost: a versioned price table per model.

Prices are US dollars per million tokens, from OpenAI's published price list. When OpenAI
changes its prices, add a new table with a new version rather than editing this one: every
`session.closed` carries the version its cost was computed with, so old costs stay explainable.

A model missing from the table is priced at the most expensive realtime row, so a budget is never
under-counted, and the version says so (`<version>+fallback`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from jarvis_common.events.catalogue import TokenUsage

MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class RealtimePrices:
    text_input: Decimal
    cached_input: Decimal
    text_output: Decimal
    audio_input: Decimal
    audio_output: Decimal


@dataclass(frozen=True)
class TranscriptionPrices:
    audio_input: Decimal
    text_output: Decimal


def _d(value: str) -> Decimal:
    return Decimal(value)


PRICE_TABLE_VERSION = "2025-09-01"

# Longest prefix wins, so dated snapshots ("gpt-realtime-2025-08-28") find their family.
REALTIME: dict[str, RealtimePrices] = {
    "gpt-realtime-mini": RealtimePrices(_d("0.60"), _d("0.06"), _d("2.40"), _d("10"), _d("20")),
    "gpt-realtime": RealtimePrices(_d("4.00"), _d("0.40"), _d("16.00"), _d("32"), _d("64")),
    "gpt-4o-mini-realtime-preview": RealtimePrices(
        _d("0.60"), _d("0.30"), _d("2.40"), _d("10"), _d("20")
    ),
    "gpt-4o-realtime-preview": RealtimePrices(
        _d("5.00"), _d("2.50"), _d("20.00"), _d("40"), _d("80")
    ),
}
TRANSCRIPTION: dict[str, TranscriptionPrices] = {
    "gpt-4o-mini-transcribe": TranscriptionPrices(_d("3.00"), _d("5.00")),
    "gpt-4o-transcribe": TranscriptionPrices(_d("6.00"), _d("10.00")),
}
_MOST_EXPENSIVE = max(REALTIME.values(), key=lambda p: p.audio_output)
_MOST_EXPENSIVE_TRANSCRIPTION = max(TRANSCRIPTION.values(), key=lambda p: p.text_output)
ZERO = TokenUsage().model_dump(exclude={"transcription_input", "transcription_output"})


P = TypeVar("P")


def _lookup(table: dict[str, P], model: str) -> P | None:
    matches = [prefix for prefix in table if model.startswith(prefix)]
    return table[max(matches, key=len)] if matches else None


@dataclass(frozen=True)
class Cost:
    usd: Decimal
    price_table_version: str


def session_cost(usage: TokenUsage, model: str, transcription_model: str | None) -> Cost:
    """The cost of a session's summed usage, to the millionth of a dollar."""
    version = PRICE_TABLE_VERSION
    prices = _lookup(REALTIME, model)
    if prices is None:
        prices = _MOST_EXPENSIVE
        if usage.model_dump(exclude={"transcription_input", "transcription_output"}) != ZERO:
            version = f"{PRICE_TABLE_VERSION}+fallback"
    transcription = _lookup(TRANSCRIPTION, transcription_model or "")
    if transcription is None:
        transcription = _MOST_EXPENSIVE_TRANSCRIPTION
        if usage.transcription_input or usage.transcription_output:
            version = f"{PRICE_TABLE_VERSION}+fallback"
    total = (
        usage.text_input * prices.text_input
        + usage.cached_input * prices.cached_input
        + usage.text_output * prices.text_output
        + usage.audio_input * prices.audio_input
        + usage.audio_output * prices.audio_output
        + usage.transcription_input * transcription.audio_input
        + usage.transcription_output * transcription.text_output
    ) / MILLION
    return Cost(total.quantize(Decimal("0.000001")), version)


def add_usage(a: TokenUsage, b: TokenUsage) -> TokenUsage:
    return TokenUsage(
        **{name: getattr(a, name) + getattr(b, name) for name in TokenUsage.model_fields}
    )
