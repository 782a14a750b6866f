"""When schedules fire: cron in local wall time, daylight-saving days, tick ids, windows."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from scheduler.schedules import default_catch_up
from scheduler.settings import Settings
from scheduler.slots import latest_slot, slots_between, tick_id, to_instant

PARIS = ZoneInfo("Europe/Paris")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fired(cron: str, after: datetime, until: datetime) -> list[str]:
    return [tick_id("job", slot, PARIS) for slot in slots_between(cron, PARIS, after, until)]


# Around 29 March 2026 (02:00 CET -> 03:00 CEST) and 25 October 2026 (03:00 CEST -> 02:00 CET).
SPRING = (utc(2026, 3, 28, 12), utc(2026, 3, 30, 12))
AUTUMN = (utc(2026, 10, 24, 12), utc(2026, 10, 26, 12))


def test_on_the_spring_forward_day_a_missing_time_fires_at_the_end_of_the_gap() -> None:
    # 02:00 and 02:30 do not exist on 29 March: both fire at 03:00 CEST, once.
    assert fired("30 2 * * *", *SPRING) == [
        "job@2026-03-29T03:00:00+02:00",
        "job@2026-03-30T02:30:00+02:00",
    ]
    assert fired("0 2 * * *", *SPRING) == [
        "job@2026-03-29T03:00:00+02:00",
        "job@2026-03-30T02:00:00+02:00",
    ]
    assert to_instant(datetime(2026, 3, 29, 2, 30), PARIS) == utc(2026, 3, 29, 1)
    assert to_instant(datetime(2026, 3, 29, 2, 59, 59), PARIS) == utc(2026, 3, 29, 1)


def test_on_the_fall_back_day_a_repeated_time_fires_once_at_its_first_occurrence() -> None:
    assert fired("30 2 * * *", *AUTUMN) == [
        "job@2026-10-25T02:30:00+02:00",
        "job@2026-10-26T02:30:00+01:00",
    ]
    assert fired("0 2 * * *", *AUTUMN) == [
        "job@2026-10-25T02:00:00+02:00",
        "job@2026-10-26T02:00:00+01:00",
    ]
    slots = list(slots_between("30 2 * * *", PARIS, *AUTUMN))
    assert slots[0] == utc(2026, 10, 25, 0, 30)


def test_several_missing_times_are_one_slot_and_the_repeated_hour_fires_once() -> None:
    spring = fired("*/30 1-4 * * *", utc(2026, 3, 28, 23), utc(2026, 3, 29, 2, 30))
    assert spring == [
        "job@2026-03-29T01:00:00+01:00",
        "job@2026-03-29T01:30:00+01:00",
        "job@2026-03-29T03:00:00+02:00",  # 02:00, 02:30 and 03:00 itself
        "job@2026-03-29T03:30:00+02:00",
        "job@2026-03-29T04:00:00+02:00",
        "job@2026-03-29T04:30:00+02:00",
    ]
    autumn = fired("*/30 1-3 * * *", utc(2026, 10, 24, 22), utc(2026, 10, 25, 3))
    assert autumn == [
        "job@2026-10-25T01:00:00+02:00",
        "job@2026-10-25T01:30:00+02:00",
        "job@2026-10-25T02:00:00+02:00",
        "job@2026-10-25T02:30:00+02:00",
        "job@2026-10-25T03:00:00+01:00",  # 02:00 and 02:30 CET are not fired again
        "job@2026-10-25T03:30:00+01:00",
    ]


def test_counting_from_inside_the_repeated_hour_fires_nothing_already_past() -> None:
    # 02:10 CET is the second 02:10; 02:30 CEST was 40 minutes before it.
    second_0210 = utc(2026, 10, 25, 1, 10)
    assert fired("30 2 * * *", second_0210, utc(2026, 10, 26, 12)) == [
        "job@2026-10-26T02:30:00+01:00"
    ]
    assert latest_slot("30 2 * * *", PARIS, second_0210) == utc(2026, 10, 25, 0, 30)


def test_a_tick_id_is_the_job_and_the_slot_in_local_time_with_its_offset() -> None:
    assert (
        tick_id("churn_risk", utc(2026, 11, 24, 1), PARIS) == "churn_risk@2026-11-24T02:00:00+01:00"
    )
    assert (
        tick_id("churn_risk", utc(2026, 6, 1, 0), PARIS) == "churn_risk@2026-06-01T02:00:00+02:00"
    )


def test_the_catch_up_window_follows_the_cadence() -> None:
    # Measured in wall time: a week with a daylight-saving change is still daily.
    around = utc(2026, 10, 22)
    assert default_catch_up("0 2 * * *", PARIS, around) == timedelta(hours=36)
    assert default_catch_up("0 * * * *", PARIS, around) == timedelta(hours=36)
    assert default_catch_up("0 8 * * 1", PARIS, around) == timedelta(days=8)


def test_the_defaults_are_the_three_agreed_jobs() -> None:
    settings = Settings(_env_file=None)
    assert {job: c.cron for job, c in settings.schedules.items()} == {
        "churn_risk": "0 2 * * *",
        "churn_alerts": "0 3 * * *",
        "weekly_report": "0 8 * * 1",
    }


@pytest.mark.parametrize(
    ("schedules", "message"),
    [
        ({"churn_risk": {"cron": "0 25 * * *"}}, "not a five-field cron expression"),
        ({"churn_risk": {"cron": "0 0 2 * * *"}}, "not a five-field cron expression"),
        ({"churn_risk": {"cron": "0 2 * * *", "timezone": "Europe/Pariss"}}, "IANA time zone"),
        ({"Churn Risk": {"cron": "0 2 * * *"}}, "job name"),
        ({"churn_risk": {"cron": "0 2 * * *", "catch_up_hours": 0}}, "greater than 0"),
        ({"churn_risk": {"cron": "0 2 * * *", "every": "day"}}, "Extra inputs"),
    ],
)
def test_a_bad_schedule_is_refused_at_start_up(schedules: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(_env_file=None, schedules=schedules)
