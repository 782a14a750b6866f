"""Ticks published by hand by an operator, through the outbox like every other tick.

A slot has one tick id, whoever publishes it, so asking again for a slot already published is
refused: consumers would discard it as a duplicate anyway. `rerun=True` publishes it again under
a tick id of its own, `<tick id>#rerun-<n>`, which consumers treat as a new tick for that slot.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jarvis_common.db import Database
from jarvis_common.errors import AppError, Conflict
from jarvis_common.local_time import to_instant
from scheduler.schedules import Schedule
from scheduler.tick_log import RERUN_MARK, RecordedTick, record_tick, recorded, reruns_of


class InvalidSlot(AppError):
    status_code = 422
    code = "invalid_slot"


class AlreadyPublished(Conflict):
    pass


def parse_slot(schedule: Schedule, text: str) -> datetime:
    """An ISO 8601 date-time; without an offset it is wall time in the schedule's zone."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidSlot(f"{text!r} is not an ISO 8601 date-time") from exc
    if value.tzinfo is None:
        return to_instant(value, schedule.zone)
    return value.astimezone(UTC)


def check_slot(schedule: Schedule, slot: datetime, now: datetime) -> None:
    if slot > now:
        raise InvalidSlot(f"{schedule.tick_id(slot)} is in the future; only past slots are ticked")
    if not schedule.is_slot(slot):
        before = schedule.latest_slot(slot)
        after = schedule.next_slot(slot)
        local = slot.astimezone(schedule.zone).isoformat()
        raise InvalidSlot(
            f"{local} is not a slot of {schedule.job} ({schedule.cron!r} in "
            f"{schedule.timezone}); the nearest are {schedule.tick_id(before)} and "
            f"{schedule.tick_id(after)}"
        )


async def tick_by_hand(
    db: Database,
    schedule: Schedule,
    *,
    now: datetime,
    late_after: timedelta,
    slot: datetime | None = None,
    rerun: bool = False,
) -> RecordedTick:
    """Publish `slot` (by default the latest slot at `now`) by hand."""
    slot = slot if slot is not None else schedule.latest_slot(now)
    check_slot(schedule, slot, now)
    tick_id = schedule.tick_id(slot)
    async with db.unit_of_work() as uow:
        previous = await recorded(uow, tick_id)
        if rerun:
            if previous is None:
                raise Conflict(f"{tick_id} was never published: tick it without --rerun")
            tick_id = f"{tick_id}{RERUN_MARK}{await reruns_of(uow, tick_id) + 1}"
        elif previous is not None:
            raise AlreadyPublished(
                f"{tick_id} was published already ({previous['origin']}, at "
                f"{previous['recorded_at'].isoformat()}); consumers would ignore it as a "
                f"duplicate. --rerun publishes it again under a tick id of its own"
            )
        tick = await record_tick(
            uow, schedule, slot, now=now, late_after=late_after, origin="operator", tick_id=tick_id
        )
        if tick is None:  # someone else recorded it between the check and the insert
            raise AlreadyPublished(f"{tick_id} was published meanwhile; try again")
    return tick
