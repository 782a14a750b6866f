"""The kiosk WebSocket: only registry-signed, unrevoked kiosks get in; heartbeats get out."""

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import websockets
from gateway_world import serve
from sqlalchemy import text

from jarvis_common.events import new_event
from jarvis_common.events.catalogue import KioskConfig, KioskProvisioned, KioskRevoked
from jarvis_common.service import ServiceApp
from jarvis_common.settings import PlatformSettings
from jarvis_common.tokens import (
    KIOSK_AUDIENCE,
    USER_AUDIENCE,
    TokenSigner,
    generate_private_key_pem,
    public_key_pem,
)
from session_gateway import kiosk_directory as d
from session_gateway.bootstrap import bootstrap

KEY = generate_private_key_pem()
GYM = uuid.uuid4()


@pytest.fixture
async def gateway(platform_settings: PlatformSettings) -> AsyncIterator[tuple[ServiceApp, str]]:
    """The gateway's HTTP side served for real (its consumers are not needed here)."""
    settings = platform_settings.model_copy(update={"token_public_key": public_key_pem(KEY)})
    app = bootstrap(settings)
    served = await serve(app)
    yield app, f"ws://127.0.0.1:{served.port}/api/v1/kiosk/ws"
    await served.stop()
    await app.db.dispose()


async def known_kiosk(app: ServiceApp, *, revoked: bool = False) -> uuid.UUID:
    kiosk_id = uuid.uuid4()
    async with app.db.unit_of_work() as uow:
        await d.learn_provisioned_kiosk(
            new_event(
                KioskProvisioned(
                    kiosk_id=kiosk_id,
                    gym_id=GYM,
                    slug=f"k-{kiosk_id.hex[:6]}",
                    name="Desk",
                    config=KioskConfig(),
                ),
                source="kiosk-registry",
                gym_id=GYM,
            ),
            uow,
        )
        if revoked:
            await d.forget_revoked_kiosk(
                new_event(
                    KioskRevoked(kiosk_id=kiosk_id, gym_id=GYM, revoked_at=datetime.now(UTC)),
                    source="kiosk-registry",
                    gym_id=GYM,
                ),
                uow,
            )
    return kiosk_id


def token(
    kiosk_id: uuid.UUID, *, audience: str = KIOSK_AUDIENCE, ttl: int = 300, key: str = KEY
) -> str:
    return TokenSigner(key).sign(str(kiosk_id), audience, ttl, gym_id=str(GYM))[0]


async def refused_with(url: str, **kwargs) -> int:  # type: ignore[no-untyped-def]
    async with websockets.connect(url, **kwargs) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    return closed.value.rcvd.code if closed.value.rcvd else -1


async def test_a_kiosk_with_a_valid_token_is_welcomed_and_its_heartbeat_published(
    gateway: tuple[ServiceApp, str],
) -> None:
    app, url = gateway
    kiosk_id = await known_kiosk(app)
    headers = {"Authorization": f"Bearer {token(kiosk_id)}"}
    async with websockets.connect(url, additional_headers=headers) as ws:
        welcome = json.loads(await ws.recv())
        assert welcome == {"type": "welcome", "kiosk_id": str(kiosk_id), "config_version": 1}
        await ws.send(
            json.dumps(
                {
                    "type": "heartbeat",
                    "status": "degraded",
                    "hardware_info": {"mic": "usb"},
                    "last_error": "fan",
                }
            )
        )
        assert json.loads(await ws.recv()) == {"type": "heartbeat.ack"}

    async with app.db.session() as session:
        rows = (
            await session.execute(
                text("SELECT key, payload FROM gateway.outbox WHERE topic = 'kiosk.heartbeat'")
            )
        ).all()
    assert [r.key for r in rows] == [str(kiosk_id)]
    data = json.loads(rows[0].payload)["data"]
    assert (data["status"], data["hardware_info"], data["last_error"]) == (
        "degraded",
        {"mic": "usb"},
        "fan",
    )


async def test_bad_or_missing_tokens_and_revoked_kiosks_are_refused(
    gateway: tuple[ServiceApp, str],
) -> None:
    app, url = gateway
    kiosk_id = await known_kiosk(app)
    revoked = await known_kiosk(app, revoked=True)
    stranger = uuid.uuid4()
    cases = {
        "no token": (url, 4401),
        "garbage": (f"{url}?access_token=garbage", 4401),
        "expired": (f"{url}?access_token={token(kiosk_id, ttl=-10)}", 4401),
        "a user's token": (f"{url}?access_token={token(kiosk_id, audience=USER_AUDIENCE)}", 4401),
        "signed by another key": (
            f"{url}?access_token={token(kiosk_id, key=generate_private_key_pem())}",
            4401,
        ),
        "revoked kiosk": (f"{url}?access_token={token(revoked)}", 4403),
        "unknown kiosk": (f"{url}?access_token={token(stranger)}", 4403),
    }
    for name, (target, code) in cases.items():
        try:
            got = await refused_with(target)
        except websockets.InvalidStatus as exc:  # refused during the handshake
            got = exc.response.status_code
        assert got in (code, 403), (name, got)


async def test_unknown_and_malformed_messages_get_an_error_and_the_connection_stays(
    gateway: tuple[ServiceApp, str],
) -> None:
    app, url = gateway
    kiosk_id = await known_kiosk(app)
    async with websockets.connect(f"{url}?access_token={token(kiosk_id)}") as ws:
        await ws.recv()  # welcome
        for raw, code in [
            ("not json", "invalid_json"),
            ("[1, 2]", "unknown_message"),
            ('{"type": "teleport"}', "unknown_message"),
            ('{"type": "heartbeat", "status": "on fire"}', "invalid_message"),
            ('{"type": "heartbeat", "surprise": 1}', "invalid_message"),
        ]:
            await ws.send(raw)
            reply = json.loads(await ws.recv())
            assert (reply["type"], reply["code"]) == ("error", code), raw
        await ws.send(json.dumps({"type": "heartbeat"}))
        assert json.loads(await ws.recv()) == {"type": "heartbeat.ack"}
