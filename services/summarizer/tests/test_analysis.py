"""The pieces without infrastructure: masking, the transcript budget, the offline analysis,
the bounds on what a model may write, and pricing."""

from __future__ import annotations

import uuid
from decimal import Decimal

from summarizer.analysis import (
    MAX_EVIDENCE_CHARS,
    MAX_ITEMS,
    MAX_SUMMARY_CHARS,
    ChurnSignalFound,
    ConversationAnalysis,
    bounded,
)
from summarizer.conversation import Conversation, Turn, render
from summarizer.offline.analyser import analyse
from summarizer.pricing import call_cost, price_for
from summarizer.redaction import mask
from summarizer.settings import DEFAULT_PRICES


def conversation(*lines: str, language: str = "fr") -> Conversation:
    turns = tuple(
        Turn("member" if i % 2 == 0 else "assistant", mask(t)) for i, t in enumerate(lines)
    )
    return Conversation(uuid.uuid4(), turns, language)  # type: ignore[arg-type]


def test_phone_numbers_emails_and_cards_are_masked_but_times_prices_and_dates_are_not() -> None:
    assert mask("Appelez le 06 12 34 56 78 ou le +33 6 12 34 56 78") == (
        "Appelez le [phone] ou le [phone]"
    )
    assert mask("call (555) 123-4567") == "call [phone]"
    assert mask("écrivez à jean.dupont+gym@mail.example.fr") == "écrivez à [email]"
    assert mask("carte 4970 1012 3456 7890, ou 4111-1111-1111-1111") == "carte [card], ou [card]"
    kept = "de 9 h à 19 h, 45 euros par mois, le 12/03/2025, badge 12345678"
    assert mask(kept) == kept


def test_a_long_transcript_keeps_its_beginning_and_end_within_the_budget() -> None:
    lines = ["FIRST"] + [f"ligne numéro {i} du milieu de la conversation" for i in range(5000)]
    lines.append("LAST")
    text = render(conversation(*lines), budget_chars=5000)
    assert len(text) <= 5000
    assert text.startswith("Member: FIRST") and text.endswith("LAST")
    assert "turns omitted for length" in text
    huge = render(conversation("x" * 100_000), budget_chars=8000)
    assert len(huge) < 8000 and "[...]" in huge


def test_the_offline_analysis_is_deterministic_and_finds_french_churn_signals() -> None:
    talk = conversation(
        "Bonjour. Je vais résilier, les machines sont toujours en panne.",
        "Je suis désolé.",
        "Et c'est hors de prix.",
    )
    first, second = analyse(talk), analyse(talk)
    assert first == second
    kinds = [s.kind for s in first.churn_signals]
    assert kinds == ["intent_to_cancel", "complaint", "price_concern"]
    assert first.churn_signals[2].evidence == "Et c'est hors de prix."
    assert "equipment" in first.topics and first.sentiment_label == "negative"
    assert first.conversation_language == "fr"


def test_the_offline_analysis_reads_english_in_a_french_gym_and_writes_in_french() -> None:
    result = analyse(conversation("Hello, I want to cancel my membership, it's too expensive."))
    assert result.conversation_language == "en"
    assert "Conversation en anglais" in result.summary
    assert result.summary.startswith("Le membre a parlé de")
    assert {s.kind for s in result.churn_signals} == {"intent_to_cancel", "price_concern"}


def test_negation_turns_praise_into_displeasure() -> None:
    assert analyse(conversation("Je ne suis pas content du tout.")).sentiment_score < 0
    assert analyse(conversation("Merci, c'est parfait !")).sentiment_label == "positive"
    assert analyse(conversation("Pas de problème, merci.")).sentiment_score > 0


def test_whatever_a_model_writes_the_analysis_stays_small() -> None:
    wild = ConversationAnalysis(
        summary="s" * 50_000,
        conversation_language="FR ",
        sentiment_label="positive",
        sentiment_score=7.5,
        topics=["other", "pricing", "pricing"],
        tags=["Yoga"] * 3 + [f"tag{i}" for i in range(50)],
        goals=["g" * 5000],
        follow_ups=[f"call {i}" for i in range(50)],
        churn_signals=[ChurnSignalFound(kind="complaint", evidence="e" * 5000)] * 20,
        member_satisfied=None,
    )
    small = bounded(wild)
    assert len(small.summary) == MAX_SUMMARY_CHARS
    assert small.sentiment_score == 1.0 and small.conversation_language == "fr"
    assert small.topics == ["pricing"]
    assert small.tags[0] == "yoga" and len(small.tags) == MAX_ITEMS
    assert len(small.follow_ups) == MAX_ITEMS
    assert len(small.churn_signals) == 1
    assert len(small.churn_signals[0].evidence) == MAX_EVIDENCE_CHARS
    assert len(small.model_dump_json()) < 8 * 1024


def test_a_dated_model_is_priced_as_its_family() -> None:
    assert price_for("gpt-4.1-mini-2025-04-14", DEFAULT_PRICES) == DEFAULT_PRICES["gpt-4.1-mini"]
    assert price_for("gpt-4.1-2025-04-14", DEFAULT_PRICES) == DEFAULT_PRICES["gpt-4.1"]
    assert price_for("llama-3", DEFAULT_PRICES) is None
    cost = call_cost(
        DEFAULT_PRICES["gpt-4o-mini"], input_tokens=1_000, cached_input_tokens=0, output_tokens=500
    )
    assert cost == Decimal("0.000450")
