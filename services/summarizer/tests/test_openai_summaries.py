"""The OpenAI provider, driven through the real `openai` SDK against the local fake server, in
the running service on the real broker and database."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

from jarvis_common.settings import PlatformSettings
from jarvis_common.testing.fake_openai import FakeOpenAI, HttpUsage, Reply
from jarvis_common.testing.waiting import wait_for
from summarizer.bootstrap import bootstrap


async def test_a_closed_session_becomes_a_stored_structured_summary(
    closed_session,
    analysis_reply,
    platform_settings,
    openai_settings,
    fake_openai: FakeOpenAI,
    kafka_io,
    store,
) -> None:
    fake_openai.http.queue(
        Reply.structured(
            analysis_reply(
                summary="Le membre veut résilier : il trouve l'abonnement trop cher.",
                sentiment_label="negative",
                sentiment_score=-0.7,
                topics=["cancellation", "pricing"],
                tags=["Tarif", "tarif", "résiliation"],
                goals=["Perdre 5 kg"],
                follow_ups=["Rappeler le membre"],
                churn_signals=[
                    {"kind": "intent_to_cancel", "evidence": "Je veux résilier."},
                    {"kind": "price_concern", "evidence": "C'est trop cher."},
                ],
                member_satisfied=False,
            ),
            usage=HttpUsage(prompt_tokens=900, completion_tokens=80, cached_tokens=100),
        )
    )
    closed = closed_session(
        "Je veux résilier. C'est trop cher. Appelez-moi au 06 12 34 56 78 ou écrivez à "
        "marie.dupont@example.fr, ma carte est la 4970 1012 3456 7890.",
        "Je transmets votre demande.",
    )
    app = bootstrap(platform_settings, openai_settings())
    async with app.running():
        await kafka_io.publish(closed)
        [row] = await store.wait_summaries(1)
        announced = await wait_for(store.announced, message="summary.created in the outbox")

    [request] = fake_openai.http.requests
    assert request.endpoint == "chat.completions"
    assert request.model == "gpt-4.1-mini"
    assert request.json_schema is not None and request.json_schema["strict"] is True
    assert "churn_signals" in json.dumps(request.json_schema["schema"])
    assert "written in French" in request.text
    # Personal data never leaves the platform.
    assert "06 12 34 56 78" not in request.text and "marie.dupont" not in request.text
    assert "4970" not in request.text
    assert "[phone]" in request.text and "[email]" in request.text and "[card]" in request.text

    assert row["summary"] == "Le membre veut résilier : il trouve l'abonnement trop cher."
    assert row["sentiment_label"] == "negative" and row["sentiment_score"] == -0.7
    assert row["topics"] == ["cancellation", "pricing"]
    assert row["tags"] == ["tarif", "résiliation"]  # lower-cased, deduplicated
    assert row["goals"] == ["Perdre 5 kg"]
    assert json.loads(row["churn_signals"]) == [
        {"kind": "intent_to_cancel", "evidence": "Je veux résilier."},
        {"kind": "price_concern", "evidence": "C'est trop cher."},
    ]
    assert row["member_satisfied"] is False
    assert (row["provider"], row["model"]) == ("openai", "gpt-4.1-mini")
    assert (row["input_tokens"], row["cached_input_tokens"], row["output_tokens"]) == (900, 100, 80)
    # 800 uncached x 0.40 + 100 cached x 0.10 + 80 out x 1.60, per million tokens.
    assert row["cost_usd"] == Decimal("0.000458")
    assert (row["gym_id"], row["member_id"], row["kiosk_id"]) == (
        closed.gym_id,
        closed.member_id,
        closed.kiosk_id,
    )
    assert row["summary_language"] == "fr" and row["session_ended_at"] == closed.ended_at

    [event] = announced
    assert event["key"] == str(closed.session_id)
    assert event["gym_id"] == str(closed.gym_id)
    data = event["data"]
    assert data["cost_usd"] == "0.000458"
    assert data["churn_signals"][0] == {"kind": "intent_to_cancel", "evidence": "Je veux résilier."}
    assert data["member_satisfied"] is False and data["model"] == "gpt-4.1-mini"
    assert len(json.dumps(event).encode()) < 8 * 1024


async def test_an_english_gym_gets_its_summary_asked_in_english(
    closed_session,
    analysis_reply,
    platform_settings,
    openai_settings,
    fake_openai: FakeOpenAI,
    kafka_io,
    store,
) -> None:
    app = bootstrap(platform_settings, openai_settings())
    async with app.running():
        await kafka_io.publish(closed_session("What time do you open?", language="en"))
        await store.wait_summaries(1)
    assert "written in English" in fake_openai.http.requests[0].text


async def test_a_session_in_which_the_member_said_nothing_is_summarised_offline_at_no_cost(
    closed_session,
    analysis_reply,
    platform_settings,
    openai_settings,
    fake_openai: FakeOpenAI,
    kafka_io,
    store,
) -> None:
    fake_openai.http.default_reply = Reply.structured(analysis_reply())
    silent, spoken = closed_session(language="fr"), closed_session("Horaires ?")
    app = bootstrap(platform_settings, openai_settings())
    async with app.running():
        await kafka_io.publish(silent, spoken)
        await store.wait_summaries(2)
    assert len(fake_openai.http.requests) == 1  # the spoken session's alone
    row = await store.summary(silent.session_id)
    assert (row["provider"], row["model"]) == ("offline", "jarvis-offline-v1")
    assert row["summary"] == "Le membre n'a rien dit." and row["cost_usd"] == 0
    assert (await store.summary(spoken.session_id))["provider"] == "openai"


async def test_a_rate_limit_and_a_server_error_are_retried_without_redoing_the_others(
    caplog,
    closed_session,
    analysis_reply,
    platform_settings,
    openai_settings,
    fake_openai: FakeOpenAI,
    kafka_io,
    store,
) -> None:
    """Three sessions land in one consumed batch; the model rate-limits one and fails another
    with a 500. Those two are retried through the retry topic; the third is not asked again."""
    first_time = {"LIMITED": Reply.rate_limited(retry_after=0.01), "BROKEN": Reply.server_error()}

    def responder(request):
        for marker in list(first_time):
            if marker in request.text:
                return first_time.pop(marker)
        return None

    fake_openai.http.responder = responder
    caplog.set_level(logging.WARNING, "jarvis_common.messaging.consumer")
    sessions = [
        closed_session(f"Question {m} sur les horaires ?") for m in ("LIMITED", "BROKEN", "FINE")
    ]
    await kafka_io.publish(*sessions)  # before the start: one batch
    app = bootstrap(platform_settings, openai_settings())
    async with app.running():
        rows = await store.wait_summaries(3)
        await wait_for(lambda: len(fake_openai.http.requests) >= 5, message="5 requests")
        announced = await wait_for(
            lambda: _at_least(store.announced(), 3), message="3 summary.created"
        )

    assert {r["session_id"] for r in rows} == {s.session_id for s in sessions}
    asked = [r.text for r in fake_openai.http.requests]
    assert sum("LIMITED" in t for t in asked) == 2
    assert sum("BROKEN" in t for t in asked) == 2
    assert sum("FINE" in t for t in asked) == 1
    statuses = sorted(r.status for r in fake_openai.http.requests)
    assert statuses == [200, 200, 200, 429, 500]
    # The SDK did not retry by itself (max_retries=0): the platform's retry topic did.
    assert all(r.retry_count == 0 for r in fake_openai.http.requests)
    assert len(announced) == 3
    # They were one batch, replayed one by one after the two failures.
    assert "batch failed; applying its events one by one" in caplog.text
    assert len(app.http.state.summarizer.pending) == 0


async def _at_least(rows_coro, count):
    rows = await rows_coro
    return rows if len(rows) >= count else None


async def test_a_model_call_that_times_out_is_retried(
    closed_session,
    analysis_reply,
    platform_settings,
    openai_settings,
    fake_openai: FakeOpenAI,
    kafka_io,
    store,
) -> None:
    fake_openai.http.queue(Reply.structured(analysis_reply()).after(10))
    app = bootstrap(platform_settings, openai_settings(openai_timeout_s=0.5))
    async with app.running():
        await kafka_io.publish(closed_session("Le sauna est ouvert le dimanche ?"))
        [row] = await store.wait_summaries(1)
    first, second = fake_openai.http.requests
    assert first.client_disconnected and second.status == 200
    assert row["summary"] == "Le membre a demandé les horaires."


async def test_a_malformed_answer_is_asked_again_once(
    closed_session,
    analysis_reply,
    platform_settings,
    openai_settings,
    fake_openai: FakeOpenAI,
    kafka_io,
    store,
) -> None:
    fake_openai.http.queue(Reply.malformed(), Reply.structured(analysis_reply()))
    app = bootstrap(platform_settings, openai_settings())
    async with app.running():
        await kafka_io.publish(closed_session("Combien coûte l'abonnement ?"))
        [row] = await store.wait_summaries(1)
    assert len(fake_openai.http.requests) == 2
    assert row["summary"] == "Le membre a demandé les horaires."


async def test_an_answer_malformed_twice_is_dead_lettered_with_the_reason(
    closed_session,
    analysis_reply,
    platform_settings,
    openai_settings,
    fake_openai: FakeOpenAI,
    kafka_io,
    store,
) -> None:
    fake_openai.http.queue(Reply.malformed(), Reply.truncated(), Reply.malformed())
    app = bootstrap(platform_settings, openai_settings())
    async with app.running():
        [event] = await kafka_io.publish(closed_session("Combien coûte l'abonnement ?"))
        [dead] = await kafka_io.read("session.closed.dlq", 1)
    headers = {k: v.decode() for k, v in dead.headers}
    assert headers["x-error-type"] == "PermanentError"
    assert "the model answered badly twice" in headers["x-error"]
    assert json.loads(dead.value)["id"] == str(event.id)
    assert await store.summaries() == []
    # Malformed, then malformed again: two requests, no platform retry.
    assert len(fake_openai.http.requests) == 2


async def test_no_quota_is_dead_lettered_at_once_with_the_reason(
    closed_session,
    analysis_reply,
    platform_settings,
    openai_settings,
    fake_openai: FakeOpenAI,
    kafka_io,
    store,
) -> None:
    fake_openai.http.default_reply = Reply.quota_exceeded()
    app = bootstrap(platform_settings, openai_settings())
    async with app.running():
        await kafka_io.publish(closed_session("Bonjour, je voudrais un coach."))
        [dead] = await kafka_io.read("session.closed.dlq", 1)
    headers = {k: v.decode() for k, v in dead.headers}
    assert headers["x-error-type"] == "PermanentError"
    assert "insufficient_quota" in headers["x-error"]
    assert headers["x-attempt"] == "1"
    assert len(fake_openai.http.requests) == 1
    assert await store.summaries() == []


async def test_a_batch_left_with_one_new_event_that_fails_calls_the_model_once(
    closed_session,
    analysis_reply,
    platform_settings,
    openai_settings,
    fake_openai: FakeOpenAI,
    kafka_io,
    store,
) -> None:
    """A batch whose other events were already processed: the handler gets one new event, which
    fails. The consumer then applies the batch one event at a time; that pass must take the
    failure back, not ask the model again."""
    from jarvis_common.events import new_event

    done = new_event(closed_session("Horaires du samedi ?"), source="session-gateway")
    fake_openai.http.queue(Reply.structured(analysis_reply()))
    async with bootstrap(platform_settings, openai_settings()).running():
        await kafka_io.publish(done)
        await wait_for(lambda: _equals(store.processed(), 1), message="the first one processed")
    fake_openai.http.default_reply = Reply.quota_exceeded()
    failing = closed_session("Bonjour, je voudrais un coach.")
    await kafka_io.publish(done, failing)  # a redelivery and a new one: one batch
    app = bootstrap(platform_settings, openai_settings())
    async with app.running():
        [dead] = await kafka_io.read("session.closed.dlq", 1)
    headers = {k: v.decode() for k, v in dead.headers}
    assert "insufficient_quota" in headers["x-error"]
    assert headers["x-attempt"] == "1"
    assert len(fake_openai.http.requests) == 2  # the first session, then the failing one once
    assert [r["session_id"] for r in await store.summaries()] == [done.data.session_id]
    assert len(app.http.state.summarizer.pending) == 0


async def test_duplicate_session_closed_events_call_the_model_once(
    closed_session,
    analysis_reply,
    platform_settings: PlatformSettings,
    openai_settings,
    fake_openai: FakeOpenAI,
    kafka_io,
    store,
) -> None:
    from jarvis_common.events import new_event

    closed = closed_session("Horaires du samedi ?")
    once = new_event(closed, source="session-gateway")
    again = new_event(closed, source="session-gateway")  # the gateway announced it twice
    app = bootstrap(platform_settings, openai_settings())
    async with app.running():
        await kafka_io.publish(once, once, again)
        await wait_for(lambda: _equals(store.processed(), 2), message="both ids processed")
        await kafka_io.publish(again)  # a late redelivery
        await wait_for(
            lambda: (
                app.metrics.events_consumed.labels("session.closed", "duplicate")._value.get() >= 2
            ),
            message="the redeliveries seen as duplicates",
        )
        rows = await store.summaries()
        announced = await store.announced()
    assert len(fake_openai.http.requests) == 1
    assert [r["session_id"] for r in rows] == [closed.session_id]
    assert [a["key"] for a in announced] == [str(closed.session_id)]


async def _equals(value_coro, expected):
    return await value_coro == expected


async def test_a_very_long_transcript_is_summarised_within_the_budget(
    closed_session,
    analysis_reply,
    platform_settings,
    openai_settings,
    fake_openai: FakeOpenAI,
    kafka_io,
    store,
) -> None:
    lines = [f"Tour {i} : je parle encore du planning des cours de yoga." for i in range(3000)]
    lines[0] = "OUVERTURE je veux résilier"
    lines[-2] = "CONCLUSION merci"
    app = bootstrap(platform_settings, openai_settings(max_transcript_chars=20_000))
    async with app.running():
        await kafka_io.publish(closed_session(*lines))
        await store.wait_summaries(1)
    text = fake_openai.http.requests[0].text
    assert len(text) < 24_000
    assert "OUVERTURE" in text and "CONCLUSION" in text and "turns omitted for length" in text


async def test_model_calls_of_a_batch_run_at_once_within_the_limit(
    closed_session,
    analysis_reply,
    platform_settings,
    openai_settings,
    fake_openai: FakeOpenAI,
    kafka_io,
    store,
) -> None:
    fake_openai.http.default_reply = Reply.structured(analysis_reply()).after(1.0)
    await kafka_io.publish(*(closed_session(f"Question {i} ?") for i in range(6)))
    app = bootstrap(platform_settings, openai_settings(max_concurrent_calls=3))
    async with app.running():
        await store.wait_summaries(6)
    started = sorted(r.received_at for r in fake_openai.http.requests)
    assert len(started) == 6
    # Three at once (one after the other, each would start a second after the previous), and
    # never a fourth before one of them has answered.
    assert started[2] - started[0] < 0.9
    assert started[3] - started[0] >= 0.95
