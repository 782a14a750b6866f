"""The unit of work: one transaction, committed at the boundary.

Routes and message handlers receive a unit of work; services and repositories use its session
and only flush. Events a handler wants to publish are written to the outbox in the same
transaction, just before it commits, so nothing is published for work that was rolled back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jarvis_common.events import Envelope, EventData, new_event
from jarvis_common.messaging.tables import MessagingTables


class UnitOfWork:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        messaging: MessagingTables,
        *,
        source: str,
        trace_id: str | None = None,
        after_outbox_commit: Callable[[], None] | None = None,
    ):
        self._sessionmaker = sessionmaker
        self._after_outbox_commit = after_outbox_commit
        self._messaging = messaging
        self.source = source
        self.trace_id = trace_id
        self._pending: list[Envelope[Any]] = []
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is not open")
        return self._session

    async def driver_connection(self) -> asyncpg.Connection:
        """The asyncpg connection under this unit of work, inside its transaction: for COPY,
        cursors and set-based SQL without SQLAlchemy's per-row processing. What runs on it is
        committed or rolled back with the session's own statements."""
        connection = await self.session.connection()
        driver: asyncpg.Connection = (await connection.get_raw_connection()).driver_connection
        if not driver.is_in_transaction():
            # The asyncpg dialect sends BEGIN lazily, with the first statement SQLAlchemy runs
            # (session.begin() and session.connection() send nothing); until then raw statements
            # would autocommit, beyond the reach of rollback. BEGIN must come from SQLAlchemy, not
            # be sent raw, or its commit and rollback would not know there is a transaction to end.
            await self.session.execute(text("SELECT 1"))
        return driver

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._sessionmaker()
        await self._session.begin()
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                await self.commit()
            else:
                await self.rollback()
        finally:
            await self.session.close()
            self._session = None

    def publish(
        self,
        data: EventData,
        *,
        gym_id: uuid.UUID | None = None,
        franchise_id: uuid.UUID | None = None,
    ) -> Envelope[Any]:
        """Record an event to be published once this unit of work commits."""
        event = new_event(
            data,
            source=self.source,
            gym_id=gym_id,
            franchise_id=franchise_id,
            trace_id=self.trace_id,
        )
        self._pending.append(event)
        return event

    async def commit(self) -> None:
        published = bool(self._pending)
        if published:
            await self._messaging.add_to_outbox(self.session, self._pending)
            self._pending.clear()
        await self.session.commit()
        if published and self._after_outbox_commit is not None:
            self._after_outbox_commit()

    async def rollback(self) -> None:
        self._pending.clear()
        await self.session.rollback()
