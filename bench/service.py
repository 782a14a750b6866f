"""The service the pipeline benchmark drives: the real infrastructure, a trivial domain.

Like the test probe it consumes `member.checked_in` and its handler inserts one `effects` row per
event, in the transaction that also records the event as processed. It lives in its own schema,
`bench`, in a database the benchmark creates and throws away.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Identity, String, Table, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import registry

from jarvis_common.db import UnitOfWork, service_metadata
from jarvis_common.events import Envelope
from jarvis_common.events.catalogue import MemberCheckedIn
from jarvis_common.messaging.tables import MessagingTables
from jarvis_common.service import ServiceApp, ServiceDefinition
from jarvis_common.settings import PlatformSettings

SCHEMA = "bench"
TOPIC = MemberCheckedIn.event_type
metadata = service_metadata(SCHEMA)
messaging = MessagingTables(metadata)
effects = Table(
    "effects",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("member_id", String(64), nullable=False),
    Column("applied_at", DateTime(timezone=True), server_default=func.now()),
)


class Effect:
    """The ORM form of an effects row, for the `orm` handler: added rows are flushed together."""

    def __init__(self, event_id: uuid.UUID, member_id: str):
        self.event_id = event_id
        self.member_id = member_id


registry().map_imperatively(Effect, effects)

HANDLERS = ("batch", "row", "orm")

# Ids that make the envelope realistic: one franchise, a handful of gyms.
FRANCHISE_ID = uuid.UUID(int=7)
GYM_IDS = [uuid.UUID(int=100 + i) for i in range(8)]
CLASSES = ["Body Pump 18:30", "Yoga 07:00", "Cross Training 12:15", None]


class HandlerClock:
    """Time spent inside the handler (the per-event INSERT), summed over the run."""

    def __init__(self) -> None:
        self.calls = 0
        self.seconds = 0.0

    def reset(self) -> None:
        self.calls = 0
        self.seconds = 0.0


def bootstrap(
    platform: PlatformSettings, clock: HandlerClock | None = None, handler: str = "batch", **_: Any
) -> ServiceApp:
    """`handler="batch"`: a batch handler (`on_batch`) inserting the batch's rows in one
    executemany, the way throughput paths are written.

    `handler="row"`: one INSERT statement per event, as the probe and most handlers do.

    `handler="orm"`: the handler only adds an ORM object to the session; SQLAlchemy flushes
    all of a batch's rows at commit as one multi-row INSERT (insertmanyvalues).
    """
    clock = clock or HandlerClock()
    app = ServiceApp(BENCH, platform, port=0)
    if handler not in HANDLERS:
        raise ValueError(f"handler must be one of {HANDLERS}")

    if handler == "batch":

        @app.handlers.on_batch(MemberCheckedIn, name="record_effect")
        async def record_effects(events: list[Envelope[Any]], uow: UnitOfWork) -> None:
            started = time.perf_counter()
            await uow.session.execute(
                effects.insert(),
                [{"event_id": e.id, "member_id": str(e.data.member_id)} for e in events],
            )
            clock.calls += len(events)
            clock.seconds += time.perf_counter() - started

    elif handler == "row":

        @app.handlers.on(MemberCheckedIn, name="record_effect")
        async def record_effect(event: Envelope[Any], uow: UnitOfWork) -> None:
            started = time.perf_counter()
            await uow.session.execute(
                effects.insert().values(event_id=event.id, member_id=str(event.data.member_id))
            )
            clock.calls += 1
            clock.seconds += time.perf_counter() - started

    else:

        @app.handlers.on(MemberCheckedIn, name="record_effect")
        async def record_effect_orm(event: Envelope[Any], uow: UnitOfWork) -> None:
            started = time.perf_counter()
            uow.session.add(Effect(event_id=event.id, member_id=str(event.data.member_id)))
            clock.calls += 1
            clock.seconds += time.perf_counter() - started

    return app


BENCH = ServiceDefinition(
    name="bench",
    schema=SCHEMA,
    default_port=0,
    metadata=metadata,
    messaging=messaging,
    migrations_dir=Path(__file__).parent,
    bootstrap=bootstrap,
    description="Benchmark service: one effects row per member.checked_in event.",
)


async def create_schema(database_url: str) -> None:
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        await conn.run_sync(metadata.create_all)
    await engine.dispose()


def checked_in(i: int) -> MemberCheckedIn:
    return MemberCheckedIn(
        member_id=uuid.uuid4(),
        gym_id=GYM_IDS[i % len(GYM_IDS)],
        checked_in_at=datetime.now(UTC),
        group_class=CLASSES[i % len(CLASSES)],
    )
