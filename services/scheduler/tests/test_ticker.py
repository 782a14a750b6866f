"""The scheduling loop on the real database and broker, driven by a manual clock: two replicas,
downtime across slots, both daylight-saving days. Ticks are read back from the broker."""

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from jarvis_common.settings import PlatformSettings, plain_dsn
from jarvis_common.testing.waiting import wait_for
from scheduler.clock import ManualClock

PARIS = ZoneInfo("Europe/Paris")
DAILY_0200 = {"cron": "0 2 * * *"}


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ids(events) -> list[str]:
    return [e.data.tick_id for e in events]


def metric(app, name: str, **labels: str) -> float | None:
    return app.metrics.registry.get_sample_value(f"jarvis_scheduler_{name}", labels)


async def test_two_replicas_publish_each_slot_once(
    replicas, published_ticks, scheduler_settings
) -> None:
    settings = scheduler_settings(churn_risk=DAILY_0200, churn_alerts={"cron": "0 3 * * *"})
    clock = ManualClock(paris(2026, 11, 23, 12))
    first, second = await replicas.start(settings, clock, count=2)

    for instant in (
        paris(2026, 11, 24, 2),
        paris(2026, 11, 24, 3),
        paris(2026, 11, 25, 2, 0, 1),
        paris(2026, 11, 25, 12),  # 03:00 passed while both were asleep until it
    ):
        await replicas.advance(instant)

    events = await published_ticks()
    assert sorted(ids(events)) == sorted(
        [
            "churn_risk@2026-11-24T02:00:00+01:00",
            "churn_alerts@2026-11-24T03:00:00+01:00",
            "churn_risk@2026-11-25T02:00:00+01:00",
            "churn_alerts@2026-11-25T03:00:00+01:00",
        ]
    )
    risk = [e for e in events if e.data.job == "churn_risk"]
    assert [e.data.slot for e in risk] == [utc(2026, 11, 24, 1), utc(2026, 11, 25, 1)]
    assert {(e.subject, e.data.timezone, e.data.late, e.source) for e in risk} == {
        ("churn_risk", "Europe/Paris", False, "scheduler")
    }
    # Both replicas show the last slot, whichever of them published it.
    for app in (first, second):
        assert metric(app, "last_slot_timestamp_seconds", job="churn_risk") == (
            utc(2026, 11, 25, 1).timestamp()
        )
    published = [
        metric(app, "ticks_total", job="churn_risk", origin="schedule", late="false") or 0
        for app in (first, second)
    ]
    assert sum(published) == 2
    transport = httpx.ASGITransport(app=second.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://scheduler") as client:
        exposed = (await client.get("/metrics")).text
    (line,) = [
        line
        for line in exposed.splitlines()
        if line.startswith('jarvis_scheduler_last_slot_timestamp_seconds{job="churn_alerts"}')
    ]
    assert float(line.split()[-1]) == paris(2026, 11, 25, 3).timestamp()


async def test_a_first_start_publishes_nothing_from_before_it(
    replicas, published_ticks, scheduler_settings, platform_settings: PlatformSettings
) -> None:
    settings = scheduler_settings(churn_risk=DAILY_0200, weekly_report={"cron": "0 8 * * 1"})
    (app,) = await replicas.start(settings, ManualClock(paris(2026, 11, 24, 12)))
    assert await published_ticks() == []
    assert metric(app, "skipped_slots_total", job="churn_risk") is None
    conn = await asyncpg.connect(plain_dsn(platform_settings.database_url))
    try:
        rows = await conn.fetch("SELECT job, first_seen_at, last_slot FROM scheduler.schedules")
    finally:
        await conn.close()
    assert {(r["job"], r["first_seen_at"], r["last_slot"]) for r in rows} == {
        ("churn_risk", paris(2026, 11, 24, 12), None),
        ("weekly_report", paris(2026, 11, 24, 12), None),
    }


async def test_slots_missed_while_down_are_caught_up_late_in_order_and_older_ones_counted(
    replicas, published_ticks, scheduler_settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="scheduler")
    settings = scheduler_settings(churn_risk=DAILY_0200, weekly_report={"cron": "0 8 * * 1"})
    clock = ManualClock(paris(2026, 11, 2, 12))  # a Monday, after its 08:00
    (app,) = await replicas.start(settings, clock)
    await replicas.advance(paris(2026, 11, 3, 2))
    await replicas.stop(app)

    # Down for ten days, back on Friday 13 November at noon.
    await clock.set(paris(2026, 11, 13, 12))
    (app,) = await replicas.start(settings, clock)

    events = await published_ticks()
    risk = [(e.data.tick_id, e.data.late) for e in events if e.data.job == "churn_risk"]
    assert risk == [
        ("churn_risk@2026-11-03T02:00:00+01:00", False),
        # 36 hours back from noon on the 13th: the 12th and the 13th.
        ("churn_risk@2026-11-12T02:00:00+01:00", True),
        ("churn_risk@2026-11-13T02:00:00+01:00", True),
    ]
    weekly = [(e.data.tick_id, e.data.late) for e in events if e.data.job == "weekly_report"]
    assert weekly == [("weekly_report@2026-11-09T08:00:00+01:00", True)]

    # 4 to 11 November: older than the window, never published, but counted and logged.
    assert metric(app, "skipped_slots_total", job="churn_risk") == 8
    assert metric(app, "skipped_slots_total", job="weekly_report") is None
    assert metric(app, "ticks_total", job="churn_risk", origin="schedule", late="true") == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "8 missed slot(s)" in m
        and "churn_risk@2026-11-04T02:00:00+01:00" in m
        and "churn_risk@2026-11-11T02:00:00+01:00" in m
        for m in warnings
    ), warnings

    # Back on time afterwards.
    await replicas.advance(paris(2026, 11, 14, 2))
    last = [e for e in await published_ticks() if e.data.job == "churn_risk"][-1]
    assert (last.data.tick_id, last.data.late) == ("churn_risk@2026-11-14T02:00:00+01:00", False)


SPRING_FORWARD = (
    paris(2026, 3, 28, 12),
    [
        (utc(2026, 3, 29, 0, 59, 59), []),  # 01:59:59 CET: nothing yet
        (
            utc(2026, 3, 29, 1),  # 03:00 CEST: 02:00 and 02:30 did not exist
            ["at_0200@2026-03-29T03:00:00+02:00", "at_0230@2026-03-29T03:00:00+02:00"],
        ),
        (utc(2026, 3, 29, 10), []),
        (utc(2026, 3, 30, 0), ["at_0200@2026-03-30T02:00:00+02:00"]),
        (utc(2026, 3, 30, 0, 30), ["at_0230@2026-03-30T02:30:00+02:00"]),
    ],
)
FALL_BACK = (
    paris(2026, 10, 24, 12),
    [
        (utc(2026, 10, 25, 0), ["at_0200@2026-10-25T02:00:00+02:00"]),  # first 02:00
        (utc(2026, 10, 25, 0, 30), ["at_0230@2026-10-25T02:30:00+02:00"]),  # first 02:30
        (utc(2026, 10, 25, 1), []),  # 02:00 CET, the second time
        (utc(2026, 10, 25, 1, 30), []),  # 02:30 CET, the second time
        (utc(2026, 10, 25, 12), []),
        (utc(2026, 10, 26, 1), ["at_0200@2026-10-26T02:00:00+01:00"]),
        (utc(2026, 10, 26, 1, 30), ["at_0230@2026-10-26T02:30:00+01:00"]),
    ],
)


@pytest.mark.parametrize(("start", "steps"), [SPRING_FORWARD, FALL_BACK], ids=["spring", "autumn"])
async def test_daylight_saving_days(
    replicas, published_ticks, scheduler_settings, start, steps
) -> None:
    settings = scheduler_settings(at_0200=DAILY_0200, at_0230={"cron": "30 2 * * *"})
    await replicas.start(settings, ManualClock(start))
    seen: list[str] = []
    for instant, expected in steps:
        await replicas.advance(instant)
        events = await published_ticks()
        new = [e for e in events if e.data.tick_id not in seen]
        assert sorted(ids(new)) == expected, instant
        assert all(e.data.slot == instant and not e.data.late for e in new)
        seen = ids(events)
    assert len(seen) == len(set(seen)) == sum(len(expected) for _, expected in steps)


async def test_a_schedule_in_another_time_zone_fires_in_its_own_wall_time(
    replicas, published_ticks, scheduler_settings
) -> None:
    settings = scheduler_settings(reports_ny={"cron": "0 8 * * 1", "timezone": "America/New_York"})
    await replicas.start(settings, ManualClock(paris(2026, 11, 24, 12)))  # a Tuesday
    await replicas.advance(utc(2026, 11, 30, 13))  # Monday 08:00 in New York (EST)
    (event,) = await published_ticks()
    assert event.data.tick_id == "reports_ny@2026-11-30T08:00:00-05:00"
    assert event.data.timezone == "America/New_York"
    assert event.data.slot == utc(2026, 11, 30, 13)


async def test_a_round_that_fails_is_counted_and_retried_and_the_slot_still_published(
    replicas, published_ticks, scheduler_settings, platform_settings: PlatformSettings
) -> None:
    settings = scheduler_settings(churn_risk=DAILY_0200)
    clock = ManualClock(paris(2026, 11, 23, 12))
    (app,) = await replicas.start(settings, clock)
    conn = await asyncpg.connect(plain_dsn(platform_settings.database_url))
    try:
        # The schedule's table gone from under the replica: every round fails.
        await conn.execute("ALTER TABLE scheduler.schedules RENAME TO schedules_away")
        await clock.set(paris(2026, 11, 24, 2))
        await wait_for(
            lambda: (metric(app, "round_failures_total") or 0) >= 2, message="failed rounds"
        )
        assert await published_ticks() == []
        await conn.execute("ALTER TABLE scheduler.schedules_away RENAME TO schedules")
    finally:
        await conn.close()
    await replicas.settled()
    assert [(e.data.tick_id, e.data.late) for e in await published_ticks()] == [
        ("churn_risk@2026-11-24T02:00:00+01:00", False)
    ]
