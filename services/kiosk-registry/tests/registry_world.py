"""Registry test support: the service built by its own composition root, and a small world of
tenants (two franchises, an independent gym) with a user of every role, made through the API."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from jarvis_common.service import ServiceApp
from jarvis_common.settings import PlatformSettings
from jarvis_common.tokens import generate_private_key_pem
from kiosk_registry.bootstrap import bootstrap
from kiosk_registry.settings import Settings
from kiosk_registry.tables import messaging, users

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def signing_key() -> str:
    return generate_private_key_pem()


# Argon2 at its lowest cost: the suite creates and logs in hundreds of accounts, and at the
# production cost (~0.1 s of CPU each) that was a fifth of the registry's test time.
CHEAP_PASSWORD_HASHING = {
    "password_hash_time_cost": 1,
    "password_hash_memory_kib": 8,
    "password_hash_parallelism": 1,
}


def hash_password(registry: ServiceApp, password: str = PASSWORD) -> str:
    return registry.http.state.registry.passwords.hash_now(password)


@pytest.fixture
def registry_settings(signing_key: str) -> Settings:
    return Settings(
        _env_file=None,
        signing_key=signing_key,
        **CHEAP_PASSWORD_HASHING,
        heartbeat_interval_s=1,
        online_multiple=2,
        online_buffer_s=0.5,
        offline_alert_after_s=1,
        status_sweep_interval_s=0.2,
    )


@pytest.fixture
async def registry(
    platform_settings: PlatformSettings, registry_settings: Settings
) -> AsyncIterator[ServiceApp]:
    """The registry, not started: its HTTP API works, its consumers and tasks do not run."""
    app = bootstrap(platform_settings, registry_settings)
    yield app
    await app.db.dispose()


@pytest.fixture
async def api(registry: ServiceApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=registry.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
        yield client


@dataclass
class World:
    api: httpx.AsyncClient
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, uuid.UUID] = field(default_factory=dict)

    def as_(self, who: str) -> dict[str, str]:
        return self.headers[who]

    async def login(self, email: str, password: str = PASSWORD) -> dict[str, str]:
        response = await self.api.post(
            "/api/v1/auth/login", json={"email": email, "password": password}
        )
        assert response.status_code == 200, response.text
        return {"authorization": f"Bearer {response.json()['access_token']}"}

    async def create(self, path: str, body: dict, who: str = "admin") -> dict:
        response = await self.api.post(path, json=body, headers=self.as_(who))
        assert response.status_code == 201, (path, response.text)
        return response.json()


async def create_super_admin(registry: ServiceApp, email: str) -> None:
    async with registry.db.unit_of_work() as uow:
        await uow.session.execute(
            insert(users).values(
                id=uuid.uuid4(),
                email=email,
                role="super_admin",
                password_hash=hash_password(registry),
            )
        )


async def outbox_events(
    registry: ServiceApp, topic: str, *, key: str | None = None
) -> list[dict[str, Any]]:
    """The envelopes the registry wrote to its outbox for `topic` (and `key`), oldest first,
    each with its Kafka key under "key". Read from the table, so no broker is needed."""
    outbox = messaging.outbox
    query = select(outbox.c.key, outbox.c.payload).where(outbox.c.topic == topic)
    if key is not None:
        query = query.where(outbox.c.key == key)
    async with registry.db.session() as session:
        rows = await session.execute(query.order_by(outbox.c.id))
        return [{"key": row_key, **json.loads(payload)} for row_key, payload in rows]


@pytest.fixture
async def world(registry: ServiceApp, api: httpx.AsyncClient) -> World:
    """franchise A (gym a1, owner_a, manager_a1), franchise B (gym b1, owner_b, manager_b1),
    an independent gym i1 (manager_i1), and the super admin `admin`."""
    w = World(api)
    await create_super_admin(registry, "admin@jarvis-gym.fr")
    w.headers["admin"] = await w.login("admin@jarvis-gym.fr")
    for name in ("a", "b"):
        franchise = await w.create("/api/v1/franchises", {"name": f"Franchise {name.upper()}"})
        w.ids[f"franchise_{name}"] = uuid.UUID(franchise["id"])
        gym = await w.create(
            "/api/v1/gyms", {"name": f"Gym {name}1", "franchise_id": franchise["id"]}
        )
        w.ids[f"gym_{name}1"] = uuid.UUID(gym["id"])
    gym = await w.create(
        "/api/v1/gyms", {"name": "Independent", "timezone": "Europe/London", "language": "en"}
    )
    w.ids["gym_i1"] = uuid.UUID(gym["id"])
    accounts = {
        "owner_a": {"role": "franchise_owner", "franchise_id": str(w.ids["franchise_a"])},
        "owner_b": {"role": "franchise_owner", "franchise_id": str(w.ids["franchise_b"])},
        "manager_a1": {"role": "gym_manager", "gym_id": str(w.ids["gym_a1"])},
        "manager_b1": {"role": "gym_manager", "gym_id": str(w.ids["gym_b1"])},
        "manager_i1": {"role": "gym_manager", "gym_id": str(w.ids["gym_i1"])},
    }
    for who, scope in accounts.items():
        user = await w.create(
            "/api/v1/users", {"email": f"{who}@jarvis-gym.fr", "password": PASSWORD, **scope}
        )
        w.ids[f"user_{who}"] = uuid.UUID(user["id"])
        w.headers[who] = await w.login(f"{who}@jarvis-gym.fr")
    return w
