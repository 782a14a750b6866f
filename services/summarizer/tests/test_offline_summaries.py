"""The offline provider in the running service: what `make run` does without an API key."""

from __future__ import annotations

import json

from jarvis_common.events import new_event
from jarvis_common.testing.waiting import wait_for
from summarizer.bootstrap import bootstrap
from summarizer.settings import Settings


async def test_french_and_english_sessions_are_summarised_offline_in_the_gyms_language(
    platform_settings, offline_settings, closed_session, kafka_io, store
) -> None:
    leaving = closed_session(
        "Bonjour. Je veux résilier mon abonnement, c'est trop cher depuis l'augmentation.",
        "Je comprends, je transmets.",
        "Et les douches sont toujours sales, c'est inadmissible. Rappelez-moi au 06 12 34 56 78.",
    )
    english = closed_session(
        "I want to lose weight. Do you have a personal trainer?",
        "Yes, our coaches can help.",
        "Great, thanks a lot!",
        language="en",
    )
    silent = closed_session(language="fr")
    app = bootstrap(platform_settings, offline_settings)
    async with app.running():
        await kafka_io.publish(leaving, english, silent)
        await store.wait_summaries(3)
        announced = await wait_for(lambda: _at_least(store.announced(), 3), message="3 events")

    row = await store.summary(leaving.session_id)
    assert row["provider"] == "offline" and row["model"] == "jarvis-offline-v1"
    assert row["summary"].startswith("Le membre a parlé de")
    assert "Je veux résilier mon abonnement" in row["summary"]
    assert row["sentiment_label"] == "negative" and row["sentiment_score"] < -0.5
    assert {"cancellation", "pricing", "complaint", "facilities"} <= set(row["topics"])
    signals = json.loads(row["churn_signals"])
    assert [s["kind"] for s in signals] == ["intent_to_cancel", "price_concern", "complaint"]
    assert signals[2]["evidence"] == "Et les douches sont toujours sales, c'est inadmissible."
    assert row["member_satisfied"] is False
    assert "Rappeler le membre au sujet de sa demande de résiliation" in row["follow_ups"]
    assert "06 12 34 56 78" not in json.dumps(dict(row), default=str)
    assert (row["cost_usd"], row["input_tokens"]) == (0, 0)

    row = await store.summary(english.session_id)
    assert row["summary"].startswith("The member talked about")
    assert row["language"] == "en" and row["summary_language"] == "en"
    assert row["goals"] == ["Lose weight"]
    assert "personal_training" in row["topics"]
    assert row["member_satisfied"] is True and row["sentiment_label"] == "positive"

    row = await store.summary(silent.session_id)
    assert row["summary"] == "Le membre n'a rien dit."
    assert row["topics"] == ["other"] and row["sentiment_label"] == "neutral"

    by_session = {a["key"]: a["data"] for a in announced}
    data = by_session[str(leaving.session_id)]
    assert data["churn_signals"][0]["kind"] == "intent_to_cancel"
    assert data["model"] == "jarvis-offline-v1" and data["cost_usd"] == "0"


async def _at_least(rows_coro, count):
    rows = await rows_coro
    return rows if len(rows) >= count else None


async def test_a_session_announced_twice_and_redelivered_gives_one_summary(
    platform_settings, offline_settings, closed_session, kafka_io, store
) -> None:
    closed = closed_session("Horaires ?")
    first = new_event(closed, source="session-gateway")
    second = new_event(closed, source="session-gateway")
    app = bootstrap(platform_settings, offline_settings)
    async with app.running():
        await kafka_io.publish(first, first, second)
        await wait_for(lambda: _count_is(store.processed(), 2), message="both event ids")
        rows = await store.summaries()
        announced = await store.announced()
    assert [r["session_id"] for r in rows] == [closed.session_id]
    assert [a["key"] for a in announced] == [str(closed.session_id)]


async def _count_is(value_coro, expected):
    return await value_coro == expected


def test_without_a_key_the_offline_provider_is_chosen(monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("JARVIS_SUMMARIZER_OPENAI_API_KEY", raising=False)
    assert not Settings(_env_file=None).uses_openai
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    settings = Settings(_env_file=None)
    assert settings.uses_openai
    assert settings.openai_api_key.get_secret_value() == "sk-from-the-environment"
    assert not Settings(_env_file=None, provider="offline").uses_openai
