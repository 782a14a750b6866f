"""Local wall-clock times of a time zone mapped to instants, across daylight-saving changes.

Schedules are written in a zone's wall time (02:00 in Paris), but a wall time is not always one
instant:

- one that does not exist (the spring-forward gap: 02:30 on 29 March 2026 in Paris) is taken as
  the first valid instant after it, the end of the gap (03:00 CEST);
- one that occurs twice (the fall-back fold: 02:30 on 25 October 2026 in Paris) is taken at its
  first occurrence (02:30 CEST).

The scheduler fires its slots by this rule and the churn engine finds a day's scoring slot by
it, so both must share one implementation: a slot computed differently is a different tick.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


def to_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant (in UTC) at which the naive local wall time `wall` happens in `zone`.

    Instants are kept in UTC: an aware datetime in the repeated hour never compares equal to
    one in another zone (PEP 495), so local ones would make `==` lie."""
    first = wall.replace(tzinfo=zone, fold=0)
    if wall_of(first, zone) == wall:
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
        if wall_of(middle, zone) < wall:
            low = middle
        else:
            high = middle
    transition = high.replace(microsecond=0)
    if wall_of(transition - timedelta(seconds=1), zone) >= wall:
        transition -= timedelta(seconds=1)
    return transition


def wall_of(instant: datetime, zone: ZoneInfo) -> datetime:
    """The naive wall time in `zone` of the aware `instant`."""
    # Through UTC: astimezone() to the instant's own zone would return it unchanged, gap or not.
    return instant.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
