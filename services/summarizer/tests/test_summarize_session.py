"""Every closed session becomes exactly one stored summary and one `summary.created`."""

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from aiokafka import AIOKafkaProducer

from jarvis_common.events import new_event
from jarvis_common.events.catalogue import SessionClosed, TranscriptItem
from jarvis_common.settings import PlatformSettings, plain_dsn
from jarvis_common.testing.waiting import wait_for
from summarizer.bootstrap import bootstrap
from summarizer.summarize import summarize_text


def session_closed(session_id: uuid.UUID, *lines: str) -> SessionClosed:
    ended = datetime.now(UTC)
    return SessionClosed(
        session_id=session_id,
        kiosk_id=uuid.uuid4(),
        gym_id=uuid.uuid4(),
        started_at=ended - timedelta(minutes=1),
        ended_at=ended,
        end_reason="kiosk_ended",
        transcript=tuple(
            TranscriptItem(item_id=str(i), role="user" if i % 2 == 0 else "assistant", text=t)
            for i, t in enumerate(lines)
        ),
    )


def test_the_summary_keeps_what_the_member_opened_with() -> None:
    closed = session_closed(uuid.uuid4(), "Je veux résilier", "Pourquoi ?", "Trop cher")
    assert summarize_text(closed) == '2 member turn(s). The member opened with: "Je veux résilier"'
    assert summarize_text(session_closed(uuid.uuid4())) == "The member did not say anything."


async def test_two_session_closed_events_for_one_session_give_one_summary(
    platform_settings: PlatformSettings,
) -> None:
    session_id = uuid.uuid4()
    data = session_closed(session_id, "Horaires ?")
    # The same session announced twice under two event ids (a gateway retry), plus a redelivery.
    first, second = (
        new_event(data, source="session-gateway"),
        new_event(data, source="session-gateway"),
    )
    app = bootstrap(platform_settings)
    async with app.running():
        producer = AIOKafkaProducer(bootstrap_servers=platform_settings.kafka_bootstrap_servers)
        await producer.start()
        for event in (first, first, second):
            await producer.send_and_wait(
                "session.closed", event.to_json(), key=str(session_id).encode()
            )
        await producer.stop()

        conn = await asyncpg.connect(plain_dsn(platform_settings.database_url))
        try:

            async def handled_all() -> bool:
                return await conn.fetchval("SELECT count(*) FROM summarizer.processed_events") == 2

            await wait_for(handled_all, message="both event ids processed")
            summaries = await conn.fetch(
                "SELECT summary FROM summarizer.conversation_summaries WHERE session_id = $1",
                session_id,
            )
            announced = await conn.fetch(
                "SELECT key FROM summarizer.outbox WHERE topic = 'summary.created'"
            )
        finally:
            await conn.close()
    assert [s["summary"] for s in summaries] == [
        '1 member turn(s). The member opened with: "Horaires ?"'
    ]
    assert [a["key"] for a in announced] == [str(session_id)]
