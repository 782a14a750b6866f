"""Ticks by hand: `scheduler tick <job> [--slot ISO] [--rerun]`, through the outbox."""

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from jarvis_common.settings import PlatformSettings, plain_dsn
from scheduler.cli import tick_command
from scheduler.clock import ManualClock
from scheduler.slots import latest_slot, tick_id

PARIS = ZoneInfo("Europe/Paris")
DAILY_0200 = {"cron": "0 2 * * *"}


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


async def tick_rows(platform: PlatformSettings) -> list[tuple[str, str, bool]]:
    conn = await asyncpg.connect(plain_dsn(platform.database_url))
    try:
        rows = await conn.fetch(
            "SELECT tick_id, origin, late FROM scheduler.ticks ORDER BY tick_id"
        )
    finally:
        await conn.close()
    return [(r["tick_id"], r["origin"], r["late"]) for r in rows]


async def test_the_operator_ticks_a_slot_once_and_reruns_it_under_ids_of_its_own(
    replicas, published_ticks, scheduler_settings, platform_settings, capsys
) -> None:
    settings = scheduler_settings(churn_risk=DAILY_0200)
    clock = ManualClock(paris(2026, 11, 23, 12))
    (app,) = await replicas.start(settings, clock)
    await replicas.advance(paris(2026, 11, 24, 2))
    await replicas.advance(paris(2026, 11, 24, 9))

    async def tick(job: str = "churn_risk", **options) -> int:
        return await tick_command(
            job, platform=platform_settings, settings=settings, now=clock.now(), **options
        )

    # The latest slot was published by the schedule: the same tick id again is refused.
    assert await tick() == 1
    err = capsys.readouterr().err
    assert "churn_risk@2026-11-24T02:00:00+01:00 was published already (schedule" in err
    assert "--rerun" in err

    assert await tick(rerun=True) == 0
    assert await tick(rerun=True) == 0
    out = capsys.readouterr().out
    assert "published churn_risk@2026-11-24T02:00:00+01:00#rerun-1" in out
    assert "published churn_risk@2026-11-24T02:00:00+01:00#rerun-2" in out

    # A slot from before the scheduler existed, given as wall time in the job's zone; it was
    # never published, so there is nothing to re-run.
    assert await tick(slot="2026-11-23T02:00", rerun=True) == 1
    assert "was never published: tick it without --rerun" in capsys.readouterr().err
    assert await tick(slot="2026-11-23T02:00") == 0
    assert "published churn_risk@2026-11-23T02:00:00+01:00" in capsys.readouterr().out

    for slot, message in [
        ("2026-11-23T02:15", "is not a slot of churn_risk"),
        ("2026-11-23T02:00Z", "is not a slot of churn_risk"),  # 03:00 in Paris
        ("2026-11-25T02:00", "is in the future"),
        ("yesterday", "is not an ISO 8601 date-time"),
    ]:
        assert await tick(slot=slot) == 1, slot
        assert message in capsys.readouterr().err, slot
    assert await tick("churn_alerts") == 2
    assert "no schedule 'churn_alerts'; configured: churn_risk" in capsys.readouterr().err

    await replicas.settled()
    assert sorted(e.data.tick_id for e in await published_ticks()) == [
        "churn_risk@2026-11-23T02:00:00+01:00",
        "churn_risk@2026-11-24T02:00:00+01:00",
        "churn_risk@2026-11-24T02:00:00+01:00#rerun-1",
        "churn_risk@2026-11-24T02:00:00+01:00#rerun-2",
    ]
    assert await tick_rows(platform_settings) == [
        ("churn_risk@2026-11-23T02:00:00+01:00", "operator", True),
        ("churn_risk@2026-11-24T02:00:00+01:00", "schedule", False),
        ("churn_risk@2026-11-24T02:00:00+01:00#rerun-1", "operator", True),
        ("churn_risk@2026-11-24T02:00:00+01:00#rerun-2", "operator", True),
    ]
    assert (
        app.metrics.registry.get_sample_value(
            "jarvis_scheduler_last_slot_timestamp_seconds", {"job": "churn_risk"}
        )
        == paris(2026, 11, 24, 2).timestamp()
    )


async def test_a_slot_the_operator_ticked_while_the_scheduler_was_down_is_not_caught_up_again(
    replicas, published_ticks, scheduler_settings, platform_settings, capsys
) -> None:
    settings = scheduler_settings(churn_risk=DAILY_0200)
    clock = ManualClock(paris(2026, 11, 23, 12))
    (app,) = await replicas.start(settings, clock)
    await replicas.stop(app)
    await clock.set(paris(2026, 11, 24, 9))

    code = await tick_command(
        "churn_risk", platform=platform_settings, settings=settings, now=clock.now(), wait=0
    )
    assert code == 0
    assert "is in the outbox; it is published when a scheduler replica runs" in (
        capsys.readouterr().out
    )

    await replicas.start(settings, clock)  # its catch-up meets the operator's tick
    assert [(e.data.tick_id, e.data.late) for e in await published_ticks()] == [
        ("churn_risk@2026-11-24T02:00:00+01:00", True)
    ]
    assert await tick_rows(platform_settings) == [
        ("churn_risk@2026-11-24T02:00:00+01:00", "operator", True)
    ]


async def run(command: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.slow
async def test_the_command_line(platform_settings: PlatformSettings) -> None:
    now = datetime.now(UTC)
    yesterday = latest_slot("0 2 * * *", PARIS, now - timedelta(days=1))
    env = {
        **os.environ,
        "JARVIS_DATABASE_URL": platform_settings.database_url,
        "JARVIS_SCHEDULER_SCHEDULES": json.dumps({"nightly": DAILY_0200}),
        "JARVIS_TIMEZONE": "Europe/Paris",
    }
    slot = yesterday.astimezone(PARIS).replace(tzinfo=None).isoformat()
    command = [sys.executable, "-m", "scheduler", "tick", "nightly", "--slot", slot, "--wait", "0"]
    expected = tick_id("nightly", yesterday, PARIS)

    code, out, err = await run(command, env)
    assert code == 0, err
    assert f"recorded {expected}" in out

    code, out, err = await run(command, env)
    assert code == 1
    assert "was published already (operator" in err
    assert await tick_rows(platform_settings) == [(expected, "operator", True)]
