"""Wall times to instants in Paris around the 2026 daylight-saving changes."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jarvis_common.local_time import to_instant, wall_of

PARIS = ZoneInfo("Europe/Paris")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("wall", "instant"),
    [
        (datetime(2026, 3, 29, 1, 59, 59), utc(2026, 3, 29, 0, 59, 59)),  # last second of CET
        # 29 March, 02:00 CET -> 03:00 CEST: every wall time of the gap is its end, 01:00 UTC
        (datetime(2026, 3, 29, 2, 0), utc(2026, 3, 29, 1)),
        (datetime(2026, 3, 29, 2, 0, 1), utc(2026, 3, 29, 1)),
        (datetime(2026, 3, 29, 2, 30), utc(2026, 3, 29, 1)),
        (datetime(2026, 3, 29, 2, 59, 59), utc(2026, 3, 29, 1)),
        (datetime(2026, 3, 29, 3, 0), utc(2026, 3, 29, 1)),  # the end itself exists
        (datetime(2026, 3, 29, 3, 0, 1), utc(2026, 3, 29, 1, 0, 1)),
    ],
)
def test_a_wall_time_in_the_spring_gap_is_the_end_of_the_gap(
    wall: datetime, instant: datetime
) -> None:
    assert to_instant(wall, PARIS) == instant


@pytest.mark.parametrize(
    ("wall", "instant"),
    [
        (datetime(2026, 10, 25, 1, 59, 59), utc(2026, 10, 24, 23, 59, 59)),
        # 25 October, 03:00 CEST -> 02:00 CET: 02:00-02:59:59 happen twice; the first (CEST) wins
        (datetime(2026, 10, 25, 2, 0), utc(2026, 10, 25, 0, 0)),
        (datetime(2026, 10, 25, 2, 30), utc(2026, 10, 25, 0, 30)),
        (datetime(2026, 10, 25, 2, 59, 59), utc(2026, 10, 25, 0, 59, 59)),
        (datetime(2026, 10, 25, 3, 0), utc(2026, 10, 25, 2, 0)),  # once, in CET
    ],
)
def test_a_repeated_wall_time_in_autumn_is_its_first_occurrence(
    wall: datetime, instant: datetime
) -> None:
    assert to_instant(wall, PARIS) == instant


def test_instants_are_in_utc_and_read_back_as_their_wall_time() -> None:
    ordinary = datetime(2026, 11, 24, 2, 0)
    instant = to_instant(ordinary, PARIS)
    assert instant.tzinfo is UTC
    assert instant == utc(2026, 11, 24, 1)
    assert wall_of(instant, PARIS) == ordinary
    # The second occurrence of the repeated hour reads back as the same wall time, one hour on.
    second = to_instant(datetime(2026, 10, 25, 2, 30), PARIS) + timedelta(hours=1)
    assert wall_of(second, PARIS) == datetime(2026, 10, 25, 2, 30)
