"""`scheduler`: serve the scheduler, or publish a tick by hand.

    scheduler                                        # serve (also: scheduler serve)
    scheduler tick churn_risk                        # the latest slot of churn_risk
    scheduler tick churn_risk --slot 2026-11-23T02:00          # wall time in the job's zone
    scheduler tick churn_risk --slot 2026-11-23T02:00 --rerun  # again, as a new tick

A manual tick is written to the scheduler's outbox; a running scheduler replica's relay
publishes it. The command waits up to `--wait` seconds to report that it was published.
Exit status: 0 recorded; 1 refused (already published, nothing to re-run, not a slot, in the
future, not a date, database unusable); 2 unknown job or bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from jarvis_common.db import Database
from jarvis_common.errors import AppError
from jarvis_common.settings import PlatformSettings
from scheduler import schedules
from scheduler.manual import parse_slot, tick_by_hand
from scheduler.settings import Settings
from scheduler.tables import messaging


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in (None, "serve"):
        # Imported here: the service's stack (uvicorn, FastAPI, Kafka) would slow the tick command.
        from jarvis_common.runner import run
        from scheduler.bootstrap import SERVICE

        run(SERVICE)
        return 0
    return asyncio.run(tick_command(args.job, slot=args.slot, rerun=args.rerun, wait=args.wait))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scheduler", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the scheduler service (the default)")
    tick = commands.add_parser("tick", help="publish a job's tick by hand")
    tick.add_argument("job", help="a configured schedule, e.g. churn_risk")
    tick.add_argument(
        "--slot",
        help="the slot, ISO 8601; without an offset, wall time in the job's time zone "
        "(default: the job's latest slot)",
    )
    tick.add_argument(
        "--rerun",
        action="store_true",
        help="publish a slot already published again, under the tick id <tick id>#rerun-<n>",
    )
    tick.add_argument(
        "--wait", type=float, default=10.0, help="seconds to wait for the relay (default 10)"
    )
    return parser


async def tick_command(
    job: str,
    *,
    slot: str | None = None,
    rerun: bool = False,
    wait: float = 10.0,
    platform: PlatformSettings | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> int:
    platform = platform or PlatformSettings()
    settings = settings or Settings()
    now = now or datetime.now(UTC)
    known = {s.job: s for s in schedules.resolve(settings, platform.timezone, now)}
    schedule = known.get(job)
    if schedule is None:
        configured = ", ".join(sorted(known))
        print(f"error: no schedule {job!r}; configured: {configured}", file=sys.stderr)
        return 2
    db = Database(
        platform.database_url, schema="scheduler", messaging=messaging, source="scheduler"
    )
    try:
        tick = await tick_by_hand(
            db,
            schedule,
            now=now,
            late_after=timedelta(seconds=settings.late_after_s),
            slot=parse_slot(schedule, slot) if slot else None,
            rerun=rerun,
        )
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except (DBAPIError, OSError) as exc:
        print(f"error: the scheduler's database is not usable: {exc}", file=sys.stderr)
        return 1
    else:
        late = ", late" if tick.late else ""
        print(f"recorded {tick.tick_id} (slot {tick.slot.isoformat()}{late})")
        if await _published(db, tick.event_id, wait):
            print(f"published {tick.tick_id}")
        else:
            print(f"{tick.tick_id} is in the outbox; it is published when a scheduler replica runs")
        return 0
    finally:
        await db.dispose()


async def _published(db: Database, event_id: object, wait: float) -> bool:
    outbox = messaging.outbox
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        async with db.session() as session:
            published_at = await session.scalar(
                select(outbox.c.published_at).where(outbox.c.event_id == event_id)
            )
        if published_at is not None:
            return True
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(0.2)
