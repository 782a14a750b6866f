"""What the summarizer's service tests share: closed sessions to publish, the service's
settings against the fake OpenAI server, and a look into the database and the DLQ."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from jarvis_common.events import Envelope, new_event
from jarvis_common.events.catalogue import SessionClosed, TranscriptItem
from jarvis_common.settings import PlatformSettings, plain_dsn
from jarvis_common.testing.fake_openai import FakeOpenAI, Reply
from jarvis_common.testing.topics import read_records
from jarvis_common.testing.waiting import wait_for
from summarizer.settings import Settings

GYM_ID = uuid.UUID(int=1)


def closed_session(*lines: str, language: str | None = "fr", **fields: Any) -> SessionClosed:
    """Lines alternate member / assistant, the member first."""
    ended = datetime.now(UTC)
    values: dict[str, Any] = {
        "session_id": uuid.uuid4(),
        "kiosk_id": uuid.uuid4(),
        "gym_id": GYM_ID,
        "member_id": uuid.uuid4(),
        "started_at": ended - timedelta(minutes=2),
        "ended_at": ended,
        "end_reason": "kiosk_ended",
        "language": language,
        "transcript": tuple(
            TranscriptItem(item_id=f"i{i}", role="user" if i % 2 == 0 else "assistant", text=t)
            for i, t in enumerate(lines)
        ),
    }
    return SessionClosed(**{**values, **fields})


def analysis_reply(summary: str = "Le membre a demandé les horaires.", **fields: Any) -> dict:
    return {
        "summary": summary,
        "conversation_language": "fr",
        "sentiment_label": "neutral",
        "sentiment_score": 0.1,
        "topics": ["schedule"],
        "tags": ["weekend"],
        "goals": [],
        "follow_ups": [],
        "churn_signals": [],
        "member_satisfied": True,
        **fields,
    }


@pytest.fixture(name="closed_session")
def closed_session_factory() -> Callable[..., SessionClosed]:
    return closed_session


@pytest.fixture(name="analysis_reply")
def analysis_reply_factory() -> Callable[..., dict]:
    return analysis_reply


@pytest.fixture
def openai_settings(fake_openai: FakeOpenAI) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "provider": "openai",
            "openai_api_key": "sk-fake-test-key",
            "openai_base_url": fake_openai.http_url,
            "model": "gpt-4.1-mini",
            "openai_timeout_s": 5.0,
            "port": 0,
        }
        return Settings(_env_file=None, **{**values, **overrides})

    fake_openai.http.default_reply = Reply.structured(analysis_reply())
    return make


@pytest.fixture
def offline_settings() -> Settings:
    return Settings(_env_file=None, provider="offline", port=0)


class Kafka:
    def __init__(self, settings: PlatformSettings):
        self.settings = settings
        self.servers = settings.kafka_bootstrap_servers

    async def publish(self, *items: SessionClosed | Envelope[Any]) -> list[Envelope[Any]]:
        events = [
            item if isinstance(item, Envelope) else new_event(item, source="session-gateway")
            for item in items
        ]
        producer = AIOKafkaProducer(bootstrap_servers=self.servers)
        await producer.start()
        try:
            for event in events:
                await producer.send_and_wait(
                    "session.closed", event.to_json(), key=event.subject.encode()
                )
        finally:
            await producer.stop()
        return events

    async def read(self, topic: str, count: int) -> list[Any]:
        return await read_records(self.settings, topic, at_least=count)


@pytest.fixture
def kafka_io(platform_settings: PlatformSettings) -> Kafka:
    return Kafka(platform_settings)


class Store:
    def __init__(self, conn: asyncpg.Connection):
        self.conn = conn

    async def summaries(self) -> list[asyncpg.Record]:
        return await self.conn.fetch(
            "SELECT * FROM summarizer.conversation_summaries ORDER BY created_at"
        )

    async def summary(self, session_id: uuid.UUID) -> asyncpg.Record | None:
        return await self.conn.fetchrow(
            "SELECT * FROM summarizer.conversation_summaries WHERE session_id = $1", session_id
        )

    async def wait_summaries(self, count: int, timeout: float = 30) -> list[asyncpg.Record]:
        async def stored() -> list[asyncpg.Record] | None:
            rows = await self.summaries()
            return rows if len(rows) >= count else None

        return await wait_for(stored, timeout=timeout, message=f"{count} summaries")

    async def announced(self) -> list[dict[str, Any]]:
        rows = await self.conn.fetch(
            "SELECT key, payload FROM summarizer.outbox WHERE topic = 'summary.created' ORDER BY id"
        )
        return [
            {"key": r["key"], **(json.loads(p) if isinstance(p := r["payload"], str) else p)}
            for r in rows
        ]

    async def processed(self) -> int:
        return await self.conn.fetchval("SELECT count(*) FROM summarizer.processed_events")


@pytest.fixture
async def store(platform_settings: PlatformSettings) -> AsyncIterator[Store]:
    conn = await asyncpg.connect(plain_dsn(platform_settings.database_url))
    try:
        yield Store(conn)
    finally:
        await conn.close()
