"""What a conversation analysis is made of, whichever provider made it.

`ConversationAnalysis` is the schema the model answers in (structured output) and the shape the
offline analyser fills in; `Analysis` adds what the call cost. `bounded` cuts every field to a
size that keeps `summary.created` a few KiB, well under the 64 KiB target set for the event (the
outbox itself accepts up to `MAX_EVENT_BYTES`, 900 KiB), whatever a model writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Topic = Literal[
    "classes",
    "schedule",
    "pricing",
    "membership",
    "cancellation",
    "complaint",
    "equipment",
    "personal_training",
    "nutrition",
    "facilities",
    "other",
]
SentimentLabel = Literal["positive", "neutral", "negative"]
ChurnKind = Literal["intent_to_cancel", "complaint", "price_concern"]
Language = Literal["fr", "en"]

MAX_SUMMARY_CHARS = 1200
MAX_ITEMS = 8
MAX_ITEM_CHARS = 200
MAX_TAG_CHARS = 40
MAX_EVIDENCE_CHARS = 300


class ChurnSignalFound(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ChurnKind = Field(description="intent_to_cancel, complaint or price_concern")
    evidence: str = Field(description="the member's own sentence that shows it, verbatim")


class ConversationAnalysis(BaseModel):
    """What we ask the model for. Every field is required: strict structured output."""

    model_config = ConfigDict(extra="forbid")

    summary: str = Field(description="2 to 4 sentences for the gym's staff")
    conversation_language: str = Field(description="ISO 639-1 code of what the member spoke")
    sentiment_label: SentimentLabel
    sentiment_score: float = Field(description="-1 (very negative) to 1 (very positive)")
    topics: list[Topic]
    tags: list[str] = Field(description="a few short lowercase keywords")
    goals: list[str] = Field(description="the member's fitness or personal goals, if any")
    follow_ups: list[str] = Field(description="actions the gym's staff should take, if any")
    churn_signals: list[ChurnSignalFound]
    member_satisfied: bool | None = Field(
        description="did the member get what they came for; null when it cannot be told"
    )


@dataclass(frozen=True)
class Analysis:
    result: ConversationAnalysis
    model: str
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal("0")


def bounded(analysis: ConversationAnalysis) -> ConversationAnalysis:
    """The analysis with its sizes capped and its values normalised (deduplicated lists, a
    score in [-1, 1], a known topic list that is never empty)."""

    def items(values: list[str], limit: int = MAX_ITEM_CHARS) -> list[str]:
        kept: list[str] = []
        for value in values:
            value = _cut(" ".join(value.split()), limit)
            if value and value not in kept:
                kept.append(value)
        return kept[:MAX_ITEMS]

    topics = list(dict.fromkeys(analysis.topics))[:MAX_ITEMS] or ["other"]
    if len(topics) > 1 and "other" in topics:
        topics.remove("other")
    signals: list[ChurnSignalFound] = []
    for signal in analysis.churn_signals:
        evidence = _cut(" ".join(signal.evidence.split()), MAX_EVIDENCE_CHARS)
        found = ChurnSignalFound(kind=signal.kind, evidence=evidence)
        if found not in signals:
            signals.append(found)
    score = analysis.sentiment_score
    return ConversationAnalysis(
        summary=_cut(analysis.summary.strip(), MAX_SUMMARY_CHARS),
        conversation_language=_cut(analysis.conversation_language.strip().lower(), 8) or "und",
        sentiment_label=analysis.sentiment_label,
        sentiment_score=max(-1.0, min(1.0, score)) if score == score else 0.0,  # NaN -> 0
        topics=topics,
        tags=items([t.lower() for t in analysis.tags], MAX_TAG_CHARS),
        goals=items(analysis.goals),
        follow_ups=items(analysis.follow_ups),
        churn_signals=signals[:MAX_ITEMS],
        member_satisfied=analysis.member_satisfied,
    )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
