"""One scheduling round for one schedule: publish every slot that is due, once.

A round locks the schedule's row, so replicas take turns; under the lock it reads how far the
schedule has got (`last_slot`), publishes the slots since then up to now, and moves `last_slot`
to the newest of them, all in one transaction. The replica that comes second finds nothing left.

Where counting starts: after `last_slot`; for a schedule with no history, after the moment a
replica first saw it (`first_seen_at`), so deploying the scheduler or adding a schedule never
publishes slots from before it existed.

Missed slots (no replica ran at their time) are published late, oldest first, while they are
within the schedule's catch-up window; older ones are skipped: counted and logged, never
published. The operator can still publish one by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from jarvis_common.db import UnitOfWork
from scheduler.schedules import Schedule
from scheduler.tables import schedules
from scheduler.tick_log import RecordedTick, last_published_slot, record_tick

# Counting skipped slots one by one is bounded: a per-minute schedule down for a year would
# otherwise walk half a million slots. Past this, the count is a lower bound.
MAX_SKIPPED_COUNTED = 10_000
# Turns "at or after the window's start" into the "after" that slot ranges take.
_TINY = timedelta(microseconds=1)


@dataclass
class RoundResult:
    published: list[RecordedTick] = field(default_factory=list)
    skipped: int = 0
    skipped_more: bool = False  # more than `skipped` were skipped
    first_skipped: datetime | None = None
    last_skipped: datetime | None = None
    last_published: datetime | None = None


async def register(uow: UnitOfWork, schedule: Schedule, now: datetime) -> None:
    """Make sure the schedule has its row; a new one starts counting at `now`."""
    await uow.session.execute(
        insert(schedules)
        .values(job=schedule.job, cron=schedule.cron, timezone=schedule.timezone, first_seen_at=now)
        .on_conflict_do_update(
            index_elements=[schedules.c.job],
            set_={"cron": schedule.cron, "timezone": schedule.timezone},
        )
    )


async def publish_due(
    uow: UnitOfWork, schedule: Schedule, *, now: datetime, late_after: timedelta
) -> RoundResult:
    row = (
        await uow.session.execute(
            select(schedules.c.first_seen_at, schedules.c.last_slot)
            .where(schedules.c.job == schedule.job)
            .with_for_update()
        )
    ).one()
    start = row.last_slot or row.first_seen_at
    oldest_due = now - schedule.catch_up
    result = RoundResult()
    newest: datetime | None = None

    for slot in schedule.slots_between(start, oldest_due - _TINY):
        newest = slot
        result.skipped += 1
        result.first_skipped = result.first_skipped or slot
        result.last_skipped = slot
        if result.skipped >= MAX_SKIPPED_COUNTED:
            result.skipped_more = True
            break

    for slot in schedule.slots_between(max(start, oldest_due - _TINY), now):
        newest = slot
        tick = await record_tick(
            uow, schedule, slot, now=now, late_after=late_after, origin="schedule"
        )
        if tick is not None:
            result.published.append(tick)

    if newest is not None:
        await uow.session.execute(
            update(schedules).where(schedules.c.job == schedule.job).values(last_slot=newest)
        )
    result.last_published = await last_published_slot(uow, schedule.job)
    return result
