"""The whole platform, started the way `make run` starts it, carries one conversation through.

gateway (session row + outbox row, one transaction) → relay → `session.closed` → summarizer
(exactly one summary) → `summary.created` → registry read model → dashboard API. Then the
platform is stopped with Ctrl-C and started again: the data is still there, and the fresh
in-memory broker's republished events have no second effect.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from jarvis_common.devrun.kafka import free_port
from jarvis_common.settings import plain_dsn
from jarvis_common.testing.waiting import wait_for

# two platform start-ups: generous on a loaded machine
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

SERVICES = {
    "kiosk-registry": 8000,
    "session-gateway": 8001,
    "summarizer": 8002,
    "churn-engine": 8003,
    "reporter": 8004,
    "scheduler": 8005,
}


def _free_offset() -> int:
    for offset in range(21000, 40000, 97):
        if all(_free(port + offset) for port in SERVICES.values()):
            return offset
    raise RuntimeError("no free block of ports")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


class Platform:
    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.offset = _free_offset()
        self.kafka_port = free_port()
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{SERVICES[service] + self.offset}"

    def start(self) -> float:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JARVIS_")}
        env |= {
            "JARVIS_DEV_DATA_DIR": str(self.data_dir),
            "JARVIS_DEV_KAFKA_PORT": str(self.kafka_port),
            "JARVIS_DEV_PORT_OFFSET": str(self.offset),
            # the kiosk simulator would add its own conversations to the ones counted here; it
            # has end-to-end tests of its own (test_kiosk_simulator.py)
            "JARVIS_DEV_COMPANIONS": "none",
            "JARVIS_DEV_READY_TIMEOUT_S": "150",
        }
        started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jarvis_common.devrun"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            if "JARVIS is up" in line:
                return time.monotonic() - started
        raise AssertionError(
            "the dev runner exited before the platform was up:\n" + "".join(self.output[-40:])
        )

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            rest, _ = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        self.output.append(rest)
        return self.process.returncode

    @property
    def admin_token(self) -> str:
        return (self.data_dir / "admin-token").read_text().strip()

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.admin_token}"}

    async def login_headers(self, http: httpx.AsyncClient) -> dict[str, str]:
        """The dashboard's way in: the bootstrap super admin the dev runner configures."""
        response = await http.post(
            f"{self.url('kiosk-registry')}/api/v1/auth/login",
            json={"email": "admin@jarvis.dev", "password": self.admin_token},
        )
        assert response.status_code == 200, response.text
        return {"authorization": f"Bearer {response.json()['access_token']}"}

    @property
    def database_dsn(self) -> str:
        env = dict(line.split("=", 1) for line in (self.data_dir / "env").read_text().splitlines())
        return plain_dsn(env["JARVIS_DATABASE_URL"])


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    p = Platform(tmp_path / "jarvis-data")
    yield p
    if p.process is not None and p.process.poll() is None:
        # a failed test still stops the platform the dev runner's way, so no service, broker
        # or database outlives it (killing the runner alone would orphan them)
        p.stop()


async def test_one_conversation_travels_through_the_platform(platform: Platform) -> None:
    # how fast it starts is not this test's business (a loaded CI machine is slow); that it
    # starts, and what it then does, is
    platform.start()
    async with httpx.AsyncClient(timeout=5) as http:
        for service in SERVICES:
            ready = await http.get(f"{platform.url(service)}/readyz")
            assert ready.status_code == 200, (service, ready.text)
            assert (await http.get(f"{platform.url(service)}/metrics")).status_code == 200

        dashboard = await wait_for(
            lambda: _try_login(platform, http), timeout=20, message="the bootstrap admin exists"
        )
        gym = await http.post(
            f"{platform.url('kiosk-registry')}/api/v1/gyms",
            json={"name": "Salle Bastille"},
            headers=dashboard,
        )
        assert gym.status_code == 201, gym.text
        gym_id, kiosk_id, session_id = uuid.UUID(gym.json()["id"]), uuid.uuid4(), uuid.uuid4()
        ended = datetime.now(UTC)
        session = {
            "session_id": str(session_id),
            "kiosk_id": str(kiosk_id),
            "gym_id": str(gym_id),
            "started_at": (ended - timedelta(minutes=3)).isoformat(),
            "ended_at": ended.isoformat(),
            "end_reason": "kiosk_ended",
            "transcript": [
                {"item_id": "i1", "role": "user", "text": "Quels sont les horaires du samedi ?"},
                {"item_id": "i2", "role": "assistant", "text": "Le samedi, de 9 h à 19 h."},
            ],
        }
        created = await http.post(
            f"{platform.url('session-gateway')}/api/v1/sessions",
            json=session,
            headers=platform.admin_headers,
        )
        assert created.status_code == 201, created.text

        conversation_url = (
            f"{platform.url('kiosk-registry')}/api/v1/gyms/{gym_id}/conversations/{session_id}"
        )

        async def summarised() -> dict | None:
            response = await http.get(conversation_url, headers=dashboard)
            body = response.json() if response.status_code == 200 else {}
            return body if body.get("summary") and body.get("end_reason") else None

        conversation = await wait_for(summarised, timeout=30, message="summary in the registry")
        assert "horaires du samedi" in conversation["summary"]
        assert conversation["end_reason"] == "kiosk_ended"

        # Another gym does not see it.
        other = await http.get(
            f"{platform.url('kiosk-registry')}/api/v1/gyms/{uuid.uuid4()}/conversations/"
            f"{session_id}",
            headers=dashboard,
        )
        assert other.status_code == 404

    assert await _summaries(platform, session_id) == 1
    assert platform.stop() == 0
    assert all(_free(port + platform.offset) for port in SERVICES.values())

    # Second start: same data directory, fresh in-memory broker.
    platform.start()
    assert any("republishing retained events" in line for line in platform.output)
    async with httpx.AsyncClient(timeout=5) as http:
        dashboard = await platform.login_headers(http)  # the signing key survived the restart
        again = await http.get(conversation_url, headers=dashboard)
        assert again.status_code == 200
        assert again.json()["summary"] == conversation["summary"]

        async def republished() -> bool:
            conn = await asyncpg.connect(platform.database_dsn)
            try:
                return await conn.fetchval(
                    "SELECT count(*) = 0 FROM gateway.outbox WHERE published_at IS NULL"
                ) and await conn.fetchval("SELECT count(*) >= 1 FROM summarizer.processed_events")
            finally:
                await conn.close()

        await wait_for(republished, timeout=30, message="outbox republished")
        await wait_for(
            lambda: _duplicates_seen(http, platform.url("summarizer")),
            timeout=30,
            message="the summarizer saw the republished session.closed",
        )
    assert await _summaries(platform, session_id) == 1
    assert platform.stop() == 0


async def _try_login(platform: Platform, http: httpx.AsyncClient) -> dict[str, str] | None:
    try:
        return await platform.login_headers(http)
    except AssertionError:
        return None


async def _summaries(platform: Platform, session_id: uuid.UUID) -> int:
    conn = await asyncpg.connect(platform.database_dsn)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM summarizer.conversation_summaries WHERE session_id = $1",
            session_id,
        )
    finally:
        await conn.close()


async def _duplicates_seen(http: httpx.AsyncClient, base: str) -> bool:
    metrics = (await http.get(f"{base}/metrics")).text
    return any(
        line.startswith("jarvis_summarizer_events_consumed_total")
        and 'outcome="duplicate"' in line
        and not line.rstrip().endswith(" 0.0")
        for line in metrics.splitlines()
    )
