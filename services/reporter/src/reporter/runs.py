"""The weekly tick: record a report run and schedule one job per gym and per franchise.

The handler only writes rows (one INSERT … SELECT per scope), so it holds the consumer for
milliseconds whatever the number of gyms; the background worker (`worker`) does the work. A tick
is acted on once (its id is the key of `report_runs`), and a job is keyed by (scope, subject,
week), so a replayed tick, or a second tick for the same week, schedules nothing twice.

Which week: for a gym, the last ISO week that ended before the tick's slot in the gym's own
time zone; for a franchise, the same in the tick's time zone.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import text

from jarvis_common.db import UnitOfWork
from jarvis_common.events import Envelope
from jarvis_common.events.catalogue import ScheduleTicked
from jarvis_common.messaging.handlers import EventHandlers
from reporter.settings import Settings
from reporter.weeks import Week

log = logging.getLogger(__name__)


def tick_handlers(settings: Settings) -> EventHandlers:
    handlers = EventHandlers()

    @handlers.on(ScheduleTicked, name="schedule_weekly_reports")
    async def schedule_weekly_reports(event: Envelope[Any], uow: UnitOfWork) -> None:
        tick: ScheduleTicked = event.data
        if tick.job == settings.weekly_job:
            await schedule_run(uow, tick)

    return handlers


async def schedule_run(uow: UnitOfWork, tick: ScheduleTicked) -> int | None:
    """Schedule the run of this tick; None if the tick was already acted on."""
    claimed = await uow.session.scalar(
        text(
            "INSERT INTO report_runs (tick_id, slot, jobs) VALUES (:tick, :slot, 0) "
            "ON CONFLICT DO NOTHING RETURNING tick_id"
        ),
        {"tick": tick.tick_id, "slot": tick.slot},
    )
    if claimed is None:
        log.info("weekly tick %s was already acted on; ignored", tick.tick_id)
        return None
    # date_trunc('week') is the Monday of the local date; the week before it is the one that
    # ended before the slot.
    gyms = await uow.session.execute(
        text(
            "INSERT INTO report_jobs (scope, subject_id, week_start, tick_id) "
            "SELECT 'gym', gym_id, date_trunc('week', :slot AT TIME ZONE timezone)::date - 7, "
            ":tick FROM gyms ON CONFLICT DO NOTHING"
        ),
        {"tick": tick.tick_id, "slot": tick.slot},
    )
    franchises = await uow.session.execute(
        text(
            "INSERT INTO report_jobs (scope, subject_id, week_start, tick_id) "
            "SELECT DISTINCT 'franchise', franchise_id, CAST(:week AS date), :tick FROM gyms "
            "WHERE franchise_id IS NOT NULL ON CONFLICT DO NOTHING"
        ),
        {"tick": tick.tick_id, "week": Week.ended_before(tick.slot, tick.timezone).start},
    )
    jobs = gyms.rowcount + franchises.rowcount
    await uow.session.execute(
        text("UPDATE report_runs SET jobs = :jobs WHERE tick_id = :tick"),
        {"tick": tick.tick_id, "jobs": jobs},
    )
    log.info("weekly tick %s (slot %s): %d report jobs scheduled", tick.tick_id, tick.slot, jobs)
    return jobs
