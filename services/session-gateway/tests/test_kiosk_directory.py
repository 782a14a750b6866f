"""The gateway knows its kiosks from the registry's events, whatever order they arrive in."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer

from jarvis_common.events import new_event
from jarvis_common.events.catalogue import (
    KioskConfig,
    KioskConfigChanged,
    KioskProvisioned,
    KioskRevoked,
)
from jarvis_common.service import ServiceApp
from jarvis_common.settings import PlatformSettings
from jarvis_common.testing.waiting import wait_for
from session_gateway import kiosk_directory as d
from session_gateway.bootstrap import bootstrap

KIOSK, GYM, FRANCHISE = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


@pytest.fixture
async def gateway(platform_settings: PlatformSettings) -> AsyncIterator[ServiceApp]:
    app = bootstrap(platform_settings)
    yield app
    await app.db.dispose()


def changed(version: int, voice: str) -> KioskConfigChanged:
    return KioskConfigChanged(
        kiosk_id=KIOSK,
        gym_id=GYM,
        config_version=version,
        config=KioskConfig(voice_model=voice, gym_name="Bastille"),
    )


async def apply(app: ServiceApp, handler, data) -> None:  # type: ignore[no-untyped-def]
    async with app.db.unit_of_work() as uow:
        await handler(
            new_event(data, source="kiosk-registry", gym_id=GYM, franchise_id=FRANCHISE), uow
        )


async def known(app: ServiceApp) -> d.KnownKiosk | None:
    async with app.db.unit_of_work() as uow:
        return await d.find_kiosk(uow, KIOSK)


async def test_the_newest_configuration_wins_whatever_the_order(gateway: ServiceApp) -> None:
    provisioned = KioskProvisioned(kiosk_id=KIOSK, gym_id=GYM, slug="desk", name="Desk")
    await apply(gateway, d.learn_provisioned_kiosk, provisioned)
    await apply(gateway, d.apply_kiosk_config, changed(3, "verse"))
    await apply(gateway, d.apply_kiosk_config, changed(2, "echo"))  # late, older
    await apply(gateway, d.learn_provisioned_kiosk, provisioned)  # replayed, version 1

    kiosk = await known(gateway)
    assert kiosk is not None
    assert (kiosk.config_version, kiosk.config.voice_model) == (3, "verse")
    assert (kiosk.gym_id, kiosk.franchise_id, kiosk.revoked) == (GYM, FRANCHISE, False)


async def test_a_revocation_sticks_even_before_the_kiosk_is_known(gateway: ServiceApp) -> None:
    revoked = KioskRevoked(kiosk_id=KIOSK, gym_id=GYM, revoked_at=datetime.now(UTC))
    await apply(gateway, d.forget_revoked_kiosk, revoked)
    await apply(
        gateway,
        d.learn_provisioned_kiosk,
        KioskProvisioned(kiosk_id=KIOSK, gym_id=GYM, slug="desk", name="Desk"),
    )
    await apply(gateway, d.apply_kiosk_config, changed(2, "verse"))

    kiosk = await known(gateway)
    assert kiosk is not None and kiosk.revoked
    assert kiosk.config_version == 2


async def test_config_events_from_the_broker_reach_the_directory(
    gateway: ServiceApp, platform_settings: PlatformSettings
) -> None:
    async with gateway.running():
        producer = AIOKafkaProducer(bootstrap_servers=platform_settings.kafka_bootstrap_servers)
        await producer.start()
        event = new_event(changed(5, "sage"), source="kiosk-registry", gym_id=GYM)
        await producer.send_and_wait(
            "kiosk.config_changed", event.to_json(), key=str(KIOSK).encode()
        )
        await producer.stop()

        async def configured() -> bool:
            kiosk = await known(gateway)
            return kiosk is not None and kiosk.config_version == 5

        await wait_for(configured, message="config applied")
    kiosk = await known(gateway)
    assert kiosk is not None and kiosk.config.voice_model == "sage"
