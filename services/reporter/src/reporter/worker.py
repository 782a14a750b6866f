"""The background worker: turns report jobs into stored reports and sent e-mails.

Jobs are claimed a few at a time with `FOR UPDATE SKIP LOCKED` and leased (their `due_at` moves
a lease ahead), so several replicas share the work and a job whose worker died is taken up
again when its lease runs out. Each job runs in two steps, each with its own transactions:
1. generate (`pending` -> `generated`): content, stored report, delivery rows, outbox event;
2. deliver (`generated` -> `done`): render once, send each pending delivery, mark it sent; the
   last mark, when every delivery was sent, closes the job in the same transaction.
A failure retries the job with backoff up to `job_max_attempts`, then it is `failed`. Gym jobs
come before franchise jobs, which wait (without spending attempts) for their gyms' reports.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text

from jarvis_common.db import Database
from reporter.delivery import deliver_report
from reporter.mailer import Mailer
from reporter.metrics import ReporterMetrics
from reporter.render.pool import Renderer
from reporter.reports import (
    Generated,
    NotReady,
    generate_franchise_report,
    generate_gym_report,
    report_id,
)
from reporter.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    scope: str
    subject_id: uuid.UUID
    week_start: date
    status: str
    attempts: int


class ReportWorker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        mailer: Mailer,
        metrics: ReporterMetrics,
        renderer: Renderer | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.mailer = mailer
        self.metrics = metrics
        self.renderer = renderer or Renderer(settings.render_processes)

    async def run_forever(self) -> None:
        if not self.mailer.configured:
            log.warning(
                "JARVIS_REPORTER_SMTP_HOST is not set: reports are generated and stored, "
                "deliveries are recorded as skipped and no e-mail is sent"
            )
        try:
            await self._loop()
        finally:
            await self.close()

    async def _loop(self) -> None:
        while True:
            try:
                worked = await self.run_once()
            except Exception:
                log.exception("report worker round failed; retrying")
                worked = 0
            if not worked:
                await asyncio.sleep(self.settings.worker_poll_interval_s)

    async def run_once(self) -> int:
        """Claim and process one round of due jobs; how many were claimed."""
        jobs = await self._claim(self.settings.worker_concurrency * 4)
        if not jobs:
            return 0
        limit = asyncio.Semaphore(self.settings.worker_concurrency)

        async def bounded(job: Job) -> None:
            async with limit:
                await self.process(job)

        await asyncio.gather(*(bounded(job) for job in jobs))
        return len(jobs)

    async def close(self) -> None:
        await self.mailer.close()
        self.renderer.close()

    async def drain(self) -> None:
        """Process until no job is due (tests and the benchmark drive the worker this way)."""
        while await self.run_once():
            pass

    async def _claim(self, n: int) -> list[Job]:
        async with self.db.unit_of_work() as uow:
            rows = await uow.session.execute(
                text(
                    "UPDATE report_jobs j SET due_at = now() + make_interval(secs => :lease), "
                    "updated_at = now() FROM (SELECT scope, subject_id, week_start "
                    "FROM report_jobs WHERE status IN ('pending', 'generated') "
                    "AND due_at <= now() ORDER BY scope = 'franchise', due_at LIMIT :n "
                    "FOR UPDATE SKIP LOCKED) c WHERE (j.scope, j.subject_id, j.week_start) = "
                    "(c.scope, c.subject_id, c.week_start) "
                    "RETURNING j.scope, j.subject_id, j.week_start, j.status, j.attempts"
                ),
                {"lease": self.settings.job_lease_s, "n": n},
            )
            return [Job(**r) for r in rows.mappings()]

    async def process(self, job: Job) -> None:
        try:
            prepared = None
            if job.status == "pending":
                generated = await self._generate(job)
                prepared = (generated.content, generated.pending)
            outcome = await deliver_report(
                self.db,
                self.mailer,
                self.renderer,
                report_id(job.scope, job.subject_id, job.week_start),
                self.metrics,
                prepared,
                on_all_sent=lambda uow: self._close(uow, job),
            )
        except NotReady as exc:
            log.info("%s", exc)
            await self._finish(job, "pending", delay=min(5.0, self.settings.job_retry_delay_s))
            self.metrics.jobs.labels("deferred").inc()
            return
        except Exception as exc:
            attempts = job.attempts + 1
            failed = attempts >= self.settings.job_max_attempts
            log.exception(
                "report job %s %s %s failed (attempt %d)%s",
                job.scope,
                job.subject_id,
                job.week_start,
                attempts,
                "; giving up" if failed else "",
            )
            await self._finish(
                job,
                "failed" if failed else None,
                delay=self.settings.job_retry_delay_s * 2 ** (attempts - 1),
                error=repr(exc)[:500],
            )
            self.metrics.jobs.labels("failed" if failed else "retried").inc()
            return
        if not outcome.get("closed"):
            await self._finish(job, "done")
        self.metrics.jobs.labels("done").inc()

    async def _generate(self, job: Job) -> Generated:
        with self.metrics.generate_seconds.time():
            async with self.db.unit_of_work() as uow:
                generate: Any = (
                    generate_gym_report if job.scope == "gym" else generate_franchise_report
                )
                generated = await generate(uow, job.subject_id, job.week_start, self.settings)
                await uow.session.execute(
                    text(
                        "UPDATE report_jobs SET status = 'generated', updated_at = now() "
                        "WHERE scope = :scope AND subject_id = :s AND week_start = :w"
                    ),
                    {"scope": job.scope, "s": job.subject_id, "w": job.week_start},
                )
        outcome = "new_or_changed" if generated.changed else "unchanged"
        self.metrics.reports.labels(job.scope, outcome).inc()
        return generated

    async def _close(self, uow: Any, job: Job) -> None:
        """The job is done, in the transaction that marks its last delivery sent."""
        await self._update(uow, job, "done")

    async def _finish(
        self, job: Job, status: str | None, *, delay: float = 0.0, error: str | None = None
    ) -> None:
        async with self.db.unit_of_work() as uow:
            await self._update(uow, job, status, delay=delay, error=error)

    @staticmethod
    async def _update(
        uow: Any, job: Job, status: str | None, *, delay: float = 0.0, error: str | None = None
    ) -> None:
        await uow.session.execute(
            text(
                "UPDATE report_jobs SET status = coalesce(:status, status), "
                "attempts = attempts + :failed, last_error = coalesce(:error, last_error), "
                "due_at = now() + make_interval(secs => :delay), updated_at = now() "
                "WHERE scope = :scope AND subject_id = :s AND week_start = :w"
            ),
            {
                "status": status,
                "failed": 1 if error else 0,
                "error": error,
                "delay": delay,
                "scope": job.scope,
                "s": job.subject_id,
                "w": job.week_start,
            },
        )
