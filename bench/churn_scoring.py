"""Churn risk scoring at scale: 1,000,000 members from 90 days of check-ins (about 12 million).

`python -m bench.churn_scoring` (also in `make bench`) starts a throw-away embedded PostgreSQL,
migrates the churn schema, generates a seeded population (`churn_engine.synthetic`) and loads
it with binary COPY (not timed), then measures in the same run:

1. baseline: one plain SQL aggregation over the same check-ins, the count per member over the
   90 days before T, materialised server-side (`CREATE TEMPORARY TABLE … AS SELECT … GROUP BY`);
2. the scoring run, exactly as the 02:00 tick runs it (`ticks.score_as_of` in one unit of work:
   signals as of T in SQL, numpy scoring in chunks, COPY of the scores, commit), in a child
   process of its own so its peak RSS is the scoring's alone.

Memory: the scoring process's peak RSS (`ru_maxrss`), and PostgreSQL's peak, sampled every
0.5 s as the sum of the proportional set sizes (PSS) of the postmaster and all its children
(shared buffers counted once). The target (< 60 s, < 2 GiB) applies to the scoring run; the
memory figure compared with 2 GiB is scoring process + PostgreSQL.

PostgreSQL settings for the run (ALTER SYSTEM + reload; shared_buffers needs a restart and is
left at pgserver's default): work_mem 256MB (the scoring sets it per transaction),
max_parallel_workers_per_gather 2, maintenance_work_mem 512MB for the index builds of the load.

Results: `bench/results/churn-scoring-<UTC timestamp>.json|.md` and `…-latest.json|.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.common import Infrastructure, machine, timestamp, write_results
from jarvis_common.settings import plain_dsn

try:
    import psutil
except ImportError:  # pragma: no cover
    psutil = None  # type: ignore[assignment]

NAME = "churn-scoring"
TARGET_S = 60.0
TARGET_BYTES = 2 * 2**30
START = datetime(2026, 1, 1, tzinfo=UTC)


async def _connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(
        plain_dsn(url), server_settings={"search_path": "churn,public", "timezone": "UTC"}
    )


async def prepare(url: str, members: int, gyms: int, days: int, seed: int) -> dict[str, Any]:
    from churn_engine.bootstrap import SERVICE
    from churn_engine.synthetic import generate
    from churn_engine.synthetic_load import load_check_ins, load_members
    from jarvis_common.db.migrations import upgrade

    await asyncio.to_thread(upgrade, SERVICE, url)
    conn = await _connect(url)
    try:
        for setting, value in (
            ("work_mem", "256MB"),
            ("max_parallel_workers_per_gather", "2"),
            ("maintenance_work_mem", "512MB"),
        ):
            await conn.execute(f"ALTER SYSTEM SET {setting} = '{value}'")
        await conn.execute("SELECT pg_reload_conf()")
        started = time.perf_counter()
        population = generate(members, gyms=gyms, start=START, days=days, seed=seed)
        versions = await load_members(conn, population)
        # Load check-ins without their indexes, then build them: how a bulk load is done.
        await conn.execute("ALTER TABLE check_ins DROP CONSTRAINT pk_check_ins")
        await conn.execute("DROP INDEX ix_check_ins_checked_in_at")
        check_ins = await load_check_ins(conn, population)
        await conn.execute(
            "ALTER TABLE check_ins ADD CONSTRAINT pk_check_ins PRIMARY KEY "
            "(member_id, checked_in_at)"
        )
        await conn.execute(
            "CREATE INDEX ix_check_ins_checked_in_at ON check_ins USING brin (checked_in_at)"
        )
        await conn.execute("VACUUM ANALYZE")
        return {
            "members": members,
            "gyms": gyms,
            "member_versions": versions,
            "check_ins": check_ins,
            "days": days,
            "load_s": round(time.perf_counter() - started, 1),
        }
    finally:
        await conn.close()


async def baseline(url: str, as_of: datetime) -> dict[str, Any]:
    conn = await _connect(url)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL work_mem = '256MB'")
            started = time.perf_counter()
            await conn.execute(
                "CREATE TEMPORARY TABLE visits ON COMMIT DROP AS "
                "SELECT member_id, count(*) AS visits FROM check_ins "
                "WHERE checked_in_at >= $1::timestamptz - interval '90 days' "
                "AND checked_in_at < $1 "
                "GROUP BY member_id",
                as_of,
            )
            elapsed = time.perf_counter() - started
            rows = await conn.fetchval("SELECT count(*) FROM visits")
        return {"wall_s": round(elapsed, 2), "members": rows}
    finally:
        await conn.close()


async def score_once(url: str, as_of: datetime) -> dict[str, Any]:
    """The child process: one scoring run as the tick runs it."""
    from churn_engine.settings import Settings
    from churn_engine.tables import messaging
    from churn_engine.ticks import score_as_of
    from jarvis_common.db import Database

    db = Database(url, schema="churn", messaging=messaging, source="bench")
    try:
        started = time.perf_counter()
        async with db.unit_of_work() as uow:
            outcome = await score_as_of(uow, as_of, "Europe/Paris", Settings(_env_file=None))
        elapsed = time.perf_counter() - started
    finally:
        await db.dispose()
    return {
        "wall_s": round(elapsed, 2),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "outcome": outcome.as_json(),
    }


class PostgresMemory:
    """Peak of the summed PSS of PostgreSQL's processes, sampled in a thread."""

    def __init__(self, infra: Infrastructure) -> None:
        self.infra = infra
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PostgresMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            total = 0
            for process in self.infra.processes().get("postgres", []):
                try:
                    total += process.memory_full_info().pss
                except (psutil.Error, AttributeError):
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(0.5)


def run(args: argparse.Namespace) -> dict[str, Any]:
    infra = Infrastructure("churn_bench")
    infra.start()
    try:
        url = infra.database_url
        data = asyncio.run(prepare(url, args.members, args.gyms, args.days, args.seed))
        as_of = START + timedelta(days=args.days, hours=1)
        base = asyncio.run(baseline(url, as_of))
        with PostgresMemory(infra) as pg_memory:
            child = subprocess.run(
                [sys.executable, "-m", "bench.churn_scoring", "--score", url, as_of.isoformat()],
                check=True,
                capture_output=True,
                text=True,
            )
        scoring = json.loads(child.stdout.strip().splitlines()[-1])
        base_after = asyncio.run(baseline(url, as_of))
    finally:
        infra.stop()
    memory = scoring["peak_rss_bytes"] + pg_memory.peak
    return {
        "name": NAME,
        "machine": machine(),
        "data": data,
        "as_of": as_of.isoformat(),
        "baseline_sql_aggregation": {"before": base, "after": base_after},
        "scoring": scoring,
        "postgres_peak_pss_bytes": pg_memory.peak,
        "memory_bytes": memory,
        "ratio_to_baseline": round(
            scoring["wall_s"] / max(0.01, min(base["wall_s"], base_after["wall_s"])), 2
        ),
        "target": {"wall_s": TARGET_S, "memory_bytes": TARGET_BYTES},
        "pass": scoring["wall_s"] < TARGET_S and memory < TARGET_BYTES,
    }


def markdown(result: dict[str, Any], stamp: str) -> str:
    m, d, s = result["machine"], result["data"], result["scoring"]
    base = result["baseline_sql_aggregation"]
    gib = 2**30
    verdict = "PASS" if result["pass"] else "FAIL"
    return "\n".join(
        [
            f"# Churn scoring benchmark, {stamp}",
            "",
            f"{m['cpu_count']} CPUs, Python {m['python']}, load {m.get('load_avg_at_start')} at "
            "start.",
            "",
            f"{d['members']:,} members ({d['gyms']} gyms), {d['check_ins']:,} check-ins over "
            f"{d['days']} days; generated and loaded in {d['load_s']} s (not timed).",
            "",
            "| run | wall | memory |",
            "|---|---|---|",
            f"| SQL aggregation (count per member, 90 days), before | {base['before']['wall_s']} s"
            " | — |",
            f"| SQL aggregation, after | {base['after']['wall_s']} s | — |",
            f"| scoring (signals, model, reasons, COPY, commit) | {s['wall_s']} s | process "
            f"{s['peak_rss_bytes'] / gib:.2f} GiB + PostgreSQL "
            f"{result['postgres_peak_pss_bytes'] / gib:.2f} GiB |",
            "",
            f"Scoring / aggregation: {result['ratio_to_baseline']}x. Scoring phases (s): "
            f"{s['outcome']['seconds']}. Bands: {s['outcome']['bands']}.",
            "",
            f"**{verdict}** (< {TARGET_S:.0f} s and < 2 GiB for process + PostgreSQL).",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--gyms", type=int, default=200)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--score", nargs=2, metavar=("URL", "AS_OF"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.score:
        url, as_of = args.score
        print(json.dumps(asyncio.run(score_once(url, datetime.fromisoformat(as_of)))))
        return
    stamp = timestamp()
    result = run(args)
    md = markdown(result, stamp)
    path = write_results(NAME, stamp, result, md)
    print(md)
    print(f"results: {path}")


if __name__ == "__main__":
    main()
