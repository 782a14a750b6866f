"""Recording ticks: a row in the tick log and a `schedule.tick` in the outbox, one transaction.

The tick id is the tick log's primary key, so whoever records a slot first (a replica, another
replica, the operator) publishes it and everyone after them records and publishes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from jarvis_common.db import UnitOfWork
from jarvis_common.events.catalogue import ScheduleTicked
from scheduler.schedules import Schedule
from scheduler.tables import ticks

Origin = Literal["schedule", "operator"]
# A re-run by the operator: `<tick id>#rerun-<n>`, a tick id of its own.
RERUN_MARK = "#rerun-"


@dataclass(frozen=True)
class RecordedTick:
    tick_id: str
    slot: datetime
    late: bool
    event_id: uuid.UUID


async def record_tick(
    uow: UnitOfWork,
    schedule: Schedule,
    slot: datetime,
    *,
    now: datetime,
    late_after: timedelta,
    origin: Origin,
    tick_id: str | None = None,
) -> RecordedTick | None:
    """Record and publish the tick of `slot`; None if that tick id was recorded already."""
    tick_id = tick_id or schedule.tick_id(slot)
    late = now - slot > late_after
    inserted = await uow.session.scalar(
        insert(ticks)
        .values(
            tick_id=tick_id,
            job=schedule.job,
            slot=slot,
            late=late,
            origin=origin,
            recorded_at=now,
        )
        .on_conflict_do_nothing(index_elements=[ticks.c.tick_id])
        .returning(ticks.c.tick_id)
    )
    if inserted is None:
        return None
    event = uow.publish(
        ScheduleTicked(
            tick_id=tick_id,
            job=schedule.job,
            slot=slot.astimezone(UTC),
            timezone=schedule.timezone,
            late=late,
        )
    )
    return RecordedTick(tick_id, slot, late, event.id)


async def recorded(uow: UnitOfWork, tick_id: str) -> dict | None:
    row = (
        await uow.session.execute(
            select(ticks.c.origin, ticks.c.recorded_at, ticks.c.late).where(
                ticks.c.tick_id == tick_id
            )
        )
    ).first()
    return None if row is None else dict(row._mapping)


async def reruns_of(uow: UnitOfWork, tick_id: str) -> int:
    return await uow.session.scalar(
        select(func.count()).where(
            ticks.c.tick_id.startswith(tick_id + RERUN_MARK, autoescape=True)
        )
    )


async def last_published_slot(uow: UnitOfWork, job: str) -> datetime | None:
    return await uow.session.scalar(select(func.max(ticks.c.slot)).where(ticks.c.job == job))
