"""Conversation summaries per second through the summarizer, with a 1-second model and offline.

`python -m bench.summarizer` (from the repository root) starts its own embedded PostgreSQL
(temporary directory, deleted at the end) and a fresh embedded broker, migrates the summarizer's
schema, and measures two modes in one run:

1. **fake model at 1 s**: the service, built by its own composition root with the OpenAI
   provider, talks through the real `openai` SDK to the local fake OpenAI server (in a process of
   its own, so its CPU is not counted as the service's) whose every answer is a structured
   analysis sent after 1 second.
2. **offline**: the same, with the offline provider (no model).

For each mode: one warm-up session goes through first (consumer-group formation excluded); then
N realistic `session.closed` events (French and English transcripts of 2 to 8 turns, with phone
numbers to mask) are produced to the topic, and the clock runs from the first send to the moment
the N-th summary is committed (the summaries table is polled; no fixed sleeps). The target
applies to that figure: at least 100 summaries/s with the 1-second model (the model's latency,
not the pipeline, is the limit) and 1,000/s offline.

Baseline, in the same run: the same N sessions read back from the topic and dropped by a bare
aiokafka consumer (getmany, no decoding): what the broker and the machine give at most. For the
1-second model, a second reference: the same N model calls made straight through the provider at
the same concurrency, without broker, database or pipeline (what the SDK, the fake server and
the machine allow): the pipeline's figure over it says how much the pipeline itself costs.

Results: `bench/results/summarizer-<UTC timestamp>.json` / `.md`, and `summarizer-latest.*`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import psutil

from bench.common import (
    Infrastructure,
    machine,
    raw_consume,
    raw_producer,
    start_run,
    write_results,
)
from jarvis_common.db.migrations import upgrade
from jarvis_common.events import new_event
from jarvis_common.events.catalogue import SessionClosed, TranscriptItem
from jarvis_common.metrics import InfraMetrics
from jarvis_common.settings import PlatformSettings, plain_dsn
from jarvis_common.testing.fake_openai import FakeOpenAI, HttpUsage, Reply
from summarizer.bootstrap import SERVICE, bootstrap
from summarizer.conversation import Conversation, conversation_of
from summarizer.metrics import SummarizerMetrics
from summarizer.openai_provider import OpenAIProvider
from summarizer.settings import Settings

NAME = "summarizer"
DATABASE = "bench_summarizer"
TOPIC = SessionClosed.event_type
TARGETS = {"fake_model_1s": 100, "offline": 1000}
MODEL_LATENCY_S = 1.0

CONVERSATIONS = [
    ("fr", ["Bonjour, quels sont les horaires du samedi ?", "De 9 h à 19 h.", "Merci !"]),
    (
        "fr",
        [
            "Je veux résilier mon abonnement, c'est devenu trop cher.",
            "Je comprends. Puis-je vous proposer une formule moins chère ?",
            "Non, et en plus les douches sont toujours sales. Rappelez-moi au 06 {n}.",
            "Je transmets votre demande au responsable.",
        ],
    ),
    (
        "fr",
        [
            "J'aimerais perdre du poids avant l'été, vous avez des coachs ?",
            "Oui, nos coachs proposent un bilan gratuit.",
            "Super, et le cours de yoga du mardi est à quelle heure ?",
            "À 18 h 30.",
            "Parfait, merci beaucoup.",
        ],
    ),
    (
        "en",
        [
            "Hi, how much is the student membership?",
            "It is 24 euros a month.",
            "That's quite expensive. Is there a discount for a year?",
            "Yes, two months free.",
            "Ok thanks, call me at +33 6 {n} please.",
        ],
    ),
    (
        "en",
        [
            "The treadmill number 4 is broken again, this is unacceptable.",
            "Sorry about that, I will report it.",
            "You said that last week. I'm thinking of leaving the gym.",
            "I understand your frustration.",
            "Just fix it.",
            "It is reported to the manager now.",
        ],
    ),
    ("fr", ["Est-ce qu'il y a un parking ?", "Oui, gratuit pour les membres."]),
    (
        "fr",
        [
            "Je voudrais suspendre mon abonnement pendant deux mois, je suis blessé au genou.",
            "C'est possible avec un certificat médical.",
            "D'accord, je l'envoie par mail.",
            "Très bien.",
            "Et la piscine est ouverte le dimanche ?",
            "Oui, de 10 h à 18 h.",
            "Merci, bonne journée.",
            "Bonne journée !",
        ],
    ),
]


def sessions(n: int, seed: int) -> list[SessionClosed]:
    rng = random.Random(seed)
    gyms = [uuid.UUID(int=1000 + i) for i in range(20)]
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        language, lines = CONVERSATIONS[i % len(CONVERSATIONS)]
        number = f"{rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} 00"
        out.append(
            SessionClosed(
                session_id=uuid.uuid4(),
                kiosk_id=uuid.uuid4(),
                gym_id=gyms[i % len(gyms)],
                member_id=uuid.uuid4() if i % 3 else None,
                started_at=now - timedelta(minutes=3),
                ended_at=now,
                end_reason="kiosk_ended",
                language=language,
                model="gpt-4o-mini-realtime-preview",
                transcript=tuple(
                    TranscriptItem(
                        item_id=f"it{j}",
                        role="user" if j % 2 == 0 else "assistant",
                        text=line.replace("{n}", number),
                    )
                    for j, line in enumerate(lines)
                ),
            )
        )
    return out


ANALYSIS = {
    "summary": "Le membre a demandé les horaires du samedi et a remercié l'accueil.",
    "conversation_language": "fr",
    "sentiment_label": "positive",
    "sentiment_score": 0.6,
    "topics": ["schedule"],
    "tags": ["weekend"],
    "goals": [],
    "follow_ups": [],
    "churn_signals": [],
    "member_satisfied": True,
}


class FakeModelProcess:
    """The fake OpenAI server in a process of its own, so its CPU is not counted as ours: every
    answer is the structured analysis, sent after MODEL_LATENCY_S."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.summarizer", "--serve-fake-model"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http"):
            raise RuntimeError("the fake model process did not start")

    def stop(self) -> int:
        """Stop it; the number of requests it answered."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        requests = int(self.process.stdout.readline().strip() or 0)
        self.process.wait(timeout=30)
        return requests


def serve_fake_model() -> None:
    with FakeOpenAI() as fake:
        fake.http.default_reply = Reply.structured(
            ANALYSIS, usage=HttpUsage(prompt_tokens=650, completion_tokens=120)
        ).after(MODEL_LATENCY_S)
        print(fake.http_url, flush=True)
        sys.stdin.read()  # until the bench closes our stdin
        print(len(fake.http.requests), flush=True)


async def produce(servers: str, events: list[SessionClosed]) -> float:
    producer = raw_producer(servers, request_timeout_ms=30_000)
    await producer.start()
    try:
        started = time.perf_counter()
        pending = []
        for data in events:
            e = new_event(data, source="session-gateway", gym_id=data.gym_id)
            pending.append(await producer.send(TOPIC, e.to_json(), key=e.subject.encode()))
        await asyncio.gather(*pending)
        return started
    finally:
        await producer.stop()


async def bare_model_calls(settings: Settings, n: int) -> dict[str, Any]:
    """The same number of model calls, made straight through the provider at the same
    concurrency, with no broker, database or pipeline: what the SDK, the fake server and the
    machine allow at most."""
    provider = OpenAIProvider(settings, SummarizerMetrics.register(InfraMetrics("bench-bare")))
    calls = asyncio.Semaphore(settings.max_concurrent_calls)
    conversations = [
        conversation_of(closed, settings.default_language) for closed in sessions(n, seed=-1)
    ]

    async def call(conversation: Conversation) -> None:
        async with calls:
            await provider.analyse(conversation)

    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(call(c) for c in conversations))
        seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        await provider.aclose()
    return {
        "calls": n,
        "seconds": round(seconds, 3),
        "per_s": round(n / seconds),
        "cpu_ms_per_call": round(1000 * cpu_s / n, 2),
    }


def machine_busy_s() -> float:
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


async def wait_count(conn: asyncpg.Connection, target: int, timeout_s: float) -> float:
    deadline = time.perf_counter() + timeout_s
    while True:
        count = await conn.fetchval("SELECT count(*) FROM summarizer.conversation_summaries")
        if count >= target:
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{count} of {target} summaries after {timeout_s} s")
        await asyncio.sleep(0.02)


async def run_mode(
    mode: str, infra: Infrastructure, n: int, args: argparse.Namespace, done: int
) -> dict[str, Any]:
    platform = PlatformSettings(
        _env_file=None,
        database_url=infra.database_url,
        kafka_bootstrap_servers=infra.kafka.bootstrap_servers,
        consumer_session_timeout_ms=2000,
        consumer_batch_size=args.batch_size,
        migrate_on_start=False,
        log_json=False,
        log_level="WARNING",
    )
    fake: FakeModelProcess | None = None
    if mode == "offline":
        settings = Settings(_env_file=None, provider="offline", port=0)
    else:
        fake = FakeModelProcess()
        settings = Settings(
            _env_file=None,
            provider="openai",
            openai_api_key="sk-bench",
            openai_base_url=fake.url,
            max_concurrent_calls=args.concurrency,
            port=0,
        )
    conn = await asyncpg.connect(plain_dsn(infra.database_url))
    try:
        app = bootstrap(platform, settings)
        async with app.running():
            logging.getLogger("faststream.access.kafka").setLevel(logging.WARNING)
            await produce(infra.kafka.bootstrap_servers, sessions(1, seed=done))
            await wait_count(conn, done + 1, timeout_s=60)
            print(f"  {mode}: {n} sessions ...", flush=True)
            batch = sessions(n, seed=done + 1)
            # The bench process also produces the sessions: that CPU is counted as ours.
            cpu_started, machine_started = time.process_time(), machine_busy_s()
            started = await produce(infra.kafka.bootstrap_servers, batch)
            finished = await wait_count(conn, done + 1 + n, timeout_s=max(120, n / 20))
            cpu_s = time.process_time() - cpu_started
            machine_s = machine_busy_s() - machine_started
        seconds = finished - started
        # The same sessions read back and dropped: the broker's and the consumer's ceiling.
        raw = await raw_consume(
            infra.kafka.bootstrap_servers,
            TOPIC,
            done + 1 + n,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        bare = await bare_model_calls(settings, n) if fake is not None else None
        duplicates = await conn.fetchval(
            "SELECT count(*) - count(DISTINCT session_id) FROM summarizer.conversation_summaries"
        )
    finally:
        await conn.close()
        if fake is not None:
            requests = fake.stop() - n  # less the reference's calls
    rate = round(n / seconds)
    result = {
        "sessions": n,
        "seconds": round(seconds, 3),
        "summaries_per_s": rate,
        "bench_process_cpu_s": round(cpu_s, 2),
        "bench_process_cpu_ms_per_summary": round(1000 * cpu_s / n, 2),
        # Everything that ran on the machine meanwhile, ours included (cores busy on average):
        # the machine is shared, and a high figure here depresses ours.
        "machine_cores_busy": round(machine_s / seconds, 2),
        "baseline_consumed_and_dropped": raw,
        "ratio_to_baseline": round(rate / raw["per_s"], 4),
        "target_per_s": TARGETS[mode],
        "pass": rate >= TARGETS[mode],
        "duplicate_summaries": duplicates,
    }
    if bare is not None:
        result |= {
            "reference_bare_model_calls": bare,
            "ratio_to_bare_model_calls": round(rate / bare["per_s"], 4),
        }
    if mode != "offline":
        result |= {
            "model_latency_s": MODEL_LATENCY_S,
            "max_concurrent_calls": args.concurrency,
            "model_requests": requests,
            # What the model's latency alone allows with this concurrency.
            "latency_bound_per_s": round(args.concurrency / MODEL_LATENCY_S),
        }
    return result


async def run(args: argparse.Namespace, infra: Infrastructure) -> dict[str, Any]:
    machine_at_start = machine()
    upgrade(SERVICE, infra.database_url)
    modes: dict[str, Any] = {}
    done = 0
    for mode, n in (("fake_model_1s", args.sessions), ("offline", args.offline_sessions)):
        modes[mode] = await run_mode(mode, infra, n, args, done)
        done += n + 1
    return {
        "benchmark": NAME,
        "machine": {**machine_at_start, "load_avg_at_end": [round(x, 2) for x in os.getloadavg()]},
        "config": {
            "consumer_batch_size": args.batch_size,
            "max_concurrent_calls": args.concurrency,
            "fake_server": "the fake OpenAI server in a process of its own",
        },
        "modes": modes,
        "pass": all(m["pass"] for m in modes.values()),
    }


def markdown(result: dict[str, Any], stamp: str) -> str:
    m = result["machine"]
    lines = [
        f"# Summarizer benchmark, {stamp}",
        "",
        f"{m['cpu_count']} CPUs, Python {m['python']}, load at start {m.get('load_avg_at_start')}"
        f", at end {m.get('load_avg_at_end')}; consumer batch "
        f"{result['config']['consumer_batch_size']}, "
        f"{result['config']['max_concurrent_calls']} model calls at once.",
        "",
        "| mode | sessions | summaries/s | baseline: consumed and dropped/s | ratio | target "
        "| verdict | machine cores busy |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for mode, r in result["modes"].items():
        lines.append(
            f"| {mode} | {r['sessions']:,} | {r['summaries_per_s']:,} | "
            f"{r['baseline_consumed_and_dropped']['per_s']:,} | {r['ratio_to_baseline']} | "
            f"{r['target_per_s']:,} | {'PASS' if r['pass'] else 'FAIL'} | "
            f"{r['machine_cores_busy']} of {m['cpu_count']} |"
        )
    offline = result["modes"].get("offline")
    if offline:
        lines += [
            "",
            f"Offline: {offline['bench_process_cpu_ms_per_summary']} ms of CPU per summary in "
            "the service's process (consumer, analysis, insert, outbox, relay).",
        ]
    fake = result["modes"].get("fake_model_1s")
    if fake:
        bare = fake["reference_bare_model_calls"]
        lines += [
            "",
            f"With a 1 s model and {fake['max_concurrent_calls']} calls at once, the model's "
            f"latency alone allows {fake['latency_bound_per_s']:,}/s; "
            f"{fake['model_requests']:,} model requests were made for "
            f"{fake['sessions'] + 1:,} sessions. Reference: the same {bare['calls']:,} calls "
            f"made straight through the provider (no broker, database or pipeline) ran at "
            f"{bare['per_s']:,}/s on this machine; the pipeline reached "
            f"{fake['ratio_to_bare_model_calls']:.0%} of that. CPU in the service's process: "
            f"{fake['bench_process_cpu_ms_per_summary']} ms per summary through the pipeline, "
            f"{bare['cpu_ms_per_call']} ms per bare call (the SDK's share).",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.summarizer",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--sessions", type=int, default=3000, help="sessions, 1 s model mode")
    parser.add_argument("--offline-sessions", type=int, default=20_000)
    parser.add_argument(
        "--concurrency", type=int, default=Settings.model_fields["max_concurrent_calls"].default
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=PlatformSettings.model_fields["consumer_batch_size"].default,
    )
    parser.add_argument("--quick", action="store_true", help="500 and 3,000 sessions")
    parser.add_argument("--serve-fake-model", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_fake_model:
        serve_fake_model()
        return 0
    if args.quick:
        args.sessions, args.offline_sessions = 500, 3000
    stamp = start_run()
    infra = Infrastructure(DATABASE)
    print("starting embedded PostgreSQL and broker ...", flush=True)
    infra.start()
    try:
        result = asyncio.run(run(args, infra))
    finally:
        infra.stop()
    result["timestamp"] = stamp
    md = markdown(result, stamp)
    write_results(NAME, stamp, result, md)
    print()
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
