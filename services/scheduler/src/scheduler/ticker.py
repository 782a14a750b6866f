"""The scheduling loop every replica runs: a round, then sleep until the next slot, again.

A round publishes whatever is due for each schedule (see `rounds.py`), each schedule in its own
transaction. The first round after a start is the catch-up. A failed round (the database is
unreachable) is counted, logged and retried after `retry_interval_s`; nothing is lost, since the
next round starts from what was committed.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from jarvis_common.db import Database
from scheduler.clock import Clock
from scheduler.metrics import SchedulerMetrics
from scheduler.rounds import RoundResult, publish_due, register
from scheduler.schedules import Schedule

log = logging.getLogger(__name__)


class Ticker:
    def __init__(
        self,
        db: Database,
        schedules: list[Schedule],
        *,
        clock: Clock,
        metrics: SchedulerMetrics,
        late_after: timedelta,
        retry_interval_s: float,
    ):
        self.db = db
        self.schedules = schedules
        self.clock = clock
        self.metrics = metrics
        self.late_after = late_after
        self.retry_interval_s = retry_interval_s
        self._registered = False

    async def run(self) -> None:
        if not self.schedules:
            log.warning("no schedules configured: the scheduler publishes nothing")
            return
        for schedule in self.schedules:
            log.info(
                "schedule %s: %r in %s, catch-up window %s",
                schedule.job,
                schedule.cron,
                schedule.timezone,
                _hours(schedule.catch_up),
            )
        while True:
            try:
                now = await self.run_round()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.metrics.round_failures.inc()
                log.warning(
                    "scheduling round failed; retrying in %ss", self.retry_interval_s, exc_info=True
                )
                await asyncio.sleep(self.retry_interval_s)
                continue
            # From the round's own `now`: a slot that came while the round ran is not missed.
            await self.clock.sleep_until(min(s.next_slot(now) for s in self.schedules))

    async def run_round(self) -> datetime:
        """Publish what is due now for every schedule; return the `now` the round used."""
        now = self.clock.now()
        if not self._registered:
            async with self.db.unit_of_work() as uow:
                # In job order, so replicas configured differently cannot deadlock here.
                for schedule in sorted(self.schedules, key=lambda s: s.job):
                    await register(uow, schedule, now)
            self._registered = True
        for schedule in self.schedules:
            async with self.db.unit_of_work() as uow:
                result = await publish_due(uow, schedule, now=now, late_after=self.late_after)
            self._report(schedule, result)
        return now

    def _report(self, schedule: Schedule, result: RoundResult) -> None:
        for tick in result.published:
            self.metrics.ticks.labels(schedule.job, "schedule", str(tick.late).lower()).inc()
            log.info("tick %s published%s", tick.tick_id, " (late)" if tick.late else "")
        if result.skipped:
            self.metrics.skipped.labels(schedule.job).inc(result.skipped)
            assert result.first_skipped is not None and result.last_skipped is not None
            log.warning(
                "schedule %s: %s%d missed slot(s) older than the %s catch-up window skipped, "
                "from %s to %s; `scheduler tick %s --slot <slot>` publishes one by hand",
                schedule.job,
                "more than " if result.skipped_more else "",
                result.skipped,
                _hours(schedule.catch_up),
                schedule.tick_id(result.first_skipped),
                schedule.tick_id(result.last_skipped),
                schedule.job,
            )
        if result.last_published is not None:
            self.metrics.last_slot.labels(schedule.job).set(result.last_published.timestamp())


def _hours(window: timedelta) -> str:
    return f"{window.total_seconds() / 3600:g} h"
