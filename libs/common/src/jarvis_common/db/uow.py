"""The unit of work: one transaction, committed at the boundary.

Routes and message handlers receive a unit of work; services and repositories use its session
and only flush. Events a handler wants to publish are written to the outbox in the same
transaction, just before it commits, so nothing is published for work that was rolled back.
"""

from __future__ import annotations

import uuid
from typing import Any

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
    ):
        self._sessionmaker = sessionmaker
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
        if self._pending:
            await self._messaging.add_to_outbox(self.session, self._pending)
            self._pending.clear()
        await self.session.commit()

    async def rollback(self) -> None:
        self._pending.clear()
        await self.session.rollback()
