"""Engine and session factory for one service."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from jarvis_common.db.uow import UnitOfWork
from jarvis_common.messaging.tables import MessagingTables


class Database:
    def __init__(
        self, url: str, *, schema: str, messaging: MessagingTables, source: str, pool_size: int = 10
    ):
        self.schema = schema
        self.source = source
        self.messaging = messaging
        # Called after a unit of work commits outbox rows: the service wakes its relay with it,
        # so its own events leave at once; the relay's poll is for other replicas' rows.
        self.outbox_listener: Callable[[], None] | None = None
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            # Search the service's own schema first so hand-written SQL stays unqualified. UTC, so
            # date and interval arithmetic in SQL never depends on the server's time zone.
            connect_args={
                "server_settings": {"search_path": f"{schema},public", "timezone": "UTC"}
            },
        )
        # expire_on_commit=False: objects stay readable after the boundary commits, instead of
        # lazily reloading (which async SQLAlchemy cannot do).
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    def unit_of_work(self, *, trace_id: str | None = None) -> UnitOfWork:
        return UnitOfWork(
            self.sessionmaker,
            self.messaging,
            source=self.source,
            trace_id=trace_id,
            after_outbox_commit=self._outbox_committed,
        )

    def _outbox_committed(self) -> None:
        if self.outbox_listener is not None:
            self.outbox_listener()

    def session(self) -> AsyncSession:
        return self.sessionmaker()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
