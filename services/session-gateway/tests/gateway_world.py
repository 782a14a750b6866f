"""A session-gateway started with its own bootstrap on the test's database and broker, and the
kiosk side of the protocol, shared by the gateway's tests."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
import uvicorn
import websockets
from websockets.asyncio.client import ClientConnection

from jarvis_common import ws_protocol
from jarvis_common.devrun.kafka import free_port
from jarvis_common.events import new_event
from jarvis_common.events.catalogue import KioskConfig, KioskProvisioned
from jarvis_common.service import ServiceApp
from jarvis_common.settings import PlatformSettings, plain_dsn
from jarvis_common.testing.waiting import wait_for
from jarvis_common.tokens import (
    KIOSK_AUDIENCE,
    TokenSigner,
    generate_private_key_pem,
    public_key_pem,
)
from session_gateway import kiosk_directory as d
from session_gateway.bootstrap import bootstrap
from session_gateway.session_manager import manager_of
from session_gateway.settings import Settings

KEY = generate_private_key_pem()
GYM_INFO = {"opening_hours": "6h-23h", "prices": "29,90 € par mois"}


@dataclass
class Served:
    """An app's HTTP side served by uvicorn on `port` (loopback) until `stop()`."""

    port: int
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def serve(app: ServiceApp, *, plain_asgi: bool = False) -> Served:
    """Serve `app.http` for real on a free port, once it accepts connections: with the
    WebSocket protocol the runner uses, or uvicorn's own (`plain_asgi`, no text channel).

    The lifespan is off because each test decides whether the app's own start and stop run;
    with no log config uvicorn does not reconfigure the logging the tests set up."""
    port = free_port()
    websockets_options = {"ws": "websockets-sansio"} if plain_asgi else ws_protocol.UVICORN_OPTIONS
    config = uvicorn.Config(
        app.http, port=port, lifespan="off", log_config=None, **websockets_options
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started, message="server started")
    return Served(port, server, task)


class Gateway:
    def __init__(self, app: ServiceApp, url: str, db: asyncpg.Connection) -> None:
        self.app, self.url, self.db = app, url, db

    async def kiosk(self, gym: uuid.UUID | None = None, **config: Any) -> uuid.UUID:
        kiosk_id, gym = uuid.uuid4(), gym or uuid.uuid4()
        cfg = KioskConfig(gym_name="Fit Lyon", gym_info=GYM_INFO, **config)
        async with self.app.db.unit_of_work() as uow:
            await d.learn_provisioned_kiosk(
                new_event(
                    KioskProvisioned(
                        kiosk_id=kiosk_id,
                        gym_id=gym,
                        slug=f"k-{kiosk_id.hex[:6]}",
                        name="Desk",
                        config=cfg,
                    ),
                    source="kiosk-registry",
                    gym_id=gym,
                ),
                uow,
            )
        return kiosk_id

    async def known_kiosk(self, kiosk_id: uuid.UUID) -> d.KnownKiosk:
        async with self.app.db.unit_of_work() as uow:
            kiosk = await d.find_kiosk(uow, kiosk_id)
        assert kiosk is not None
        return kiosk

    def connect(self, kiosk_id: uuid.UUID) -> Any:
        signed = TokenSigner(KEY).sign(str(kiosk_id), KIOSK_AUDIENCE, 300)[0]
        return websockets.connect(f"{self.url}?access_token={signed}")

    async def row(self, session_id: str) -> asyncpg.Record:
        return await self.db.fetchrow(
            "SELECT * FROM gateway.sessions WHERE id = $1", uuid.UUID(session_id)
        )

    async def events(self, topic: str, session_id: str) -> list[dict[str, Any]]:
        rows = await self.db.fetch(
            "SELECT payload FROM gateway.outbox WHERE topic = $1 AND key = $2", topic, session_id
        )
        return [json.loads(r["payload"]) for r in rows]


GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def make_gateway(platform_settings: PlatformSettings) -> AsyncIterator[GatewayFactory]:
    stack: list[tuple[ServiceApp, Served, asyncpg.Connection]] = []

    async def make(*, plain_asgi: bool = False, **settings: Any) -> Gateway:
        settings.setdefault("openai_api_key", None)  # offline unless a test says otherwise
        platform = platform_settings.model_copy(update={"token_public_key": public_key_pem(KEY)})
        app = bootstrap(platform, Settings(**settings))
        served = await serve(app, plain_asgi=plain_asgi)
        db = await asyncpg.connect(plain_dsn(platform_settings.database_url))
        stack.append((app, served, db))
        return Gateway(app, f"ws://127.0.0.1:{served.port}/api/v1/kiosk/ws", db)

    yield make
    for app, served, db in stack:
        await manager_of(app).end_all("gateway_shutdown")
        await served.stop()
        await db.close()
        await app.db.dispose()


async def recv(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def until(ws: ClientConnection, kind: str, timeout: float = 10) -> list[dict[str, Any]]:
    """Every message up to and including the first of type `kind`."""
    got = []
    while True:
        message = await recv(ws, timeout)
        got.append(message)
        if message["type"] == kind:
            return got


async def start(ws: ClientConnection, **fields: Any) -> str:
    await recv(ws)  # welcome
    await ws.send(json.dumps({"type": "session.start", **fields}))
    started = await recv(ws)
    assert started["type"] == "session.started", started
    return started["session_id"]
