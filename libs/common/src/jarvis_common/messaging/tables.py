"""The two tables every service's schema carries for reliable messaging.

`outbox`: events written in the same transaction as the change they describe; the relay
publishes them in `id` order and stamps `published_at`. Published rows are kept for the
retention period so they can be republished to a broker that lost them.

`processed_events`: the ids of events a handler has applied, written in the handler's own
transaction, so a redelivered event has no second effect.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
    insert,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from jarvis_common.errors import AppError, PermanentError
from jarvis_common.events import Envelope

# The broker refuses messages over 1 MiB (aiokafka's max_request_size); an outbox row the relay
# could never publish would hold back every row behind it, so it is refused when written.
MAX_EVENT_BYTES = 900 * 1024


class EventTooLarge(AppError, PermanentError):
    status_code = 413
    code = "event_too_large"


class MessagingTables:
    def __init__(self, metadata: MetaData):
        self.outbox = Table(
            "outbox",
            metadata,
            Column("id", BigInteger, Identity(always=False), primary_key=True),
            Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
            Column("topic", String(200), nullable=False),
            Column("key", String(200), nullable=False),
            Column("payload", Text, nullable=False),
            Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
            Column(
                "created_at", DateTime(timezone=True), nullable=False, server_default=func.now()
            ),
            Column("published_at", DateTime(timezone=True)),
            # The relay's hot query: the oldest unpublished rows.
            Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
            Index("ix_outbox_published_at", "published_at"),
        )
        self.processed_events = Table(
            "processed_events",
            metadata,
            Column("handler", String(200), nullable=False),
            Column("event_id", UUID(as_uuid=True), nullable=False),
            Column("topic", String(200), nullable=False),
            Column(
                "processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()
            ),
            PrimaryKeyConstraint("handler", "event_id"),
            Index("ix_processed_events_processed_at", "processed_at"),
        )

    @staticmethod
    def _qualified(table: Table) -> str:
        return f"{table.schema}.{table.name}" if table.schema else table.name

    async def add_to_outbox(self, session: AsyncSession, events: Sequence[Envelope[Any]]) -> None:
        payloads = [e.model_dump_json() for e in events]
        for event, payload in zip(events, payloads, strict=True):
            if len(payload.encode()) > MAX_EVENT_BYTES:
                raise EventTooLarge(
                    f"{event.type} {event.subject} would be {len(payload.encode())} bytes; "
                    f"events are at most {MAX_EVENT_BYTES}"
                )
        await session.execute(
            insert(self.outbox),
            [
                {
                    "event_id": e.id,
                    "topic": e.type,
                    "key": e.subject,
                    "payload": payload,
                    "headers": {
                        "event-type": e.type,
                        "event-version": str(e.version),
                        "event-id": str(e.id),
                        "trace-id": e.trace_id,
                        "content-type": "application/json",
                    },
                }
                for e, payload in zip(events, payloads, strict=True)
            ],
        )

    async def claim(
        self, session: AsyncSession, handler: str, topic: str, event_ids: Iterable[uuid.UUID]
    ) -> set[uuid.UUID]:
        """Record `event_ids` as processed by `handler`; return those not processed before."""
        ids = list(dict.fromkeys(event_ids))
        if not ids:
            return set()
        stmt = text(
            f"INSERT INTO {self._qualified(self.processed_events)} (handler, event_id, topic) "
            "SELECT :handler, unnest(CAST(:ids AS uuid[])), :topic "
            "ON CONFLICT DO NOTHING RETURNING event_id"
        )
        result = await session.execute(stmt, {"ids": ids, "handler": handler, "topic": topic})
        return set(result.scalars())
