"""Weekly reports for 2,000 gyms: generated, rendered and handed to an SMTP server.

`python -m bench.reporter` (also in `make bench`) starts a throw-away embedded PostgreSQL,
migrates the reporter schema and seeds its projections directly with set-based SQL (not
timed): 2,000 gyms (1,000 of them in 100 franchises of 10, each gym with one or two managers),
two weeks of realistic activity per gym (about 350 members, 120 check-ins and 25 kiosk
conversations with summaries a day, a dozen churn alerts a week, some joins and cancellations).
A local SMTP server (`aiosmtpd`, sink handler) runs in a process of its own.

Measured in the same run, one after the other:
1. baseline: as many plain messages as the run sends, pre-rendered once (a rendered report's
   MIME, same size), handed to the same SMTP server by the same `Mailer` at the same
   concurrency: what SMTP hand-off alone costs on this machine;
2. the weekly run exactly as the tick triggers it: `runs.schedule_run` (one row per gym and per
   franchise), then the worker (`ReportWorker.drain`, `worker_concurrency` jobs at a time):
   figures from the projections, stored report, delivery rows, outbox event, HTML with two PNG
   charts, PDF, CSV, one message per recipient, SMTP, delivery marked sent.

Target: the weekly run under 60 s on this 2-core machine. Checks after the run: every job
`done`, every delivery `sent`, one report per gym and per franchise.

Results: `bench/results/reporter-<UTC timestamp>.json|.md` and `reporter-latest.json|.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

try:
    import psutil
except ImportError:  # pragma: no cover - psutil comes with pgserver
    psutil = None  # type: ignore[assignment]

from bench.common import machine, timestamp, write_results
from jarvis_common.db import Database
from jarvis_common.db.migrations import upgrade
from jarvis_common.devrun.kafka import free_port
from jarvis_common.devrun.postgres import EmbeddedPostgres
from jarvis_common.events.catalogue import ScheduleTicked
from jarvis_common.metrics import InfraMetrics
from jarvis_common.settings import plain_dsn
from reporter.bootstrap import SERVICE
from reporter.mailer import Mailer
from reporter.metrics import ReporterMetrics
from reporter.render.message import render_messages
from reporter.runs import schedule_run
from reporter.settings import Settings
from reporter.worker import ReportWorker

NAME = "reporter"
TARGET_S = 60.0
# The run reports ISO week 2026-W47; the tick is Monday 23 November 2026, 08:00 Paris.
SLOT = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Europe/Paris"))
WEEK_BEFORE_START = "2026-11-09 00:00:00+01"


def seed_sql(gyms: int) -> list[str]:
    """Set-based seeding: two weeks (W46 and W47) of activity for every gym."""
    franchised = gyms // 2
    return [
        "SELECT setseed(0.42)",
        # gym g: franchise (g-1)/10 for the first half, independent for the rest.
        f"""INSERT INTO gyms (gym_id, franchise_id, franchise_name, name, timezone, language,
            manager_emails, franchise_owner_emails, updated_at)
        SELECT md5('gym' || g)::uuid,
               CASE WHEN g <= {franchised} THEN md5('franchise' || ((g - 1) / 10))::uuid END,
               CASE WHEN g <= {franchised} THEN 'Réseau Forme ' || ((g - 1) / 10) END,
               CASE WHEN g % 2 = 0 THEN 'Salle Énergie ' || g ELSE 'Iron Club ' || g END,
               CASE WHEN g % 5 = 0 THEN 'Europe/London' ELSE 'Europe/Paris' END,
               CASE WHEN g % 3 = 0 THEN 'en' ELSE 'fr' END,
               CASE WHEN g % 2 = 0 THEN ARRAY['manager' || g || '@gym.bench']
                    ELSE ARRAY['manager' || g || '@gym.bench', 'front' || g || '@gym.bench'] END,
               CASE WHEN g <= {franchised}
                    THEN ARRAY['owner' || ((g - 1) / 10) || '@franchise.bench'] ELSE '{{}}' END,
               now()
        FROM generate_series(1, {gyms}) g""",
        """INSERT INTO members (member_id, gym_id, first_name, status, joined_at, cancelled_at,
            updated_at)
        SELECT gen_random_uuid(), g.gym_id,
               (ARRAY['Zoé','Lucas','Anaïs','Hugo','Léa','Noah','Chloé','Jules'])[1 + (n % 8)],
               CASE WHEN c THEN 'cancelled' ELSE 'active' END,
               DATE '2026-11-22' - (random() * 900)::int,
               CASE WHEN c THEN DATE '2026-11-22' - (random() * 20)::int END, now()
        FROM gyms g, generate_series(1, 350) n, LATERAL (SELECT random() < 0.02 AS c) x""",
        f"""INSERT INTO check_ins (member_id, checked_in_at, gym_id)
        SELECT gen_random_uuid(), TIMESTAMPTZ '{WEEK_BEFORE_START}'
               + random() * interval '14 days', g.gym_id
        FROM gyms g, generate_series(1, 14 * 120)
        ON CONFLICT DO NOTHING""",
        f"""INSERT INTO sessions (session_id, gym_id, member_id, started_at, ended_at, cost_usd)
        SELECT gen_random_uuid(), g.gym_id,
               CASE WHEN random() < 0.8 THEN md5(g.gym_id::text || (random() * 300)::int)::uuid
               END,
               t - (30 + random() * 240) * interval '1 second', t,
               round((0.02 + random() * 0.3)::numeric, 6)
        FROM gyms g, generate_series(1, 14 * 25),
             LATERAL (SELECT TIMESTAMPTZ '{WEEK_BEFORE_START}' + random() * interval '14 days'
                      AS t) x""",
        """INSERT INTO summaries (session_id, gym_id, member_id, ended_at, sentiment_label,
            sentiment_score, topics, follow_ups, cost_usd)
        SELECT session_id, gym_id, member_id, ended_at,
               CASE WHEN s > 0.3 THEN 'positive' WHEN s < -0.3 THEN 'negative' ELSE 'neutral' END,
               s,
               ARRAY[(ARRAY['horaires','tarifs','cours collectifs','parking','douches',
                            'coaching','résiliation','musculation'])[1 + (random() * 7)::int],
                     (ARRAY['planning','abonnement','sauna','café'])[1 + (random() * 3)::int]],
               CASE WHEN random() < 0.1 THEN ARRAY['Rappeler le membre au sujet de l''offre à 29 €']
                    ELSE '{}' END,
               round((0.001 + random() * 0.004)::numeric, 6)
        FROM sessions, LATERAL (SELECT round((random() * 2 - 1)::numeric, 2)::float8 AS s) x""",
        f"""INSERT INTO alerts (alert_id, gym_id, member_id, risk, band, raised_at, resolved_at,
            resolution)
        SELECT gen_random_uuid(), g.gym_id, m.member_id, round(random()::numeric, 3),
               CASE WHEN random() < 0.5 THEN 'red' ELSE 'amber' END, r,
               CASE WHEN random() < 0.5 THEN r + random() * interval '6 days' END,
               'checked_in'
        FROM gyms g, LATERAL (SELECT member_id FROM members WHERE gym_id = g.gym_id
                              LIMIT 24) m,
             LATERAL (SELECT TIMESTAMPTZ '{WEEK_BEFORE_START}' + random() * interval '14 days'
                      AS r) x""",
        "UPDATE alerts SET resolution = NULL WHERE resolved_at IS NULL",
        # Autovacuum would have run on a live system (insert-only tables included, PG 13+): the
        # visibility map lets the check-in counts be index-only scans.
        "VACUUM ANALYZE",
    ]


# What a weekly run writes: emptied when a kept database is reused, so each run starts clean.
RUN_TABLES = ("report_runs", "report_jobs", "reports", "deliveries", "outbox")
PROJECTION_TABLES = ("gyms", "members", "check_ins", "sessions", "summaries", "alerts")


async def seed(url: str, gyms: int, *, reuse: bool = False) -> dict[str, int]:
    """Seed the projections; with `reuse`, keep them when they already hold `gyms` gyms."""
    conn = await asyncpg.connect(
        plain_dsn(url), server_settings={"search_path": "reporter,public", "timezone": "UTC"}
    )
    try:
        if reuse and await conn.fetchval("SELECT count(*) FROM gyms") == gyms:
            await conn.execute(f"TRUNCATE {', '.join(RUN_TABLES)}")
        else:
            await conn.execute(f"TRUNCATE {', '.join(RUN_TABLES + PROJECTION_TABLES)}")
            for sql in seed_sql(gyms):
                await conn.execute(sql)
        counts = {}
        for table in PROJECTION_TABLES:
            counts[table] = await conn.fetchval(f"SELECT count(*) FROM {table}")
        return counts
    finally:
        await conn.close()


def start_smtp() -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-c",
            "aiosmtpd.handlers.Sink",
            "-l",
            f"127.0.0.1:{port}",
        ],
    )
    return process, port


async def wait_for_smtp(port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def baseline(mailer: Mailer, db: Database, n: int, concurrency: int) -> float:
    """n copies of one pre-rendered report message, same server, same concurrency."""
    async with db.unit_of_work() as uow:
        from sqlalchemy import text

        content = await uow.session.scalar(
            text("SELECT content FROM reports WHERE scope = 'gym' LIMIT 1")
        )
    messages = render_messages(
        "baseline",
        content,
        mailer.settings.smtp_from,
        [(f"baseline{i}@gym.bench", f"<baseline{i}@bench>") for i in range(n)],
    )
    limit = asyncio.Semaphore(concurrency)

    async def send(i: int, message: bytes) -> None:
        async with limit:
            await mailer.send(message, f"baseline{i}@gym.bench")

    start = time.perf_counter()
    await asyncio.gather(*(send(i, m) for i, m in enumerate(messages)))
    return time.perf_counter() - start


async def _sample_every(account: CpuAccount, seconds: float) -> None:
    # A process that exits before the end keeps its last sample. Sampling scans /proc, which
    # costs this process CPU on a busy machine, hence the long interval.
    while True:
        account.sample()
        await asyncio.sleep(seconds)


async def measure(
    url: str,
    smtp_port: int,
    gyms: int,
    concurrency: int,
    render_processes: int,
    account: CpuAccount,
) -> dict[str, Any]:
    settings = Settings(
        _env_file=None,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        worker_concurrency=concurrency,
        render_processes=render_processes,
        job_retry_delay_s=0.0,
    )
    db = Database(url, schema=SERVICE.schema, messaging=SERVICE.messaging, source=NAME)
    infra = InfraMetrics(NAME)
    metrics = ReporterMetrics(infra.prefix, infra.registry)
    worker = ReportWorker(db, settings, Mailer(settings), metrics)
    tick = ScheduleTicked(
        tick_id="weekly_report@bench", job="weekly_report", slot=SLOT, timezone="Europe/Paris"
    )
    try:
        cpu_start = _cpu_seconds()
        account.begin()
        sampling = asyncio.create_task(_sample_every(account, 10.0))
        start = time.perf_counter()
        async with db.unit_of_work() as uow:
            jobs = await schedule_run(uow, tick)
        scheduled = time.perf_counter() - start
        await worker.drain()
        elapsed = time.perf_counter() - start
        sampling.cancel()
        account.sample()
        cpu = _cpu_seconds() - cpu_start
        load = os.getloadavg()
        async with db.unit_of_work() as uow:
            from sqlalchemy import text

            statuses = dict(
                (
                    await uow.session.execute(
                        text("SELECT status, count(*) FROM report_jobs GROUP BY 1")
                    )
                ).all()
            )
            deliveries = dict(
                (
                    await uow.session.execute(
                        text("SELECT status, count(*) FROM deliveries GROUP BY 1")
                    )
                ).all()
            )
            reports = dict(
                (
                    await uow.session.execute(
                        text("SELECT scope, count(*) FROM reports GROUP BY 1")
                    )
                ).all()
            )
            sizes = (
                await uow.session.execute(
                    text(
                        "SELECT (SELECT avg(pg_column_size(content))::int FROM reports), "
                        "(SELECT count(*) FROM outbox WHERE topic = 'report.generated')"
                    )
                )
            ).one()
        sent = deliveries.get("sent", 0)
        base = await baseline(worker.mailer, db, sent, concurrency)
        return {
            "jobs": jobs,
            "schedule_s": round(scheduled, 3),
            "run_s": round(elapsed, 2),
            "job_statuses": statuses,
            "delivery_statuses": deliveries,
            "reports": reports,
            "report_generated_events": sizes[1],
            "avg_report_json_bytes": sizes[0],
            "messages_sent": sent,
            "cpu_s_by_process": account.totals(),
            "cpu_s_total": round(sum(account.totals().values()), 1),
            "cpu_s_bench_process_and_renderers": round(cpu, 2),
            "load_avg_at_end": [round(x, 2) for x in load],
            "sum_generate_s": round(_histogram_sum(infra.registry, "generate"), 2),
            "sum_render_s": round(_histogram_sum(infra.registry, "render"), 2),
            "baseline_plain_send_s": round(base, 2),
            "ratio_run_over_baseline": round(elapsed / base, 2) if base else None,
            "reports_per_s": round(
                (reports.get("gym", 0) + reports.get("franchise", 0)) / elapsed, 1
            ),
        }
    finally:
        await worker.close()
        await db.dispose()


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the render processes)."""
    import os

    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class CpuAccount:
    """CPU seconds used during the run by every process involved: this one, its render
    processes, PostgreSQL (postmaster and backends) and the SMTP server. The machine is shared,
    so wall time depends on the neighbours; total CPU is what the run itself costs."""

    def __init__(self, data_dir: Path, smtp_pid: int) -> None:
        self.data_dir = data_dir
        self.smtp_pid = smtp_pid
        self.seen: dict[tuple[str, int], float] = {}
        self.start: dict[tuple[str, int], float] = {}

    def _processes(self) -> list[tuple[str, Any]]:
        if psutil is None:
            return []
        found: list[tuple[str, Any]] = []
        try:
            found.append(("smtp", psutil.Process(self.smtp_pid)))
            postmaster = psutil.Process(
                int((self.data_dir / "postmaster.pid").read_text().split()[0])
            )
            found += [("postgres", postmaster)] + [
                ("postgres", c) for c in postmaster.children(recursive=True)
            ]
        except (OSError, ValueError, psutil.Error):
            pass
        others = {p.pid for _, p in found}
        me = psutil.Process()
        found.append(("reporter", me))
        found += [("render", c) for c in me.children(recursive=True) if c.pid not in others]
        return found

    def sample(self) -> None:
        for kind, process in self._processes():
            try:
                t = process.cpu_times()
                self.seen[(kind, process.pid)] = t.user + t.system
            except psutil.Error:
                pass

    def begin(self) -> None:
        self.sample()
        self.start = dict(self.seen)

    def totals(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for (kind, pid), cpu in self.seen.items():
            out[kind] = out.get(kind, 0.0) + cpu - self.start.get((kind, pid), 0.0)
        return {k: round(v, 1) for k, v in out.items()}


def _histogram_sum(registry: Any, name: str) -> float:
    for metric in registry.collect():
        if metric.name.endswith(f"_{name}_seconds"):
            return sum(s.value for s in metric.samples if s.name.endswith("_sum"))
    return 0.0


def markdown(result: dict[str, Any], stamp: str) -> str:
    m = result["measured"]
    ok = result["pass"]
    return "\n".join(
        [
            f"# reporter benchmark ({stamp})",
            "",
            f"Weekly run for {result['gyms']} gyms: **{m['run_s']} s** "
            f"(target < {TARGET_S:.0f} s): **{'PASS' if ok else 'FAIL'}**",
            "",
            "| measure | value |",
            "|---|---|",
            f"| report jobs (gyms + franchises) | {m['jobs']} |",
            f"| reports stored | {m['reports']} |",
            f"| messages handed to SMTP | {m['messages_sent']} |",
            f"| weekly run (schedule + generate + render + send) | {m['run_s']} s |",
            f"| baseline: same number of pre-rendered messages, same SMTP | "
            f"{m['baseline_plain_send_s']} s |",
            f"| run / baseline | {m['ratio_run_over_baseline']} |",
            f"| reports per second | {m['reports_per_s']} |",
            f"| CPU seconds during the run, by process | {m['cpu_s_by_process']} |",
            f"| CPU seconds during the run, total (2 cores give {2 * TARGET_S:.0f} s in "
            f"{TARGET_S:.0f} s) | {m['cpu_s_total']} |",
            f"| load average at start / end of the run | "
            f"{result['machine'].get('load_avg_at_start')} / {m['load_avg_at_end']} |",
            f"| job statuses | {m['job_statuses']} |",
            f"| delivery statuses | {m['delivery_statuses']} |",
            f"| seeded rows | {result['seeded']} |",
            f"| seed time (not timed in the run) | {result['seed_s']} s |",
            f"| worker concurrency | {result['concurrency']} |",
            "",
            f"Machine: {result['machine'].get('cpu_count')} CPUs, load at start "
            f"{result['machine'].get('load_avg_at_start')}.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gyms", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--render-processes", type=int, default=2)
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="keep the embedded PostgreSQL here and reuse its seeded projections on the next "
        "run with the same --gyms (seeding 2,000 gyms takes minutes); default: a throw-away one",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    info = machine()
    smtp, port = start_smtp()
    with tempfile.TemporaryDirectory(prefix="jarvis-bench-reporter-") as tmp:
        if args.data_dir:
            postgres = EmbeddedPostgres(args.data_dir.resolve() / "pg")
        else:
            postgres = EmbeddedPostgres(Path(tmp) / "pg", delete_on_stop=True)
        postgres.start()
        try:
            postgres.ensure_database("bench_reporter")
            url = postgres.url("bench_reporter")
            upgrade(SERVICE, url)
            started = time.perf_counter()
            seeded = asyncio.run(seed(url, args.gyms, reuse=args.data_dir is not None))
            seed_s = round(time.perf_counter() - started, 1)
            print(f"seeded in {seed_s} s: {seeded}", flush=True)

            async def run() -> dict[str, Any]:
                await wait_for_smtp(port)
                account = CpuAccount(postgres.data_dir, smtp.pid)
                return await measure(
                    url, port, args.gyms, args.concurrency, args.render_processes, account
                )

            measured = asyncio.run(run())
        finally:
            postgres.stop()
            smtp.terminate()
            smtp.wait(10)
    complete = measured["job_statuses"] == {"done": measured["jobs"]} and set(
        measured["delivery_statuses"]
    ) == {"sent"}
    result = {
        "name": NAME,
        "gyms": args.gyms,
        "concurrency": args.concurrency,
        "render_processes": args.render_processes,
        "target_s": TARGET_S,
        "seeded": seeded,
        "seed_s": seed_s,
        "measured": measured,
        "complete": complete,
        "pass": complete and measured["run_s"] < TARGET_S,
        "machine": info,
    }
    stamp = timestamp()
    md = markdown(result, stamp)
    write_results(NAME, stamp, result, md)
    print(md)
    sys.exit(0 if result["pass"] else 1)


if __name__ == "__main__":
    main()
