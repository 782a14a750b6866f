"""ISO weeks in a gym's own time zone: Monday 00:00 to the next Monday 00:00, local time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Week:
    start: date  # a Monday
    timezone: str

    @classmethod
    def of(cls, iso_week: str, timezone: str) -> Week:
        year, _, number = iso_week.partition("-W")
        return cls(date.fromisocalendar(int(year), int(number), 1), timezone)

    @classmethod
    def ended_before(cls, instant: datetime, timezone: str) -> Week:
        """The last complete week before `instant`, in that time zone."""
        local = instant.astimezone(ZoneInfo(timezone)).date()
        return cls(local - timedelta(days=local.weekday() + 7), timezone)

    @property
    def iso(self) -> str:
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(7)]

    @property
    def end(self) -> date:
        """The Monday after: the week is [start, end)."""
        return self.start + timedelta(days=7)

    def instant(self, day: date) -> datetime:
        """Local midnight of `day` as an aware instant (DST-correct)."""
        return datetime.combine(day, time(), ZoneInfo(self.timezone))

    @property
    def previous(self) -> Week:
        return Week(self.start - timedelta(days=7), self.timezone)
