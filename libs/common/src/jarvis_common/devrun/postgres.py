"""PostgreSQL 16 from the `pgserver` wheel, reached over its Unix socket."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False):
        self.data_dir = data_dir
        self.delete_on_stop = delete_on_stop
        self._server = None

    def start(self) -> None:
        import pgserver

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(
            self.data_dir, cleanup_mode="delete" if self.delete_on_stop else "stop"
        )
        log.info("embedded PostgreSQL running from %s", self.data_dir)

    @property
    def socket_dir(self) -> str:
        assert self._server is not None, "not started"
        info = self._server.get_postmaster_info()
        return str(info.socket_dir)

    def url(self, database: str = "postgres", *, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://postgres@/{database}?host={quote(self.socket_dir)}"

    def ensure_database(self, name: str) -> None:
        assert self._server is not None, "not started"
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
        if "(1 row)" not in exists:
            self._server.psql(f'CREATE DATABASE "{name}";')

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
