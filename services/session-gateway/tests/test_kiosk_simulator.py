"""The kiosk simulator end to end: the registry and the gateway, each built by its own composition
root and started on the real database and broker; the simulator provisions its kiosks through the
registry's API, and they heartbeat and talk through the gateway."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from gateway_world import serve

from jarvis_common.runner import installed_services
from jarvis_common.settings import PlatformSettings, plain_dsn
from jarvis_common.testing.waiting import wait_for
from jarvis_common.tokens import generate_private_key_pem, public_key_pem
from session_gateway.bootstrap import bootstrap
from session_gateway.kiosk_simulator.config import Behaviour, SimulatorConfig
from session_gateway.kiosk_simulator.fleet import Fleet
from session_gateway.kiosk_simulator.state import load

ADMIN = ("admin@jarvis-gym.fr", "simulator admin password")
FAST = Behaviour(
    heartbeat_interval_s=0.5,
    conversation_every_s=0.2,
    questions_per_conversation=(2, 2),
    think_time_s=0.05,
    reconnect_initial_s=0.1,
    reconnect_max_s=0.5,
)


@dataclass
class Platform:
    registry_url: str
    gateway_url: str
    db: asyncpg.Connection
    http: httpx.AsyncClient

    async def admin(self) -> dict[str, str]:
        email, password = ADMIN
        answer = await self.http.post(
            f"{self.registry_url}/api/v1/auth/login", json={"email": email, "password": password}
        )
        assert answer.status_code == 200, answer.text
        return {"authorization": f"Bearer {answer.json()['access_token']}"}

    async def registry_get(self, path: str) -> Any:
        answer = await self.http.get(
            f"{self.registry_url}/api/v1{path}", headers=await self.admin()
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    def config(self, state_file: Path, kiosks: int, behaviour: Behaviour = FAST) -> SimulatorConfig:
        return SimulatorConfig(
            kiosks=kiosks,
            gateway_url=self.gateway_url,
            registry_url=self.registry_url,
            admin_email=ADMIN[0],
            admin_password=ADMIN[1],
            state_file=state_file,
            kiosks_per_gym=1,  # one French gym, one English gym
            behaviour=behaviour,
        )


@pytest.fixture
async def platform(
    platform_settings: PlatformSettings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Platform]:
    key = generate_private_key_pem()
    # The registry reads its own settings from the environment, as in production; a service's
    # code is never imported by another's tests, so it is found through its entry point.
    for name, value in {
        "SIGNING_KEY": key,
        "BOOTSTRAP_ADMIN_EMAIL": ADMIN[0],
        "BOOTSTRAP_ADMIN_PASSWORD": ADMIN[1],
        "HEARTBEAT_INTERVAL_S": "1",
        "ONLINE_MULTIPLE": "2",
        "ONLINE_BUFFER_S": "0.5",
        "STATUS_SWEEP_INTERVAL_S": "0.2",
    }.items():
        monkeypatch.setenv(f"JARVIS_REGISTRY_{name}", value)
    registry = installed_services()["kiosk-registry"].bootstrap(platform=platform_settings)
    gateway = bootstrap(
        platform_settings.model_copy(update={"token_public_key": public_key_pem(key)})
    )
    served = []
    for app in (registry, gateway):
        await app.start()
        served.append(await serve(app))
    db = await asyncpg.connect(plain_dsn(platform_settings.database_url))
    async with httpx.AsyncClient(timeout=10) as http:
        yield Platform(
            f"http://127.0.0.1:{served[0].port}", f"ws://127.0.0.1:{served[1].port}", db, http
        )
    await db.close()
    for server, app in zip(served, (registry, gateway), strict=True):
        await server.stop()
        await app.stop()


async def until_fleet(running: asyncio.Task[None], condition: Any, message: str) -> Any:
    """wait_for, failing at once (with its error) if the simulator stopped on its own."""

    def check() -> Any:
        if running.done():
            running.result()
            raise AssertionError(f"the simulator stopped before {message}")
        return condition()

    return await wait_for(check, timeout=60, message=message)


async def closed_sessions(platform: Platform, kiosk_id: uuid.UUID) -> list[asyncpg.Record]:
    return await platform.db.fetch(
        "SELECT * FROM gateway.sessions WHERE kiosk_id = $1 AND state = 'closed'", kiosk_id
    )


async def test_simulated_kiosks_provision_heartbeat_and_hold_conversations(
    platform: Platform, tmp_path: Path
) -> None:
    state_file = tmp_path / "simulator.json"
    fleet = Fleet(platform.config(state_file, kiosks=2))
    stop = asyncio.Event()
    running = asyncio.create_task(fleet.run(stop))
    await until_fleet(
        running,
        lambda: len(fleet.kiosks) == 2 and all(k.stats.conversations for k in fleet.kiosks),
        "each kiosk completed a conversation",
    )

    for identity in fleet.identities:
        # kiosk.heartbeat went gateway -> broker -> registry: the fleet shows it online
        kiosk = await wait_for(
            lambda i=identity: _online(platform, i.kiosk_id), message="kiosk online"
        )
        assert kiosk["hardware_info"]["device_id"] == identity.device_id
        assert kiosk["gym_id"] == str(identity.gym_id)

        sessions = await closed_sessions(platform, identity.kiosk_id)
        assert sessions and {s["end_reason"] for s in sessions} == {"kiosk_ended"}
        transcript = json.loads(sessions[0]["transcript"])
        assert [t["role"] for t in transcript] == ["user", "assistant"] * 2
        # the offline assistant answered from the gym the simulator set up, in its language
        answers = " ".join(t["text"] for t in transcript if t["role"] == "assistant")
        assert ("Simu Fitness London" if identity.language == "en" else "Simu Fitness Lyon") in (
            answers
        )

        # session.closed reached the registry's read model of conversations
        session_id = str(sessions[0]["id"])
        await wait_for(
            lambda i=identity, s=session_id: _conversation_listed(platform, i.gym_id, s),
            message="conversation in the registry",
        )
    assert {i.language for i in fleet.identities} == {"fr", "en"}

    stop.set()
    await asyncio.wait_for(running, 10)
    # stopped gracefully: no session left open
    open_sessions = await platform.db.fetchval(
        "SELECT count(*) FROM gateway.sessions WHERE state = 'open'"
    )
    assert open_sessions == 0

    # The credentials are kept; the next run reuses the kiosks instead of provisioning new ones.
    stored = load(state_file, platform.registry_url)
    assert [k.kiosk_id for k in stored] == [i.kiosk_id for i in fleet.identities]
    assert oct(state_file.stat().st_mode & 0o777) == "0o600"
    again = Fleet(platform.config(state_file, kiosks=2))
    reused = await again.prepare()
    await again.registry.close()
    assert [k.kiosk_id for k in reused] == [k.kiosk_id for k in stored]
    kiosks = await platform.registry_get("/kiosks")
    assert kiosks["total"] == 2


async def _online(platform: Platform, kiosk_id: uuid.UUID) -> dict[str, Any] | None:
    kiosk = await platform.registry_get(f"/kiosks/{kiosk_id}")
    return kiosk if kiosk["status"] == "online" else None


async def _conversation_listed(platform: Platform, gym_id: uuid.UUID, session_id: str) -> bool:
    page = await platform.registry_get(f"/gyms/{gym_id}/conversations")
    return session_id in {c["session_id"] for c in page["items"]}


async def test_a_conversation_survives_a_dropped_connection_by_resuming(
    platform: Platform, tmp_path: Path
) -> None:
    behaviour = Behaviour(
        heartbeat_interval_s=5,
        conversation_every_s=0,  # the test starts the conversation itself
        think_time_s=0.5,
        reconnect_initial_s=0.1,
        reconnect_max_s=0.5,
    )
    fleet = Fleet(platform.config(tmp_path / "simulator.json", kiosks=1, behaviour=behaviour))
    stop = asyncio.Event()
    running = asyncio.create_task(fleet.run(stop))
    await until_fleet(running, lambda: fleet.kiosks and fleet.kiosks[0].conn, "connected")
    kiosk = fleet.kiosks[0]

    talk = asyncio.create_task(kiosk.converse(count=3))
    # After the first answer, while the member thinks, the TCP connection is cut.
    await wait_for(lambda: kiosk.stats.resumes == 0 and kiosk.last_seq >= 4, message="answer")
    first = kiosk.conn
    assert first is not None
    first.ws.transport.abort()
    result = await asyncio.wait_for(talk, 30)

    assert kiosk.stats.connections == 2 and kiosk.stats.resumes >= 1
    assert result is not None
    assert (result["answered"], result["end"]) == (3, "kiosk_ended")
    sessions = await closed_sessions(platform, kiosk.identity.kiosk_id)
    assert len(sessions) == 1 and str(sessions[0]["id"]) == result["session_id"]
    assert sessions[0]["end_reason"] == "kiosk_ended"
    assert len(json.loads(sessions[0]["transcript"])) == 6
    stop.set()
    await asyncio.wait_for(running, 10)
