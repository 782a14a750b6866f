"""The schedules the scheduler runs, resolved from settings.

The catch-up window is how far back a slot missed while no replica was running is still
published (late) on start. Unless configured it follows the cadence: 36 hours for schedules
that fire at least daily, the period plus one day beyond (8 days for a weekly one).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from scheduler import slots
from scheduler.settings import ScheduleConfig, Settings

DAY = timedelta(days=1)
DAILY_CATCH_UP = timedelta(hours=36)


@dataclass(frozen=True)
class Schedule:
    job: str
    cron: str
    zone: ZoneInfo
    catch_up: timedelta

    @property
    def timezone(self) -> str:
        return self.zone.key

    def slots_between(self, after: datetime, until: datetime) -> Iterator[datetime]:
        return slots.slots_between(self.cron, self.zone, after, until)

    def next_slot(self, after: datetime) -> datetime:
        return next(slots.slots_after(self.cron, self.zone, after))

    def latest_slot(self, at: datetime) -> datetime:
        return slots.latest_slot(self.cron, self.zone, at)

    def tick_id(self, slot: datetime) -> str:
        return slots.tick_id(self.job, slot, self.zone)

    def is_slot(self, instant: datetime) -> bool:
        return self.next_slot(instant - timedelta(microseconds=1)) == instant


def default_catch_up(cron: str, zone: ZoneInfo, now: datetime) -> timedelta:
    period = slots.cadence(cron, zone, now)
    return DAILY_CATCH_UP if period <= DAY else period + DAY


def resolve(settings: Settings, default_timezone: str, now: datetime) -> list[Schedule]:
    return [
        _resolve(job, config, default_timezone, now) for job, config in settings.schedules.items()
    ]


def _resolve(job: str, config: ScheduleConfig, default_timezone: str, now: datetime) -> Schedule:
    zone = ZoneInfo(config.timezone or default_timezone)
    catch_up = (
        timedelta(hours=config.catch_up_hours)
        if config.catch_up_hours is not None
        else default_catch_up(config.cron, zone, now)
    )
    return Schedule(job=job, cron=config.cron, zone=zone, catch_up=catch_up)
