"""Events per second through outbox -> relay -> broker -> idempotent consumer -> database.

`make bench` (or `python -m bench.pipeline` from the repository root) starts its own embedded
PostgreSQL (temporary directory, deleted at the end) and a fresh embedded broker on a free port,
then measures, in one run and on that one broker:

1. raw baseline: an aiokafka producer (acks=all, no idempotence, the platform's producer
   settings) sends N messages shaped like the relay's (the same ~520 B envelope JSON, key and
   five headers) to a fresh topic; a raw aiokafka consumer reads them back with `getmany`
   (max_records=10,000). It runs before and after the pipeline, on fresh topics: the machine is
   shared, and the spread between the two shows how much the load moved during the run.
2. end to end (the figure the 5,000 events/s target applies to): a bench service (`bench/
   service.py`, like the test probe) writes N events into its outbox in transactions of
   `--txn-size`, while its relay publishes them and its inbox consumer applies them (one
   `effects` row per event, deduplicated through `processed_events`). Measured from the first
   outbox commit to the moment the last effect row is seen committed (the effects table is
   polled; no fixed sleeps). Also reported: the concurrent outbox write rate, the relay rate
   (outbox rows marked published per second), the inbox's own batch timings, the CPU used by
   the bench process, PostgreSQL, the broker and everything else, and the bench process's CPU
   time split by stage (writer, relay, consumer, socket reads).
3. with `--backlog`, before 2: N events are written while the relay is held off (the bench
   holds the relay's advisory lock), then the relay is let go and drains them while the
   consumer applies them: the outbox write rate alone and the relay's rate with no writer.

Consumer-group formation is excluded: a warm-up event goes through first and its effect is
awaited before any clock starts. Writer, relay and consumer share this one process and event
loop, as a service that consumes its own events would.

`--handler batch` (default) is a batch handler (`EventHandlers.on_batch`) inserting each batch
with one executemany, as throughput paths are written; `--handler row` inserts with one
statement per event;
`--handler orm` only adds an ORM object per event, so SQLAlchemy flushes the batch's rows as
one multi-row INSERT at commit.

Results: `bench/results/pipeline-<UTC timestamp>.json` and `bench/results/pipeline-latest.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bench.common import (
    RESULTS_DIR,
    Infrastructure,
    machine,
    profile_summary,
    raw_consume,
    raw_producer,
    start_run,
    write_results,
)
from bench.service import (
    FRANCHISE_ID,
    HANDLERS,
    SCHEMA,
    TOPIC,
    HandlerClock,
    bootstrap,
    checked_in,
    create_schema,
)
from jarvis_common.events import new_event
from jarvis_common.service import ServiceApp
from jarvis_common.settings import PlatformSettings, plain_dsn

try:  # a dependency of pgserver, so present wherever the embedded database is
    import psutil
except ImportError:  # pragma: no cover
    psutil = None  # type: ignore[assignment]

log = logging.getLogger("bench.pipeline")

TARGET_EVENTS_PER_S = 5000
DATABASE = "bench"
Message = tuple[bytes, bytes, list[tuple[str, bytes]]]


# --- infrastructure -----------------------------------------------------------------------------


class CpuMeter:
    """CPU seconds used by the bench process, the broker and PostgreSQL over a phase."""

    def __init__(self, infra: Infrastructure):
        self.infra = infra
        self._start: dict[str, float] = {}
        self._wall = 0.0

    def _sample(self) -> dict[str, float]:
        sample = {"bench_process": time.process_time()}
        for name, procs in self.infra.processes().items():
            total = 0.0
            for proc in procs:
                try:
                    t = proc.cpu_times()
                    total += t.user + t.system
                except psutil.Error:
                    pass
            sample[name] = total
        if psutil is not None:
            t = psutil.cpu_times()
            sample["whole_machine"] = sum(t) - t.idle - getattr(t, "iowait", 0.0)
        return sample

    def start(self) -> None:
        self._start = self._sample()
        self._wall = time.perf_counter()

    def stop(self) -> dict[str, Any]:
        end = self._sample()
        wall = time.perf_counter() - self._wall
        used = {k: round(end[k] - self._start.get(k, 0.0), 2) for k in end}
        if "whole_machine" in used:
            # CPU taken by everything else on the machine (other test runs...) in the meantime.
            ours = sum(v for k, v in used.items() if k != "whole_machine")
            used["other_processes"] = round(max(0.0, used["whole_machine"] - ours), 2)
        return {
            "wall_s": round(wall, 2),
            "cpu_s": used,
            # 1.0 = one core busy for the whole phase; this machine has os.cpu_count() cores.
            "cores_busy": {k: round(v / wall, 2) for k, v in used.items()} if wall else {},
        }


# --- raw baseline -------------------------------------------------------------------------------


def realistic_messages(n: int) -> list[Message]:
    """What the relay sends: the envelope JSON, the subject as key, the same five headers."""
    messages = []
    for i in range(n):
        data = checked_in(i)
        e = new_event(data, source="bench", gym_id=data.gym_id, franchise_id=FRANCHISE_ID)
        headers = {
            "event-type": e.type,
            "event-version": str(e.version),
            "event-id": str(e.id),
            "trace-id": e.trace_id,
            "content-type": "application/json",
        }
        messages.append(
            (e.to_json(), e.subject.encode(), [(k, v.encode()) for k, v in headers.items()])
        )
    return messages


async def raw_produce(
    bootstrap_servers: str, topic: str, messages: list[Message]
) -> dict[str, Any]:
    producer = raw_producer(bootstrap_servers, client_id="bench-raw", request_timeout_ms=15_000)
    await producer.start()
    try:
        # Creates the topic and loads its metadata outside the clock.
        await producer.send_and_wait(topic, b"{}", key=b"warm-up")
        partitions = len(await producer.partitions_for(topic) or ())
        started = time.perf_counter()
        pending = [
            await producer.send(topic, value, key=key, headers=headers)
            for value, key, headers in messages
        ]
        await asyncio.gather(*pending)
        seconds = time.perf_counter() - started
    finally:
        await producer.stop()
    return {
        "messages": len(messages),
        "seconds": round(seconds, 3),
        "msgs_per_s": round(len(messages) / seconds),
        "partitions": partitions,
    }


# --- pipeline instrumentation -------------------------------------------------------------------


@dataclass
class RelayStats:
    rounds: int = 0
    rows: int = 0
    busy_s: float = 0.0
    first_round_started: float | None = None
    last_round_done: float | None = None

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


def instrument_relay(app: ServiceApp, stats: RelayStats) -> None:
    """Count the rows each relay round marks published, without changing what it does."""
    relay = app.relay
    original = relay.publish_once

    async def publish_once() -> int:
        started = time.perf_counter()
        sent = await original()
        if sent:
            done = time.perf_counter()
            stats.rounds += 1
            stats.rows += sent
            stats.busy_s += done - started
            if stats.first_round_started is None:
                stats.first_round_started = started
            stats.last_round_done = done
        return sent

    relay.publish_once = publish_once  # type: ignore[method-assign]


@dataclass
class WriterStats:
    events: int = 0
    transactions: int = 0
    started: float = 0.0
    first_commit: float = 0.0
    last_commit: float = 0.0

    @property
    def rate(self) -> float:
        return self.events / (self.last_commit - self.started)


async def write_outbox(app: ServiceApp, n: int, txn_size: int, offset: int) -> WriterStats:
    """N events through units of work, `txn_size` per transaction, as a service would."""
    stats = WriterStats(started=time.perf_counter())
    for start in range(offset, offset + n, txn_size):
        async with app.db.unit_of_work() as uow:
            for i in range(start, min(offset + n, start + txn_size)):
                data = checked_in(i)
                uow.publish(data, gym_id=data.gym_id, franchise_id=FRANCHISE_ID)
        now = time.perf_counter()
        if not stats.first_commit:
            stats.first_commit = now
        stats.last_commit = now
        stats.events += min(txn_size, offset + n - start)
        stats.transactions += 1
        # Let the relay and the consumer in between transactions, as concurrent requests would.
        await asyncio.sleep(0)
    return stats


@dataclass
class EffectsWatch:
    """Polls the committed effects; `samples` is a coarse timeline for the JSON."""

    conn: asyncpg.Connection
    interval_s: float = 0.02
    samples: list[tuple[float, int]] = field(default_factory=list)

    async def count(self) -> int:
        return int(await self.conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.effects"))

    async def wait_for(self, target: int, *, stall_timeout_s: float = 60.0) -> float:
        """Return the time at which at least `target` effect rows were seen committed."""
        last_seen, last_progress = -1, time.perf_counter()
        while True:
            # max(seq) reads one index entry; the consumer's transactions commit one after the
            # other without gaps when nothing fails, so it tracks the count cheaply.
            seq = int(
                await self.conn.fetchval(f"SELECT coalesce(max(seq), 0) FROM {SCHEMA}.effects")
            )
            now = time.perf_counter()
            if not self.samples or now - self.samples[-1][0] >= 0.5:
                self.samples.append((now, seq))
            if seq >= target and await self.count() >= target:
                return now
            if seq != last_seen:
                last_seen, last_progress = seq, now
            elif now - last_progress > stall_timeout_s:
                raise TimeoutError(
                    f"no new effect row for {stall_timeout_s:.0f}s ({seq} of {target})"
                )
            await asyncio.sleep(self.interval_s)

    def timeline(self, origin: float, base: int) -> list[list[float]]:
        return [[round(t - origin, 2), n - base] for t, n in self.samples if t >= origin]


class ConsumerMeter:
    """The inbox's own histogram: batches consumed and the time spent in them."""

    def __init__(self, app: ServiceApp):
        self.registry = app.metrics.registry
        self.name = f"{app.metrics.prefix}_consume_batch_seconds"
        self._start = self._read()

    def _read(self) -> tuple[float, float]:
        labels = {"topic": TOPIC}
        count = self.registry.get_sample_value(f"{self.name}_count", labels) or 0.0
        total = self.registry.get_sample_value(f"{self.name}_sum", labels) or 0.0
        return count, total

    def delta(self, events: int) -> dict[str, Any]:
        count, total = self._read()
        batches = int(count - self._start[0])
        seconds = total - self._start[1]
        return {
            "batches": batches,
            "avg_batch_events": round(events / batches, 1) if batches else None,
            "inbox_busy_s": round(seconds, 3),
            "avg_batch_ms": round(1000 * seconds / batches, 1) if batches else None,
            # Rate while the inbox is actually working on batches (its capacity if fed).
            "events_per_inbox_busy_s": round(events / seconds) if seconds else None,
        }


class LoopCpu:
    """The bench process's event-loop time, attributed to what the loop was running.

    Every callback the loop runs is timed and charged to the task it steps (named at the end by
    the task's coroutine: the writer, the relay, the FastStream consume loop, aiokafka's fetcher
    and sender...) or, for plain callbacks, to the callback itself (socket reads). SQLAlchemy's
    greenlets run inside the step of the task that awaits them, so they are charged to it.
    Callbacks never block, so the time inside one is CPU time, give or take preemption; the
    monotonic clock is used because the thread CPU clock costs a system call (~0.4 us) here.
    """

    def __init__(self) -> None:
        self.busy: dict[Any, float] = {}
        self.enabled = False
        self._original: Any = None

    def install(self) -> None:
        original = self._original = asyncio.events.Handle._run
        busy = self.busy
        meter = self
        clock = time.perf_counter
        task_type = asyncio.Task

        def _run(handle: asyncio.Handle) -> None:
            if not meter.enabled:
                return original(handle)
            started = clock()
            try:
                return original(handle)
            finally:
                callback = handle._callback  # type: ignore[attr-defined]
                owner = getattr(callback, "__self__", None)
                key = owner if isinstance(owner, task_type) else callback
                busy[key] = busy.get(key, 0.0) + clock() - started

        asyncio.events.Handle._run = _run  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if self._original is not None:
            asyncio.events.Handle._run = self._original  # type: ignore[method-assign]

    def report(self) -> dict[str, Any]:
        by_label: dict[str, float] = {}
        for key, seconds in self.busy.items():
            label = _callback_label(key)
            by_label[label] = by_label.get(label, 0.0) + seconds
        total = sum(by_label.values()) or 1.0
        stages: dict[str, float] = {}
        for label, seconds in by_label.items():
            stage = _stage_of(label)
            stages[stage] = stages.get(stage, 0.0) + seconds
        ranked = sorted(stages.items(), key=lambda kv: -kv[1])
        return {
            "loop_busy_s": round(total, 2),
            "by_stage_s": {k: round(v, 2) for k, v in ranked},
            "by_stage_share": {k: round(v / total, 3) for k, v in ranked},
            "by_callback_s": {
                k: round(v, 3)
                for k, v in sorted(by_label.items(), key=lambda kv: -kv[1])
                if v >= 0.01
            },
        }


def _callback_label(key: Any) -> str:
    if isinstance(key, asyncio.Task):
        coro = key.get_coro()
        return "task " + getattr(coro, "__qualname__", type(coro).__name__)
    return "callback " + getattr(key, "__qualname__", type(key).__name__)


_STAGES = [
    ("write_outbox", "writer (units of work -> outbox)"),
    ("OutboxRelay", "relay (read outbox, producer.send, mark published)"),
    ("Sender", "relay's producer I/O (aiokafka sender)"),
    ("_run_consume_loop", "consumer (FastStream + inbox + handler + commit)"),
    ("Fetcher", "consumer fetch (aiokafka fetcher)"),
    ("_read_ready", "socket reads (PostgreSQL and broker)"),
    ("run_pipeline", "bench watcher"),
]


def _stage_of(label: str) -> str:
    for marker, stage in _STAGES:
        if marker in label:
            return stage
    return "other"


def rate(n: int, seconds: float) -> int:
    return round(n / seconds) if seconds > 0 else 0


# --- the pipeline run ---------------------------------------------------------------------------


def bench_settings(infra: Infrastructure, args: argparse.Namespace) -> PlatformSettings:
    return PlatformSettings(
        _env_file=None,
        database_url=infra.database_url,
        kafka_bootstrap_servers=infra.kafka.bootstrap_servers,
        consumer_session_timeout_ms=2000,
        outbox_batch_size=args.outbox_batch_size,
        outbox_poll_interval_s=args.outbox_poll_interval_s,
        consumer_batch_size=args.consumer_batch_size,
        migrate_on_start=False,
        log_json=False,
        log_level="WARNING",
    )


async def warm_up(app: ServiceApp, watch: EffectsWatch) -> float:
    """One event straight to the topic, so the consumer group forms before any clock starts."""
    started = time.perf_counter()
    data = checked_in(-1)
    e = new_event(data, source="bench", gym_id=data.gym_id, franchise_id=FRANCHISE_ID)
    await app.producer.send_and_wait(TOPIC, e.to_json(), key=e.subject.encode())
    await watch.wait_for(1, stall_timeout_s=60)
    return time.perf_counter() - started


async def run_pipeline(
    infra: Infrastructure, args: argparse.Namespace, profile_path: Path | None
) -> dict[str, Any]:
    n = args.events
    await create_schema(infra.database_url)
    dsn = plain_dsn(infra.database_url)
    watch = EffectsWatch(await asyncpg.connect(dsn))
    lock_conn = await asyncpg.connect(dsn)
    clock = HandlerClock()
    relay_stats = RelayStats()
    cpu = CpuMeter(infra)
    app = bootstrap(bench_settings(infra, args), clock, handler=args.handler)
    out: dict[str, Any] = {}
    # The relay elects itself with this advisory lock (see OutboxRelay); holding it keeps the
    # relay standing by while the backlog is written.
    lock_key = zlib.crc32(f"jarvis-outbox:{SCHEMA}".encode())
    await lock_conn.execute("SELECT pg_advisory_lock($1::bigint)", lock_key)
    try:
        async with app.running():
            # FastStream logs two lines per batch through its own logger, made at start.
            logging.getLogger("faststream.access.kafka").setLevel(logging.WARNING)
            instrument_relay(app, relay_stats)
            out["warm_up_s"] = round(await warm_up(app, watch), 2)
            done = 1

            if args.backlog:
                print(f"  backlog: writing {n} events with the relay held off ...", flush=True)
                cpu.start()
                writer = await write_outbox(app, n, args.txn_size, offset=0)
                write_cpu = cpu.stop()
                if relay_stats.rows:
                    raise RuntimeError("the relay published while its lock was held")
                print("  backlog: relay released, draining ...", flush=True)
                consumer = ConsumerMeter(app)
                clock.reset()
                cpu.start()
                await lock_conn.execute("SELECT pg_advisory_unlock($1::bigint)", lock_key)
                t_effects = await watch.wait_for(done + n)
                drain_cpu = cpu.stop()
                start = relay_stats.first_round_started or 0.0
                relay_s = (relay_stats.last_round_done or 0.0) - start
                out["backlog"] = {
                    "outbox_write_events_per_s": round(writer.rate),
                    "outbox_write_cpu": write_cpu,
                    "relay_events_per_s": rate(relay_stats.rows, relay_s),
                    "relay_rounds": relay_stats.rounds,
                    "relay_avg_round_ms": round(1000 * relay_stats.busy_s / relay_stats.rounds, 1),
                    # relay + consumer together, from the relay's first round to the last effect
                    "drain_events_per_s": rate(n, t_effects - start),
                    "consumer_lag_after_relay_s": round(
                        t_effects - (relay_stats.last_round_done or t_effects), 3
                    ),
                    "consumer": consumer.delta(n),
                    "handler_s": round(clock.seconds, 3),
                    "drain_cpu": drain_cpu,
                    "timeline_s_effects": watch.timeline(start, done),
                }
                done += n
            else:
                await lock_conn.execute("SELECT pg_advisory_unlock($1::bigint)", lock_key)

            print(f"  end to end: writing {n} events while relaying and consuming ...", flush=True)
            relay_stats.reset()
            clock.reset()
            consumer = ConsumerMeter(app)
            profiler = cProfile.Profile() if profile_path else None
            loop_cpu = LoopCpu()
            if not args.no_stage_cpu:
                loop_cpu.install()
            cpu.start()
            if profiler:
                profiler.enable()
            loop_cpu.enabled = True
            writer_task = asyncio.create_task(write_outbox(app, n, args.txn_size, offset=done))
            t_effects = await watch.wait_for(done + n)
            writer = await writer_task
            loop_cpu.enabled = False
            if profiler:
                profiler.disable()
            e2e_cpu = cpu.stop()
            loop_cpu.uninstall()
            e2e_s = t_effects - writer.first_commit
            relay_s = (relay_stats.last_round_done or 0.0) - writer.first_commit
            out["end_to_end"] = {
                "events_per_s": rate(n, e2e_s),
                "seconds": round(e2e_s, 3),
                "outbox_write_events_per_s": round(writer.rate),
                "outbox_write_s": round(writer.last_commit - writer.started, 3),
                # outbox rows marked published, from the first outbox commit
                "relay_events_per_s": rate(relay_stats.rows, relay_s),
                "relay_rounds": relay_stats.rounds,
                "relay_avg_rows_per_round": round(relay_stats.rows / max(1, relay_stats.rounds)),
                "consumer_lag_after_relay_s": round(
                    t_effects - (relay_stats.last_round_done or t_effects), 3
                ),
                "consumer": consumer.delta(n),
                "handler_s": round(clock.seconds, 3),
                "cpu": e2e_cpu,
                "bench_process_loop_busy_by_stage": loop_cpu.report() if loop_cpu.busy else None,
                "timeline_s_effects": watch.timeline(writer.first_commit, done),
            }
            done += n
            if profiler and profile_path:
                profiler.dump_stats(profile_path)
                out["profile"] = {"file": str(profile_path), "top": profile_summary(profiler)}
        out["effects_total"] = await watch.count()
        out["effects_expected"] = done
        if out["effects_total"] != done:
            # Each event must have exactly one effect: more means the dedupe failed.
            raise RuntimeError(f"{out['effects_total']} effect rows for {done} events")
    finally:
        await watch.conn.close()
        await lock_conn.close()
    return out


def print_report(result: dict[str, Any]) -> None:
    raw, pipe = result["raw"], result["pipeline"]
    e2e = pipe["end_to_end"]
    rows: list[tuple[str, str, str]] = [
        (
            "raw aiokafka produce (acks=all)",
            f"{raw['produce']['msgs_per_s']:>9,}",
            f"mean of {raw['produce']['before']['msgs_per_s']:,} before and "
            f"{raw['produce']['after']['msgs_per_s']:,} after the pipeline",
        ),
        (
            "raw aiokafka consume (getmany)",
            f"{raw['consume']['msgs_per_s']:>9,}",
            f"mean of {raw['consume']['before']['msgs_per_s']:,} before and "
            f"{raw['consume']['after']['msgs_per_s']:,} after the pipeline",
        ),
    ]
    if "backlog" in pipe:
        b = pipe["backlog"]
        rows += [
            ("backlog: outbox write alone", f"{b['outbox_write_events_per_s']:>9,}", ""),
            ("backlog: relay draining (rows marked)", f"{b['relay_events_per_s']:>9,}", ""),
            ("backlog: relay + consumer drain", f"{b['drain_events_per_s']:>9,}", ""),
            (
                "backlog: inbox while busy",
                f"{b['consumer']['events_per_inbox_busy_s'] or 0:>9,}",
                "",
            ),
        ]
    rows += [
        ("e2e: outbox write (concurrent)", f"{e2e['outbox_write_events_per_s']:>9,}", ""),
        ("e2e: relay (rows marked)", f"{e2e['relay_events_per_s']:>9,}", ""),
        ("e2e: inbox while busy", f"{e2e['consumer']['events_per_inbox_busy_s'] or 0:>9,}", ""),
        (
            "PIPELINE END TO END",
            f"{e2e['events_per_s']:>9,}",
            f"target {result['target_events_per_s']:,}",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    print(
        f"JARVIS messaging pipeline, {result['events']:,} events, "
        f"{result['machine']['cpu_count']} CPUs, Python {result['machine']['python']}"
    )
    print(f"{'':{width}}  {'events/s':>9}")
    for label, value, note in rows:
        print(f"{label:{width}}  {value}  {note}")
    ratios = result["ratios"]
    print(
        f"pipeline / raw consume = {ratios['pipeline_over_raw_consume']:.3f}   "
        f"pipeline / raw produce = {ratios['pipeline_over_raw_produce']:.3f}"
    )
    c = e2e["consumer"]
    print(
        f"e2e inbox: {c['batches']} batches, {c['avg_batch_events']} events/batch, "
        f"{c['avg_batch_ms']} ms/batch; time inside the handler "
        f"({args_handler(result)}) {e2e['handler_s']} s of {e2e['seconds']} s"
    )
    busy = e2e["cpu"].get("cores_busy", {})
    if busy:
        print("e2e CPU (cores busy): " + ", ".join(f"{k} {v}" for k, v in busy.items()))
    stages = e2e.get("bench_process_loop_busy_by_stage")
    if stages:
        print(
            f"e2e bench-process event-loop busy time by stage ({stages['loop_busy_s']} s; "
            "~CPU, per event of this phase):"
        )
        for stage, seconds in stages["by_stage_s"].items():
            per_event_us = 1e6 * seconds / result["events"]
            print(f"  {stage:55} {seconds:6.2f} s  {per_event_us:6.1f} us/event")
    if result.get("noisy"):
        other = e2e["cpu"]["cores_busy"]["other_processes"]
        print(
            f"WARNING: other processes kept {other} cores busy during the end-to-end phase "
            f"(of {result['machine']['cpu_count']}); this run's figures are depressed by them"
        )
    verdict = "PASS" if result["pass"] else "FAIL"
    print(
        f"{verdict}: the pipeline sustained {e2e['events_per_s']:,} events/s end to end "
        f"against a target of {result['target_events_per_s']:,}"
        + ("" if result["pass"] else " -- it MISSES the target")
    )


def args_handler(result: dict[str, Any]) -> str:
    return {
        "batch": "one executemany per batch",
        "row": "one INSERT per event",
        "orm": "session.add only",
    }.get(result["config"]["handler"], result["config"]["handler"])


# --- entry point --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pipeline",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--events", type=int, default=50_000, help="events per phase (N)")
    parser.add_argument("--quick", action="store_true", help="a tiny run (2,000 events)")
    parser.add_argument("--txn-size", type=int, default=500, help="events per outbox transaction")
    parser.add_argument(
        "--outbox-batch-size",
        type=int,
        default=PlatformSettings.model_fields["outbox_batch_size"].default,
    )
    parser.add_argument(
        "--outbox-poll-interval-s",
        type=float,
        default=PlatformSettings.model_fields["outbox_poll_interval_s"].default,
    )
    parser.add_argument(
        "--consumer-batch-size",
        type=int,
        default=PlatformSettings.model_fields["consumer_batch_size"].default,
    )
    parser.add_argument(
        "--handler",
        choices=HANDLERS,
        default="batch",
        help="batch: a batch handler, one executemany per batch (default); row: one INSERT "
        "per event; orm: session.add, flushed as one multi-row INSERT at commit",
    )
    parser.add_argument(
        "--backlog",
        action="store_true",
        help="also run the stage-by-stage backlog phase first (outbox write alone, then the "
        "relay draining it)",
    )
    parser.add_argument(
        "--no-stage-cpu",
        action="store_true",
        help="do not attribute the bench process's CPU time to stages",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the end-to-end phase; the .prof lands in bench/results/",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.events = 2_000
    if args.events < 1:
        parser.error("--events must be positive")
    return args


async def raw_baseline(infra: Infrastructure, n: int, topic: str) -> dict[str, Any]:
    print(f"raw baseline on {topic}: {n} messages ...", flush=True)
    messages = realistic_messages(n)
    produce = await raw_produce(infra.kafka.bootstrap_servers, topic, messages)
    del messages
    consume = await raw_consume(
        infra.kafka.bootstrap_servers, topic, n + 1, rate_key="msgs_per_s", client_id="bench-raw"
    )
    return {"produce": produce, "consume": consume}


async def run(args: argparse.Namespace, infra: Infrastructure, stamp: str) -> dict[str, Any]:
    n = args.events
    machine_info = machine()
    # The raw baseline runs before and after the pipeline, each on a fresh topic: the machine is
    # shared, and the spread between the two says how much the load moved during the run.
    before = await raw_baseline(infra, n, "bench.raw.before")
    print("pipeline:", flush=True)
    profile_path = RESULTS_DIR / f"pipeline-{stamp}.prof" if args.profile else None
    pipeline = await run_pipeline(infra, args, profile_path)
    after = await raw_baseline(infra, n, "bench.raw.after")
    produce = {
        "msgs_per_s": round((before["produce"]["msgs_per_s"] + after["produce"]["msgs_per_s"]) / 2),
        "before": before["produce"],
        "after": after["produce"],
    }
    consume = {
        "msgs_per_s": round((before["consume"]["msgs_per_s"] + after["consume"]["msgs_per_s"]) / 2),
        "before": before["consume"],
        "after": after["consume"],
    }
    e2e = pipeline["end_to_end"]["events_per_s"]
    return {
        "benchmark": "pipeline",
        "timestamp": stamp,
        "machine": {
            **machine_info,
            "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "events": n,
        "config": {
            "handler": args.handler,
            "txn_size": args.txn_size,
            "outbox_batch_size": args.outbox_batch_size,
            "outbox_poll_interval_s": args.outbox_poll_interval_s,
            "consumer_batch_size": args.consumer_batch_size,
            "consumer_session_timeout_ms": 2000,
            "raw_topic_partitions": before["produce"]["partitions"],
            "writer": "same process and event loop as the relay and the consumer",
            "profiled": bool(args.profile),
        },
        "raw": {"produce": produce, "consume": consume},
        "pipeline": pipeline,
        "ratios": {
            "pipeline_over_raw_consume": round(e2e / consume["msgs_per_s"], 4),
            "pipeline_over_raw_produce": round(e2e / produce["msgs_per_s"], 4),
        },
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "pass": e2e >= TARGET_EVENTS_PER_S,
        # Something else on the machine took a quarter of a core or more while we measured.
        "noisy": pipeline["end_to_end"]["cpu"]["cores_busy"].get("other_processes", 0.0) >= 0.25,
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
    path = write_results("pipeline", stamp, result)
    print_report(result)
    print(f"results: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
