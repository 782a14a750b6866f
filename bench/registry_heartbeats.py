"""Kiosk heartbeats absorbed per second by kiosk-registry, from the topic into kiosk status.

`python -m bench.registry_heartbeats` (from the repository root) starts its own embedded
PostgreSQL (temporary directory, deleted at the end) and a fresh embedded broker on a free port,
migrates the registry's schema, seeds `--kiosks` provisioned, online kiosks (in `--kiosks / 10`
gyms of 50 franchises), then measures in one run, on that one database:

1. raw baseline: the same number of heartbeats for the same kiosks written straight with asyncpg,
   `--batch-size` per transaction, as one `UPDATE kiosks … FROM unnest(…)` per transaction
   (`last_heartbeat = GREATEST(…)`, `hardware_info ||`, `last_error`): the database's own cost of
   the upsert, no broker, no decoding, no inbox. Also reported: the same plus the inbox's
   dedupe insert into `processed_events` (the floor for an at-least-once consumer). Run before
   and after the registry phase; the mean is the baseline and the spread says how much the
   shared machine's load moved.
2. the registry (the figure the 20,000/s target applies to): N heartbeat events (realistic
   envelopes from the session gateway, keyed by kiosk id, round-robin over the kiosks) are
   produced to `kiosk.heartbeat` with a raw aiokafka producer *before* the registry starts; then
   the registry is started by its own composition root (consumer batch `--batch-size`, session
   timeout 2 s) and drains the backlog through its idempotent consumer and the batch handler
   `fleet_status.apply_heartbeats`. Timed from the moment the inbox starts on its first batch
   (consumer-group formation excluded) to the moment it returns from the batch that completes
   the N events (committed). The sweeper runs beside it, as in production.

The kiosks stay online throughout (the seed's and the heartbeats' times are within the online
window), so this is the steady state: no status changes, no outbox rows. The run checks at the
end that every kiosk's `last_heartbeat` is its newest heartbeat and that nothing was published.

Also reported: the inbox's batches (count, size, time), the time spent in its stages (claim in
`processed_events`, the handler, commit, the rest of the inbox: decoding), the time the garbage
collector ran (by generation), and the CPU used by the bench process (which is the registry),
PostgreSQL, the broker and everything else during the drain. `--profile` writes a cProfile
(CPU time) of the drain next to the results.

`--experiments` drains the same backlog again, once per combination of changes this benchmark
suggests outside the registry's heartbeat code, each simulated in this process only (see
`EXPERIMENTS`): garbage-collector settings, no `processed_events` record for heartbeats, bigger
broker fetches, and a fill factor on `kiosks`. The headline figure is always the code as it is.

Results: `bench/results/registry-heartbeats-<UTC timestamp>.json` and
`bench/results/registry-heartbeats-latest.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import cProfile
import gc
import json
import logging
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from bench.common import (
    RESULTS_DIR,
    Infrastructure,
    machine,
    profile_summary,
    raw_producer,
    start_run,
    write_results,
)
from jarvis_common import service as service_module
from jarvis_common.db.migrations import upgrade
from jarvis_common.db.uow import UnitOfWork
from jarvis_common.events import new_event
from jarvis_common.events.catalogue import KioskHeartbeatReceived
from jarvis_common.messaging.consumer import InboxConsumer
from jarvis_common.runner import tune_garbage_collector
from jarvis_common.service import ServiceApp
from jarvis_common.settings import PlatformSettings, plain_dsn
from jarvis_common.tokens import generate_private_key_pem
from kiosk_registry import fleet_status
from kiosk_registry.bootstrap import SERVICE, bootstrap
from kiosk_registry.settings import Settings

try:  # a dependency of pgserver, so present wherever the embedded database is
    import psutil
except ImportError:  # pragma: no cover
    psutil = None  # type: ignore[assignment]

log = logging.getLogger("bench.registry_heartbeats")

NAME = "registry-heartbeats"
TARGET_PER_S = 20_000  # 600,000 kiosks at a 30 s interval
TOPIC = KioskHeartbeatReceived.event_type
DATABASE = "bench_registry"
SCHEMA = SERVICE.schema
FRANCHISES = 50
KIOSKS_PER_GYM = 10


# --- infrastructure -----------------------------------------------------------------------------


class CpuMeter:
    """CPU seconds used by this process (the registry), PostgreSQL, the broker, the rest.

    PostgreSQL forks a backend per connection, and the registry's pool opens some while the
    phase runs: processes first seen at the end count from zero.
    """

    def __init__(self, infra: Infrastructure):
        self.infra = infra
        self._start: dict[str, float] = {}
        self._per_process: dict[int, float] = {}
        self._wall = 0.0

    def _processes(self) -> dict[int, tuple[str, float]]:
        found = {}
        for name, procs in self.infra.processes().items():
            for proc in procs:
                try:
                    t = proc.cpu_times()
                    found[proc.pid] = (name, t.user + t.system)
                except psutil.Error:
                    pass
        return found

    def _machine(self) -> float | None:
        if psutil is None:
            return None
        t = psutil.cpu_times()
        return sum(t) - t.idle - getattr(t, "iowait", 0.0)

    def start(self) -> None:
        self._per_process = {pid: cpu for pid, (_, cpu) in self._processes().items()}
        self._start = {"bench_process": time.process_time()}
        machine = self._machine()
        if machine is not None:
            self._start["whole_machine"] = machine
        self._wall = time.perf_counter()

    def stop(self) -> dict[str, Any]:
        wall = time.perf_counter() - self._wall
        used: dict[str, float] = {
            "bench_process": time.process_time() - self._start["bench_process"]
        }
        for pid, (name, cpu) in self._processes().items():
            used[name] = used.get(name, 0.0) + cpu - self._per_process.get(pid, 0.0)
        machine = self._machine()
        if machine is not None:
            used["whole_machine"] = machine - self._start["whole_machine"]
            ours = sum(v for k, v in used.items() if k != "whole_machine")
            used["other_processes"] = max(0.0, used["whole_machine"] - ours)
        used = {k: round(v, 2) for k, v in used.items()}
        return {
            "wall_s": round(wall, 2),
            "cpu_s": used,
            "cores_busy": {k: round(v / wall, 2) for k, v in used.items()} if wall else {},
        }


# --- data ---------------------------------------------------------------------------------------


@dataclass
class Fleet:
    kiosk_ids: list[uuid.UUID]
    gym_of: dict[uuid.UUID, uuid.UUID]


async def seed(conn: asyncpg.Connection, n_kiosks: int) -> Fleet:
    """Franchises, gyms and provisioned, online kiosks, written with COPY."""
    now = datetime.now(UTC)
    franchises = [uuid.uuid4() for _ in range(FRANCHISES)]
    n_gyms = max(1, n_kiosks // KIOSKS_PER_GYM)
    gyms = [uuid.uuid4() for _ in range(n_gyms)]
    kiosk_ids = [uuid.uuid4() for _ in range(n_kiosks)]
    gym_of = {k: gyms[i % n_gyms] for i, k in enumerate(kiosk_ids)}
    await conn.copy_records_to_table(
        "franchises",
        schema_name=SCHEMA,
        columns=["id", "name"],
        records=[(f, f"Franchise {i}") for i, f in enumerate(franchises)],
    )
    await conn.copy_records_to_table(
        "gyms",
        schema_name=SCHEMA,
        columns=["id", "franchise_id", "name"],
        records=[(g, franchises[i % FRANCHISES], f"Gym {i}") for i, g in enumerate(gyms)],
    )
    await conn.copy_records_to_table(
        "kiosks",
        schema_name=SCHEMA,
        columns=[
            "id",
            "gym_id",
            "slug",
            "name",
            "status",
            "provisioned_at",
            "last_heartbeat",
            "device_id",
            "hardware_info",
        ],
        records=[
            (
                k,
                gym_of[k],
                f"kiosk-{i}",
                f"Kiosk {i}",
                "online",
                now - timedelta(days=30),
                now,
                f"device-{i}",
                json.dumps(hardware(i, 0)),
            )
            for i, k in enumerate(kiosk_ids)
        ],
    )
    await conn.execute(f"ANALYZE {SCHEMA}.kiosks; ANALYZE {SCHEMA}.gyms")
    return Fleet(kiosk_ids, gym_of)


def hardware(i: int, seq: int) -> dict[str, Any]:
    """What a kiosk reports: a handful of small values, as a real one would."""
    return {
        "app_version": "1.4.2",
        "os": "Android 13",
        "cpu_temp_c": 40 + (i + seq) % 25,
        "uptime_s": 3600 * 24 + seq * 30,
        "free_disk_gb": 12.5,
        "wifi_rssi_dbm": -50 - i % 30,
    }


def heartbeat_plan(fleet: Fleet, n: int, base: datetime) -> list[tuple[uuid.UUID, datetime, int]]:
    """Round-robin over the kiosks, each heartbeat 1 us after the previous one: any window of
    len(kiosks) consecutive heartbeats holds each kiosk once, and each kiosk's are increasing."""
    k = len(fleet.kiosk_ids)
    return [(fleet.kiosk_ids[i % k], base + timedelta(microseconds=i), i // k) for i in range(n)]


def heartbeat_messages(
    fleet: Fleet, plan: list[tuple[uuid.UUID, datetime, int]]
) -> list[tuple[bytes, bytes]]:
    index = {k: i for i, k in enumerate(fleet.kiosk_ids)}
    messages = []
    for kiosk_id, at, seq in plan:
        data = KioskHeartbeatReceived(
            kiosk_id=kiosk_id,
            gym_id=fleet.gym_of[kiosk_id],
            sent_at=at - timedelta(milliseconds=40),
            received_at=at,
            status="ok",
            hardware_info=hardware(index[kiosk_id], seq),
        )
        event = new_event(data, source="session-gateway", gym_id=data.gym_id)
        messages.append((event.to_json(), str(kiosk_id).encode()))
    return messages


# --- raw baseline -------------------------------------------------------------------------------

RAW_UPSERT = f"""
UPDATE {SCHEMA}.kiosks AS k SET
    last_heartbeat = GREATEST(k.last_heartbeat, u.at),
    hardware_info = CASE WHEN k.last_heartbeat IS NULL OR u.at > k.last_heartbeat
                         THEN k.hardware_info || u.hw ELSE k.hardware_info END,
    last_error = CASE WHEN k.last_heartbeat IS NULL OR u.at > k.last_heartbeat
                      THEN u.err ELSE k.last_error END
FROM unnest($1::uuid[], $2::timestamptz[], $3::jsonb[], $4::text[]) AS u(id, at, hw, err)
WHERE k.id = u.id
"""

RAW_DEDUPE = f"""
INSERT INTO {SCHEMA}.processed_events (handler, event_id, topic)
SELECT 'raw-baseline', unnest($1::uuid[]), '{TOPIC}'
ON CONFLICT DO NOTHING RETURNING event_id
"""


async def raw_upsert(
    dsn: str,
    fleet: Fleet,
    n: int,
    batch: int,
    *,
    dedupe: bool,
) -> dict[str, Any]:
    """N heartbeats, `batch` per transaction, straight into the database with asyncpg."""
    plan = heartbeat_plan(fleet, n, datetime.now(UTC))
    index = {k: i for i, k in enumerate(fleet.kiosk_ids)}
    chunks = []
    for start in range(0, n, batch):
        part = plan[start : start + batch]
        chunks.append(
            (
                [uuid.uuid4() for _ in part],
                [k for k, _, _ in part],
                [at for _, at, _ in part],
                [json.dumps(hardware(index[k], seq)) for k, _, seq in part],
                [None] * len(part),
            )
        )
    conn = await asyncpg.connect(dsn)
    await conn.set_type_codec("jsonb", encoder=str, decoder=json.loads, schema="pg_catalog")
    try:
        started = time.perf_counter()
        for event_ids, ids, ats, hws, errs in chunks:
            async with conn.transaction():
                if dedupe:
                    await conn.fetch(RAW_DEDUPE, event_ids)
                await conn.execute(RAW_UPSERT, ids, ats, hws, errs)
        seconds = time.perf_counter() - started
    finally:
        await conn.close()
    return {
        "heartbeats": n,
        "transactions": len(chunks),
        "seconds": round(seconds, 3),
        "per_s": round(n / seconds),
    }


async def raw_baseline(dsn: str, fleet: Fleet, n: int, batch: int) -> dict[str, Any]:
    return {
        "upsert": await raw_upsert(dsn, fleet, n, batch, dedupe=False),
        "upsert_and_dedupe": await raw_upsert(dsn, fleet, n, batch, dedupe=True),
    }


# --- the registry -------------------------------------------------------------------------------


class GcClock:
    """Time the process spends in the garbage collector, by generation (gc.callbacks)."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.collections = [0, 0, 0]
        self._started = 0.0
        self.enabled = False

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if not self.enabled:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            generation = info["generation"]
            self.seconds[generation] += time.perf_counter() - self._started
            self.collections[generation] += 1

    def report(self) -> dict[str, Any]:
        return {
            "seconds_by_generation": [round(x, 3) for x in self.seconds],
            "collections_by_generation": self.collections,
            "seconds": round(sum(self.seconds), 3),
            "tracked_objects_at_end": len(gc.get_objects()),
            "frozen_objects": gc.get_freeze_count(),
        }


IN_HEARTBEAT_BATCH: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "in_heartbeat_batch", default=False
)


@dataclass
class InboxClock:
    """Times the registry's inbox: batches and where their time goes. Patched in, not changed."""

    first_start: float | None = None
    last_done: float | None = None
    done_events: int = 0
    batches: list[int] = field(default_factory=list)
    process_s: float = 0.0
    claim_s: float = 0.0
    handler_s: float = 0.0
    commit_s: float = 0.0
    target: int = 0
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def install(self) -> list[tuple[Any, str, Any]]:
        clock = self
        originals = [
            (InboxConsumer, "process", InboxConsumer.process),
            (InboxConsumer, "_claim", InboxConsumer._claim),
            (InboxConsumer, "_call", InboxConsumer._call),
            (UnitOfWork, "commit", UnitOfWork.commit),
        ]
        process, claim, call, commit = (o[2] for o in originals)

        async def timed_process(self: InboxConsumer, records: Any) -> None:
            if self.handler.topic != TOPIC:
                return await process(self, records)
            started = time.perf_counter()
            if clock.first_start is None:
                clock.first_start = started
            token = IN_HEARTBEAT_BATCH.set(True)
            try:
                await process(self, records)
            finally:
                IN_HEARTBEAT_BATCH.reset(token)
            done = time.perf_counter()
            clock.process_s += done - started
            clock.batches.append(len(records))
            clock.done_events += len(records)
            if clock.done_events >= clock.target and not clock.finished.is_set():
                clock.last_done = done
                clock.finished.set()

        async def timed_claim(self: InboxConsumer, uow: Any, ids: Any) -> Any:
            started = time.perf_counter()
            try:
                return await claim(self, uow, ids)
            finally:
                clock.claim_s += time.perf_counter() - started

        async def timed_call(self: InboxConsumer, events: Any, uow: Any) -> None:
            started = time.perf_counter()
            try:
                await call(self, events, uow)
            finally:
                clock.handler_s += time.perf_counter() - started

        async def timed_commit(self: UnitOfWork) -> None:
            if not IN_HEARTBEAT_BATCH.get():  # the relay's, the sweeper's
                return await commit(self)
            started = time.perf_counter()
            try:
                await commit(self)
            finally:
                clock.commit_s += time.perf_counter() - started

        InboxConsumer.process = timed_process  # type: ignore[method-assign]
        InboxConsumer._claim = timed_claim  # type: ignore[method-assign]
        InboxConsumer._call = timed_call  # type: ignore[method-assign]
        UnitOfWork.commit = timed_commit  # type: ignore[method-assign]
        return originals

    @staticmethod
    def uninstall(originals: list[tuple[Any, str, Any]]) -> None:
        # Last patched, first restored: an attribute may have been patched twice.
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)


async def produce(bootstrap_servers: str, messages: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    producer = raw_producer(bootstrap_servers, client_id="bench-gateway", request_timeout_ms=30_000)
    await producer.start()
    try:
        started = time.perf_counter()
        pending = [await producer.send(TOPIC, value, key=key) for value, key in messages]
        await asyncio.gather(*pending)
        seconds = time.perf_counter() - started
        partitions = len(await producer.partitions_for(TOPIC) or ())
    finally:
        await producer.stop()
    return {
        "messages": len(messages),
        "seconds": round(seconds, 3),
        "per_s": round(len(messages) / seconds),
        "partitions": partitions,
        "avg_message_bytes": round(sum(len(v) for v, _ in messages) / len(messages)),
    }


def registry_settings(infra: Infrastructure, args: argparse.Namespace) -> PlatformSettings:
    return PlatformSettings(
        _env_file=None,
        database_url=infra.database_url,
        kafka_bootstrap_servers=infra.kafka.bootstrap_servers,
        consumer_batch_size=args.batch_size,
        consumer_session_timeout_ms=2000,
        migrate_on_start=False,
        log_json=False,
        log_level="WARNING",
    )


# Experiments: library changes this benchmark suggests, simulated in this process only, to
# measure what they would bring. The headline figure is always the code as it is.
EXPERIMENTS = {
    "gc_freeze": "gc.freeze() once the service has started (ServiceApp.start or the runner)",
    "gc_threshold": "gc.set_threshold(200_000, 10, 10): a consumed batch's objects die (by "
    "reference count) before the collector runs, instead of being walked and promoted",
    "no_inbox_record": "the inbox does not record heartbeat ids in processed_events "
    "(a naturally idempotent handler opting out of the dedupe insert)",
    "fetch_8mb": "subscribe_batches passes max_partition_fetch_bytes=8 MiB (aiokafka's default is "
    "1 MiB, ~1,700 heartbeats per partition per fetch), so one fetch fills a batch",
    "fillfactor_70": "a registry migration: ALTER TABLE kiosks SET (fillfactor = 70), so a "
    "heartbeat's UPDATE stays on its page (HOT, no index entries); applied with VACUUM FULL",
}
GC_THRESHOLDS = gc.get_threshold()
COMBOS = (
    ("gc_freeze",),
    ("gc_threshold",),
    ("gc_freeze", "gc_threshold"),
    ("no_inbox_record",),
    ("gc_freeze", "gc_threshold", "no_inbox_record"),
    ("gc_freeze", "gc_threshold", "fetch_8mb"),
    ("gc_freeze", "gc_threshold", "no_inbox_record", "fetch_8mb"),
    # The table keeps its fill factor from here on: these come last.
    ("fillfactor_70",),
    ("gc_freeze", "gc_threshold", "fillfactor_70"),
    ("gc_freeze", "gc_threshold", "no_inbox_record", "fillfactor_70"),
    ("gc_freeze", "gc_threshold", "no_inbox_record", "fetch_8mb", "fillfactor_70"),
)


async def set_fillfactor(dsn: str, percent: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"ALTER TABLE {SCHEMA}.kiosks SET (fillfactor = {percent})")
        await conn.execute(f"VACUUM FULL {SCHEMA}.kiosks")
        await conn.execute(f"ANALYZE {SCHEMA}.kiosks")
    finally:
        await conn.close()


def bigger_fetches() -> Any:
    """Simulate subscribe_batches asking the broker for up to 8 MiB per partition per fetch."""
    original = service_module.subscribe_batches

    def subscribe(*args: Any, **kwargs: Any) -> Any:
        broker, topics = args[0], args[1]
        return broker.subscriber(
            *topics,
            group_id=kwargs["group_id"],
            session_timeout_ms=kwargs["session_timeout_ms"],
            heartbeat_interval_ms=max(100, kwargs["session_timeout_ms"] // 10),
            batch=True,
            max_records=kwargs["max_records"],
            batch_timeout_ms=100,
            auto_offset_reset="earliest",
            ack_policy=kwargs["ack_policy"],
            title=kwargs.get("title"),
            description=kwargs.get("description"),
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
        )

    service_module.subscribe_batches = subscribe
    return original


def skip_inbox_record() -> Any:
    """Simulate an opt-out of `processed_events` for the heartbeat handler."""
    original = InboxConsumer._claim

    async def claim(self: InboxConsumer, uow: Any, ids: Any) -> Any:
        if self.handler.topic == TOPIC:
            return set(ids)
        return await original(self, uow, ids)

    InboxConsumer._claim = claim  # type: ignore[method-assign]
    return original


async def run_registry(
    infra: Infrastructure,
    args: argparse.Namespace,
    fleet: Fleet,
    cpu: CpuMeter,
    profile_path: Path | None,
    experiments: tuple[str, ...] = (),
) -> dict[str, Any]:
    n = args.heartbeats
    label = " + ".join(experiments) or "as is"
    print(f"  [{label}] producing {n:,} heartbeats to {TOPIC} ...", flush=True)
    plan = heartbeat_plan(fleet, n, datetime.now(UTC))
    newest = {kiosk_id: at for kiosk_id, at, _ in plan}
    messages = heartbeat_messages(fleet, plan)
    # Nothing of the bench's own stays alive for the registry's garbage collector to walk.
    del plan
    produced = await produce(infra.kafka.bootstrap_servers, messages)
    del messages
    gc.collect()

    clock = InboxClock(target=n)
    originals = clock.install()
    if "no_inbox_record" in experiments:
        originals.append((InboxConsumer, "_claim", skip_inbox_record()))
    if "fetch_8mb" in experiments:
        originals.append((service_module, "subscribe_batches", bigger_fetches()))
    app: ServiceApp = bootstrap(
        registry_settings(infra, args),
        Settings(_env_file=None, signing_key=generate_private_key_pem()),
    )
    profiler = cProfile.Profile(time.process_time) if profile_path else None
    out: dict[str, Any] = {
        "experiments": {name: EXPERIMENTS[name] for name in experiments},
        "produce": produced,
    }
    try:
        print(f"  [{label}] starting the registry; it drains the backlog ...", flush=True)
        started = time.perf_counter()
        cpu_measure: dict[str, Any] = {}
        async with app.running():
            logging.getLogger("faststream.access.kafka").setLevel(logging.WARNING)
            # What the service runner does in production once the service is built.
            tune_garbage_collector(app.platform.gc_threshold or app.definition.gc_threshold)
            if "gc_freeze" in experiments:
                gc.freeze()
            if "gc_threshold" in experiments:
                gc.set_threshold(200_000, 10, 10)
            # The clock starts when the inbox starts on its first batch: group formation is out.
            while clock.first_start is None:
                if time.perf_counter() - started > 120:
                    raise TimeoutError("the registry's consumer never got a batch")
                await asyncio.sleep(0.002)
            gc_clock = GcClock()
            gc.callbacks.append(gc_clock)
            gc_clock.enabled = True
            cpu.start()
            if profiler:
                profiler.enable()
            try:
                await asyncio.wait_for(clock.finished.wait(), timeout=args.timeout_s)
            finally:
                gc_clock.enabled = False
                gc.callbacks.remove(gc_clock)
            if profiler:
                profiler.disable()
            cpu_measure = cpu.stop()
            gc_report = gc_clock.report()
            outcomes = {
                outcome: int(app.metrics.events_consumed.labels(TOPIC, outcome)._value.get())
                for outcome in ("processed", "duplicate", "retried", "dead_lettered")
            }
            heartbeat_outcomes = dict(fleet_status.configure(app).outcomes)
    finally:
        clock.uninstall(originals)
        gc.unfreeze()
        gc.set_threshold(*GC_THRESHOLDS)
    assert clock.first_start is not None and clock.last_done is not None
    seconds = clock.last_done - clock.first_start
    batches = clock.batches
    out.update(
        {
            "group_join_s": round(clock.first_start - started, 3),
            "heartbeats": n,
            "seconds": round(seconds, 3),
            "per_s": round(n / seconds),
            "consumed": outcomes,
            "heartbeat_outcomes": heartbeat_outcomes,
            "inbox": {
                "batches": len(batches),
                "avg_batch_events": round(sum(batches) / len(batches), 1),
                "max_batch_events": max(batches),
                "min_batch_events": min(batches),
                "busy_s": round(clock.process_s, 3),
                "busy_share_of_drain": round(clock.process_s / seconds, 3),
                "avg_batch_ms": round(1000 * clock.process_s / len(batches), 1),
                # what is left of a batch's time: decoding, FastStream, metrics, begin/close
                "stages_s": {
                    "claim_processed_events": round(clock.claim_s, 3),
                    "handler_apply_heartbeats": round(clock.handler_s, 3),
                    "commit": round(clock.commit_s, 3),
                    "rest_of_inbox": round(
                        clock.process_s - clock.claim_s - clock.handler_s - clock.commit_s, 3
                    ),
                    "outside_inbox (fetch, FastStream, offsets, loop)": round(
                        seconds - clock.process_s, 3
                    ),
                },
                "per_heartbeat_us": {
                    "claim": round(1e6 * clock.claim_s / n, 1),
                    "handler": round(1e6 * clock.handler_s / n, 1),
                    "commit": round(1e6 * clock.commit_s / n, 1),
                    "whole_drain": round(1e6 * seconds / n, 1),
                },
            },
            "cpu": cpu_measure,
            "garbage_collector": gc_report,
        }
    )
    if profiler and profile_path:
        profiler.dump_stats(profile_path)
        out["profile"] = {"file": str(profile_path), "top": profile_summary(profiler)}
    out["check"] = await check(infra, newest)
    return out


async def check(infra: Infrastructure, newest: dict[uuid.UUID, datetime]) -> dict[str, Any]:
    """Every kiosk holds its newest heartbeat; the steady state published nothing."""
    conn = await asyncpg.connect(plain_dsn(infra.database_url))
    try:
        rows = await conn.fetch(
            f"SELECT id, last_heartbeat, status FROM {SCHEMA}.kiosks WHERE id = ANY($1::uuid[])",
            list(newest),
        )
        outbox = await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.outbox")
    finally:
        await conn.close()
    wrong = sum(1 for r in rows if r["last_heartbeat"] != newest[r["id"]])
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    return {
        "kiosks_checked": len(rows),
        "kiosks_without_their_newest_heartbeat": wrong,
        "statuses": statuses,
        "outbox_rows": outbox,
        "ok": wrong == 0 and len(rows) == len(newest),
    }


def mean_of(before: dict[str, Any], after: dict[str, Any], key: str) -> dict[str, Any]:
    return {
        "per_s": round((before[key]["per_s"] + after[key]["per_s"]) / 2),
        "before": before[key],
        "after": after[key],
    }


def print_report(result: dict[str, Any]) -> None:
    raw, reg = result["raw"], result["registry"]
    print()
    print(
        f"kiosk-registry heartbeats: {result['config']['kiosks']:,} kiosks, "
        f"{result['config']['heartbeats']:,} heartbeats, batch {result['config']['batch_size']:,}, "
        f"{result['machine']['cpu_count']} CPUs"
    )
    rows = [
        (
            "raw asyncpg UPDATE … FROM unnest",
            raw["upsert"]["per_s"],
            f"before {raw['upsert']['before']['per_s']:,}, "
            f"after {raw['upsert']['after']['per_s']:,}",
        ),
        (
            "raw + processed_events dedupe",
            raw["upsert_and_dedupe"]["per_s"],
            f"before {raw['upsert_and_dedupe']['before']['per_s']:,}, "
            f"after {raw['upsert_and_dedupe']['after']['per_s']:,}",
        ),
        ("REGISTRY topic -> kiosk status", reg["per_s"], f"target {TARGET_PER_S:,}"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'':{width}}  {'heartbeats/s':>12}")
    for label, value, note in rows:
        print(f"{label:{width}}  {value:>12,}  {note}")
    ratios = result["ratios"]
    print(
        f"registry / raw upsert = {ratios['registry_over_raw_upsert']:.3f}   "
        f"registry / raw upsert+dedupe = {ratios['registry_over_raw_upsert_and_dedupe']:.3f}"
    )
    inbox = reg["inbox"]
    print(
        f"inbox: {inbox['batches']} batches of {inbox['avg_batch_events']} on average, "
        f"{inbox['avg_batch_ms']} ms each; busy {inbox['busy_share_of_drain']:.0%} of the drain"
    )
    print("time by stage (s): " + ", ".join(f"{k} {v}" for k, v in inbox["stages_s"].items()))
    collector = reg["garbage_collector"]
    print(
        f"garbage collector: {collector['seconds']} s of the drain "
        f"(by generation {collector['seconds_by_generation']}, "
        f"{collector['collections_by_generation']} collections; "
        f"{collector['tracked_objects_at_end']:,} objects tracked)"
    )
    busy = reg["cpu"].get("cores_busy", {})
    if busy:
        print(
            "CPU during the drain (cores busy): " + ", ".join(f"{k} {v}" for k, v in busy.items())
        )
    check_ = reg["check"]
    print(
        f"check: {check_['kiosks_checked']:,} kiosks, "
        f"{check_['kiosks_without_their_newest_heartbeat']} without their newest heartbeat, "
        f"statuses {check_['statuses']}, outbox rows {check_['outbox_rows']}"
    )
    for name, experiment in result["experiments"].items():
        print(f"experiment {name}: {experiment['per_s']:,} heartbeats/s")
    verdict = "PASS" if result["pass"] else "FAIL"
    print(
        f"{verdict}: the registry absorbed {reg['per_s']:,} heartbeats/s against a target of "
        f"{TARGET_PER_S:,}" + ("" if result["pass"] else " -- it MISSES the target")
    )


# --- entry point --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.registry_heartbeats",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--kiosks", type=int, default=20_000)
    parser.add_argument("--heartbeats", type=int, default=200_000, help="N, per phase")
    parser.add_argument(
        "--batch-size", type=int, default=5000, help="consumer batch (max records) and raw txn"
    )
    parser.add_argument("--quick", action="store_true", help="a small run (2,000 kiosks, 20,000)")
    parser.add_argument("--timeout-s", type=float, default=600)
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the drain; the .prof lands in results/"
    )
    parser.add_argument(
        "--experiments",
        action="store_true",
        help="also drain with suggested library changes simulated: "
        + "; ".join(f"{k}: {v}" for k, v in EXPERIMENTS.items()),
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.kiosks, args.heartbeats = 2_000, 20_000
    if args.kiosks < 1 or args.heartbeats < 1:
        parser.error("--kiosks and --heartbeats must be positive")
    return args


async def run(args: argparse.Namespace, infra: Infrastructure, stamp: str) -> dict[str, Any]:
    machine_info = machine()
    dsn = plain_dsn(infra.database_url)
    upgrade(SERVICE, infra.database_url)  # runs in a thread of its own inside a running loop
    conn = await asyncpg.connect(dsn)
    try:
        print(f"seeding {args.kiosks:,} kiosks ...", flush=True)
        fleet = await seed(conn, args.kiosks)
    finally:
        await conn.close()
    print("raw baseline (before) ...", flush=True)
    before = await raw_baseline(dsn, fleet, args.heartbeats, args.batch_size)
    print("registry:", flush=True)
    cpu = CpuMeter(infra)
    profile_path = RESULTS_DIR / f"{NAME}-{stamp}.prof" if args.profile else None
    registry = await run_registry(infra, args, fleet, cpu, profile_path)
    print("raw baseline (after) ...", flush=True)
    after = await raw_baseline(dsn, fleet, args.heartbeats, args.batch_size)
    raw: dict[str, Any] = {
        "upsert": mean_of(before, after, "upsert"),
        "upsert_and_dedupe": mean_of(before, after, "upsert_and_dedupe"),
    }
    experiments: dict[str, Any] = {}
    if args.experiments:
        refilled = False
        for combo in COMBOS:
            if "fillfactor_70" in combo and not refilled:
                await set_fillfactor(dsn, 70)
                refilled = True
                raw["with_fillfactor_70"] = await raw_baseline(
                    dsn, fleet, args.heartbeats, args.batch_size
                )
            result = await run_registry(infra, args, fleet, cpu, None, combo)
            experiments["+".join(combo)] = {
                "per_s": result["per_s"],
                "garbage_collector": result["garbage_collector"],
                "simulates": result["experiments"],
                "inbox": result["inbox"],
                "cpu": result["cpu"],
                "check": result["check"],
            }
    rate = registry["per_s"]
    return {
        "benchmark": NAME,
        "timestamp": stamp,
        "machine": {**machine_info, "load_avg_at_end": [round(x, 2) for x in os.getloadavg()]},
        "config": {
            "kiosks": args.kiosks,
            "gyms": max(1, args.kiosks // KIOSKS_PER_GYM),
            "heartbeats": args.heartbeats,
            "batch_size": args.batch_size,
            "consumer_session_timeout_ms": 2000,
            "registry_settings": "defaults (30 s interval, window 100 s, sweep every 5 s)",
            "profiled": bool(args.profile),
            "experiments": bool(args.experiments),
        },
        "raw": raw,
        "registry": registry,
        "experiments": experiments,
        "ratios": {
            "registry_over_raw_upsert": round(rate / raw["upsert"]["per_s"], 4),
            "registry_over_raw_upsert_and_dedupe": round(
                rate / raw["upsert_and_dedupe"]["per_s"], 4
            ),
        },
        "target_per_s": TARGET_PER_S,
        "pass": rate >= TARGET_PER_S and registry["check"]["ok"],
        "best_experiment_per_s": max((e["per_s"] for e in experiments.values()), default=None),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = start_run()
    infra = Infrastructure(DATABASE)
    print("starting embedded PostgreSQL and broker ...", flush=True)
    infra.start()
    try:
        result = asyncio.run(run(args, infra, stamp))
    finally:
        infra.stop()
    path = write_results(NAME, stamp, result)
    print_report(result)
    print(f"results: {path}")
    # A missed target is a result, not a crash; a kiosk without its newest heartbeat is a bug.
    checks = [result["registry"]["check"]] + [e["check"] for e in result["experiments"].values()]
    return 0 if all(c["ok"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
