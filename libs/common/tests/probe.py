"""A minimal service built with the real infrastructure, for testing the infrastructure itself.

It consumes `member.checked_in` and records one `effects` row per applied event; tests
publish those events through its outbox. `Behaviour` lets a test make the handler fail or
block for chosen members: that is the outside world misbehaving, not a fake of our code.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Identity, String, Table, func, select
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import create_async_engine

from jarvis_common.db import UnitOfWork, service_metadata
from jarvis_common.errors import PermanentError
from jarvis_common.events import Envelope
from jarvis_common.events.catalogue import MemberCheckedIn
from jarvis_common.messaging.tables import MessagingTables
from jarvis_common.service import ServiceApp, ServiceDefinition
from jarvis_common.settings import PlatformSettings

SCHEMA = "probe"
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


@dataclass
class Behaviour:
    transient_failures: dict[uuid.UUID, int] = field(default_factory=dict)
    # Group classes whose booking system is down: events for them fail until it is back.
    outage: set[str] = field(default_factory=set)
    permanent: set[uuid.UUID] = field(default_factory=set)
    block: set[uuid.UUID] = field(default_factory=set)
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    calls: dict[uuid.UUID, int] = field(default_factory=dict)


def bootstrap(
    platform: PlatformSettings, behaviour: Behaviour | None = None, **_: Any
) -> ServiceApp:
    behaviour = behaviour or Behaviour()
    app = ServiceApp(PROBE, platform, port=0)

    @app.handlers.on(MemberCheckedIn, name="record_effect")
    async def record_effect(event: Envelope[Any], uow: UnitOfWork) -> None:
        member = event.data.member_id
        behaviour.calls[member] = behaviour.calls.get(member, 0) + 1
        if member in behaviour.block:
            behaviour.entered.set()
            await behaviour.release.wait()
        if member in behaviour.permanent:
            raise PermanentError(f"member {member} can never be applied")
        if event.data.group_class in behaviour.outage:
            raise ConnectionError(f"the booking system of {event.data.group_class} is down")
        if behaviour.transient_failures.get(member, 0) > 0:
            behaviour.transient_failures[member] -= 1
            raise ConnectionError(f"the outside world is down for {member}")
        await uow.session.execute(effects.insert().values(event_id=event.id, member_id=str(member)))

    return app


PROBE = ServiceDefinition(
    name="probe",
    schema=SCHEMA,
    default_port=0,
    metadata=metadata,
    messaging=messaging,
    migrations_dir=Path(__file__).parent,
    bootstrap=bootstrap,
)


async def create_probe_schema(database_url: str) -> None:
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        await conn.run_sync(metadata.create_all)
    await engine.dispose()


def checked_in(
    member_id: uuid.UUID | None = None, group_class: str | None = None
) -> MemberCheckedIn:
    return MemberCheckedIn(
        member_id=member_id or uuid.uuid4(),
        gym_id=uuid.UUID(int=1),
        checked_in_at=datetime.now(UTC),
        group_class=group_class,
    )


async def publish(app: ServiceApp, *events: MemberCheckedIn) -> list[Envelope[Any]]:
    async with app.db.unit_of_work() as uow:
        return [uow.publish(data, gym_id=data.gym_id) for data in events]


async def effect_rows(app: ServiceApp) -> list[Any]:
    async with app.db.session() as session:
        return list((await session.execute(select(effects).order_by(effects.c.seq))).mappings())
