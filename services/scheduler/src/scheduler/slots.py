"""When a schedule fires: cron in local wall time, mapped to instants by hand.

croniter walks naive wall-clock times; `to_instant` (in `jarvis_common.local_time`, shared with
the churn engine, which must find the same slots) turns each into one instant of the schedule's
time zone. Daylight saving makes that mapping partial:

- a wall time that does not exist (the spring-forward gap: 02:30 on 29 March 2026 in Paris)
  fires at the first valid instant after it, the end of the gap (03:00 CEST);
- a wall time that occurs twice (the fall-back fold: 02:30 on 25 October 2026 in Paris) fires
  once, at its first occurrence (02:30 CEST).

Several wall times of one gap map to the same instant (an every-30-minutes job at 02:00 and
02:30); a schedule fires at most once per instant, so they are one slot.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from jarvis_common.local_time import to_instant, wall_of

# The tick id is the job and the slot in the schedule's local time with its offset, to the second.
TICK_ID_SEPARATOR = "@"


def slots_after(cron: str, zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """The schedule's slots strictly after the instant `after`, in order, without end."""
    walls = croniter(cron, wall_of(after, zone))
    last = after
    while True:
        slot = to_instant(walls.get_next(datetime), zone)
        # Gap wall times collapse onto one instant, and a start inside the fall-back fold sees
        # wall times whose first occurrence is already past: neither is a new slot.
        if slot > last:
            last = slot
            yield slot


def slots_between(
    cron: str, zone: ZoneInfo, after: datetime, until: datetime
) -> Iterator[datetime]:
    """The slots in (after, until]."""
    for slot in slots_after(cron, zone, after):
        if slot > until:
            return
        yield slot


def latest_slot(cron: str, zone: ZoneInfo, at: datetime) -> datetime:
    """The last slot at or before the instant `at`."""
    walls = croniter(cron, wall_of(at, zone) + timedelta(seconds=1))
    latest = to_instant(walls.get_prev(datetime), zone)
    while latest > at:
        latest = to_instant(walls.get_prev(datetime), zone)
    # Inside the fall-back fold the previous wall time is not always the previous slot: the
    # first occurrence of a later wall time may already be past.
    for slot in slots_after(cron, zone, latest):
        if slot > at:
            break
        latest = slot
    return latest


def cadence(cron: str, zone: ZoneInfo, around: datetime) -> timedelta:
    """The schedule's period: the longest gap between consecutive wall times over the following
    weeks, in wall time, so a daily job is 24 h even across a daylight-saving change."""
    walls = croniter(cron, wall_of(around, zone))
    previous = walls.get_next(datetime)
    longest = timedelta(0)
    for _ in range(8):
        current = walls.get_next(datetime)
        longest = max(longest, current - previous)
        previous = current
    return longest


def tick_id(job: str, slot: datetime, zone: ZoneInfo) -> str:
    """`<job>@<slot in local time, ISO 8601 to the second, with its offset>`, e.g.
    `churn_risk@2026-11-24T02:00:00+01:00`."""
    return f"{job}{TICK_ID_SEPARATOR}{slot.astimezone(zone).isoformat(timespec='seconds')}"
