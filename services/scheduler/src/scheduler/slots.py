"""When a schedule fires: cron in local wall time, mapped to instants by hand.

croniter walks naive wall-clock times; `to_instant` turns each into one instant of the
schedule's time zone. Daylight saving makes that mapping partial:

- a wall time that does not exist (the spring-forward gap: 02:30 on 29 March 2026 in Paris)
  fires at the first valid instant after it, the end of the gap (03:00 CEST);
- a wall time that occurs twice (the fall-back fold: 02:30 on 25 October 2026 in Paris) fires
  once, at its first occurrence (02:30 CEST).

Several wall times of one gap map to the same instant (an every-30-minutes job at 02:00 and
02:30); a schedule fires at most once per instant, so they are one slot.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

# The tick id is the job and the slot in the schedule's local time with its offset, to the second.
TICK_ID_SEPARATOR = "@"


def to_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant (in UTC) at which the naive local wall time `wall` fires in `zone`.

    Instants are kept in UTC: an aware datetime in the repeated hour never compares equal to
    one in another zone (PEP 495), so local ones would make `==` lie."""
    first = wall.replace(tzinfo=zone, fold=0)
    if _wall_of(first, zone) == wall:
        # It exists; if it is ambiguous, fold=0 is its first occurrence.
        return first.astimezone(UTC)
    # In a gap. fold=0 reads it with the offset before the transition, fold=1 with the one
    # after; the transition instant lies between the two readings. Gaps are whole seconds.
    low = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = first.astimezone(UTC)
    if low > high:
        low, high = high, low
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if _wall_of(middle, zone) < wall:
            low = middle
        else:
            high = middle
    transition = high.replace(microsecond=0)
    if _wall_of(transition - timedelta(seconds=1), zone) >= wall:
        transition -= timedelta(seconds=1)
    return transition


def _wall_of(instant: datetime, zone: ZoneInfo) -> datetime:
    # Through UTC: astimezone() to the instant's own zone would return it unchanged, gap or not.
    return instant.astimezone(UTC).astimezone(zone).replace(tzinfo=None)


def slots_after(cron: str, zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """The schedule's slots strictly after the instant `after`, in order, without end."""
    walls = croniter(cron, _wall_of(after, zone))
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
    walls = croniter(cron, _wall_of(at, zone) + timedelta(seconds=1))
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
    walls = croniter(cron, _wall_of(around, zone))
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
