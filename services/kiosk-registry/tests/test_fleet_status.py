"""Heartbeats and kiosk status: the status function, the heartbeat consumer on the real topic,
the sweeper (offline, one alert even with concurrent sweepers) and the alert's resolution."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from registry_world import World, outbox_events
from sqlalchemy import func, select, update

from jarvis_common.events import Envelope, new_event
from jarvis_common.events.catalogue import KioskHeartbeatReceived
from jarvis_common.service import ServiceApp
from jarvis_common.settings import PlatformSettings
from jarvis_common.testing.waiting import wait_for
from kiosk_registry import fleet_status as fs
from kiosk_registry.bootstrap import bootstrap
from kiosk_registry.settings import Settings
from kiosk_registry.tables import alerts, kiosks

TOPIC = "kiosk.heartbeat"

# The fixture's rules: interval 1 s, multiple 2, buffer 0.5 s -> online window 2.5 s; alert 1 s.
RULES = fs.StatusRules(
    heartbeat_interval_s=1, online_multiple=2, online_buffer_s=0.5, offline_alert_after_s=1
)
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


# --- the status function ------------------------------------------------------------------------

STATUS_CASES = [
    # (case, provisioned_at, revoked_at, last_heartbeat, reported, expected)
    ("never provisioned", None, None, None, None, "provisioning"),
    ("not provisioned but heard from (legacy)", None, None, T0 - s(1), "ok", "provisioning"),
    ("just claimed, no heartbeat yet", T0 - s(1), None, None, None, "provisioning"),
    ("claimed, silent past the window", T0 - s(2.6), None, None, None, "offline"),
    ("fresh heartbeat", T0 - s(60), None, T0 - s(1), "ok", "online"),
    ("heartbeat exactly at the window edge", T0 - s(60), None, T0 - s(2.5), "ok", "online"),
    ("two heartbeats missed: no flapping", T0 - s(60), None, T0 - s(2.2), "ok", "online"),
    ("heartbeat past the window", T0 - s(60), None, T0 - s(2.51), "ok", "offline"),
    ("reported error", T0 - s(60), None, T0 - s(1), "error", "error"),
    ("reported degraded is online", T0 - s(60), None, T0 - s(1), "degraded", "online"),
    ("reported error but silent", T0 - s(60), None, T0 - s(10), "error", "offline"),
    ("heartbeat from the future (skew)", T0 - s(60), None, T0 + s(30), "ok", "online"),
    ("revoked, heartbeating", T0 - s(60), T0 - s(5), T0 - s(1), "ok", "offline"),
    ("revoked before provisioning", None, T0 - s(5), None, None, "offline"),
]


@pytest.mark.parametrize(
    ("provisioned_at", "revoked_at", "last_heartbeat", "reported", "expected"),
    [case[1:] for case in STATUS_CASES],
    ids=[case[0] for case in STATUS_CASES],
)
def test_the_status_function(
    provisioned_at: datetime | None,
    revoked_at: datetime | None,
    last_heartbeat: datetime | None,
    reported: Any,
    expected: str,
) -> None:
    status = fs.kiosk_status(
        now=T0,
        provisioned_at=provisioned_at,
        revoked_at=revoked_at,
        last_heartbeat=last_heartbeat,
        reported=reported,
        rules=RULES,
    )
    assert status == expected


ALERT_CASES = [
    # (case, provisioned_at, revoked_at, last_heartbeat, offline_alerted_at, expected)
    ("online", T0 - s(60), None, T0 - s(1), None, False),
    ("offline, within the debounce", T0 - s(60), None, T0 - s(3.4), None, False),
    ("offline past the debounce", T0 - s(60), None, T0 - s(3.6), None, True),
    ("already alerted", T0 - s(60), None, T0 - s(30), T0 - s(20), False),
    ("never heartbeated after the claim", T0 - s(4), None, None, None, True),
    ("revoked", T0 - s(60), T0 - s(30), T0 - s(30), None, False),
    ("never provisioned", None, None, None, None, False),
]


@pytest.mark.parametrize(
    ("provisioned_at", "revoked_at", "last_heartbeat", "alerted_at", "expected"),
    [case[1:] for case in ALERT_CASES],
    ids=[case[0] for case in ALERT_CASES],
)
def test_when_an_offline_alert_is_due(
    provisioned_at: datetime | None,
    revoked_at: datetime | None,
    last_heartbeat: datetime | None,
    alerted_at: datetime | None,
    expected: bool,
) -> None:
    due = fs.offline_alert_due(
        now=T0,
        provisioned_at=provisioned_at,
        revoked_at=revoked_at,
        last_heartbeat=last_heartbeat,
        offline_alerted_at=alerted_at,
        rules=RULES,
    )
    assert due is expected


def test_the_rules_come_from_the_settings(registry_settings: Settings) -> None:
    rules = fs.StatusRules.from_settings(registry_settings)
    assert rules == RULES
    assert rules.online_window == s(2.5)
    defaults = fs.StatusRules.from_settings(Settings(_env_file=None))
    assert defaults.online_window == s(100)  # 3 x 30 s + 10 s


# --- helpers ------------------------------------------------------------------------------------


async def new_kiosk(app: ServiceApp, world: World, gym: str = "gym_a1") -> uuid.UUID:
    """A kiosk made through the API, then marked provisioned (claimed) just now."""
    body = await world.create(f"/api/v1/gyms/{world.ids[gym]}/kiosks", {"name": "Front desk"})
    kiosk_id = uuid.UUID(body["id"])
    # Provisioning (claiming a code) is another module's; the status only needs the stamp.
    await set_kiosk(app, kiosk_id, provisioned_at=func.now(), device_id="dev-1")
    return kiosk_id


async def set_kiosk(app: ServiceApp, kiosk_id: uuid.UUID, **values: Any) -> None:
    async with app.db.unit_of_work() as uow:
        await uow.session.execute(update(kiosks).where(kiosks.c.id == kiosk_id).values(**values))


async def kiosk(app: ServiceApp, kiosk_id: uuid.UUID) -> Any:
    async with app.db.session() as session:
        return (await session.execute(select(kiosks).where(kiosks.c.id == kiosk_id))).one()


async def kiosk_alerts(app: ServiceApp, kiosk_id: uuid.UUID) -> list[Any]:
    async with app.db.session() as session:
        return list(
            await session.execute(
                select(alerts).where(alerts.c.kiosk_id == kiosk_id).order_by(alerts.c.opened_at)
            )
        )


async def status_changes(app: ServiceApp, kiosk_id: uuid.UUID | None = None) -> list[dict]:
    """The kiosk.status_changed events the registry recorded in its outbox, in order."""
    events = await outbox_events(app, "kiosk.status_changed")
    return [e for e in events if kiosk_id is None or e["data"]["kiosk_id"] == str(kiosk_id)]


def heartbeat(
    kiosk_id: uuid.UUID,
    gym_id: uuid.UUID,
    *,
    at: datetime | None = None,
    status: str = "ok",
    hardware_info: dict | None = None,
    last_error: str | None = None,
) -> Envelope[Any]:
    at = at or datetime.now(UTC)
    data = KioskHeartbeatReceived(
        kiosk_id=kiosk_id,
        gym_id=gym_id,
        sent_at=at,
        received_at=at,
        status=status,
        hardware_info=hardware_info or {},
        last_error=last_error,
    )
    return new_event(data, source="session-gateway", gym_id=gym_id)


def consumed(app: ServiceApp, outcome: str) -> float:
    return app.metrics.events_consumed.labels(TOPIC, outcome)._value.get()


def heartbeats_counted(app: ServiceApp, outcome: str) -> float:
    return fs.configure(app).metrics.heartbeats.labels(outcome)._value.get()  # type: ignore[union-attr]


class Gateway:
    """Sends heartbeats to the real topic as the session gateway does: keyed by kiosk id."""

    def __init__(self, producer: AIOKafkaProducer):
        self.producer = producer

    async def send(self, *events: Envelope[Any]) -> None:
        for event in events:
            await self.producer.send_and_wait(
                TOPIC, event.to_json(), key=str(event.data.kiosk_id).encode()
            )


@pytest.fixture
async def gateway(platform_settings: PlatformSettings) -> AsyncIterator[Gateway]:
    producer = AIOKafkaProducer(bootstrap_servers=platform_settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        yield Gateway(producer)
    finally:
        await producer.stop()


@pytest.fixture
async def running(
    registry: ServiceApp, world: World, gateway: Gateway
) -> AsyncIterator[ServiceApp]:
    """The registry with its consumers and sweeper running, its consumer group formed."""
    async with registry.running():
        # A heartbeat of a kiosk nobody knows: consumed (and ignored) once the group has formed.
        await gateway.send(heartbeat(uuid.uuid4(), uuid.uuid4()))
        await wait_for(
            lambda: consumed(registry, "processed") >= 1, message="heartbeat consumer ready"
        )
        yield registry


# --- heartbeats on the real topic ---------------------------------------------------------------


async def test_heartbeats_bring_a_kiosk_online_with_one_status_change(
    running: ServiceApp, world: World, gateway: Gateway
) -> None:
    gym = world.ids["gym_a1"]
    kiosk_id = await new_kiosk(running, world)
    assert (await kiosk(running, kiosk_id)).status == "provisioning"
    first = datetime.now(UTC) - s(1)
    beats = [
        heartbeat(kiosk_id, gym, at=first + s(i * 0.1), hardware_info={"app": "1.4.2", "seq": i})
        for i in range(3)
    ]
    await gateway.send(*beats)

    async def applied() -> Any:
        row = await kiosk(running, kiosk_id)
        return row if row.hardware_info.get("seq") == 2 else None

    row = await wait_for(applied, message="the three heartbeats applied")
    assert row.status == "online"
    assert row.last_heartbeat == first + s(0.2)
    assert row.hardware_info == {"app": "1.4.2", "seq": 2}
    changes = await status_changes(running, kiosk_id)
    assert [(c["data"]["previous_status"], c["data"]["status"]) for c in changes] == [
        ("provisioning", "online")
    ]
    change = changes[0]
    assert (change["gym_id"], change["franchise_id"]) == (
        str(gym),
        str(world.ids["franchise_a"]),
    )
    assert change["subject"] == str(kiosk_id)
    # The outbox relay publishes it.
    await wait_for(
        lambda: running.metrics.outbox_published.labels("kiosk.status_changed")._value.get() >= 1,
        message="status change published",
    )


async def test_a_late_heartbeat_never_moves_last_heartbeat_back_and_duplicates_are_harmless(
    running: ServiceApp, world: World, gateway: Gateway
) -> None:
    gym = world.ids["gym_b1"]
    kiosk_id = await new_kiosk(running, world, "gym_b1")
    now = datetime.now(UTC)
    newer = heartbeat(kiosk_id, gym, at=now, hardware_info={"fw": "new"})
    await gateway.send(newer)
    await wait_for(
        lambda: heartbeats_counted(running, "applied") >= 1, message="newer heartbeat applied"
    )
    # An older heartbeat delivered after the newer one (a retry, a replay): ignored entirely.
    older = heartbeat(
        kiosk_id,
        gym,
        at=now - s(0.5),
        status="error",
        hardware_info={"fw": "old"},
        last_error="camera unplugged",
    )
    await gateway.send(older)
    await wait_for(lambda: heartbeats_counted(running, "late") >= 1, message="late one seen")
    # The same event twice, and another event carrying the same time: no second effect.
    # (Heartbeat ids are not recorded in processed_events: the handler itself is idempotent,
    # so the redelivered one is applied again and found not newer.)
    await gateway.send(newer)
    await wait_for(lambda: heartbeats_counted(running, "late") >= 2, message="duplicate seen")
    await gateway.send(heartbeat(kiosk_id, gym, at=now, hardware_info={"fw": "same-time"}))
    await wait_for(lambda: heartbeats_counted(running, "late") >= 3, message="same time seen")

    row = await kiosk(running, kiosk_id)
    assert row.last_heartbeat == now
    assert (row.status, row.hardware_info, row.last_error) == ("online", {"fw": "new"}, None)
    assert len(await status_changes(running, kiosk_id)) == 1
    assert consumed(running, "retried") == consumed(running, "dead_lettered") == 0


async def test_heartbeats_of_unknown_and_revoked_kiosks_are_ignored_not_failed(
    running: ServiceApp, world: World, gateway: Gateway
) -> None:
    gym = world.ids["gym_i1"]
    good = await new_kiosk(running, world, "gym_i1")
    revoked = await new_kiosk(running, world, "gym_i1")
    await set_kiosk(running, revoked, revoked_at=datetime.now(UTC) - s(60), status="offline")
    await gateway.send(heartbeat(uuid.uuid4(), gym), heartbeat(revoked, gym), heartbeat(good, gym))
    await wait_for(lambda: heartbeats_counted(running, "revoked_kiosk") >= 1, message="revoked")
    await wait_for(
        lambda: heartbeats_counted(running, "unknown_kiosk") >= 2, message="unknown (+ warm-up)"
    )
    await wait_for(lambda: heartbeats_counted(running, "applied") >= 1, message="good applied")
    assert (await kiosk(running, good)).status == "online"
    gone = await kiosk(running, revoked)
    assert (gone.status, gone.last_heartbeat) == ("offline", None)
    assert await status_changes(running, revoked) == []
    assert consumed(running, "retried") == consumed(running, "dead_lettered") == 0


async def test_silence_offline_one_alert_then_the_next_heartbeat_resolves_it(
    running: ServiceApp, world: World, gateway: Gateway
) -> None:
    gym = world.ids["gym_a1"]
    kiosk_id = await new_kiosk(running, world)
    await gateway.send(heartbeat(kiosk_id, gym, status="degraded", last_error="mic noisy"))

    async def status_is(expected: str) -> Any:
        row = await kiosk(running, kiosk_id)
        return row if row.status == expected else None

    await wait_for(lambda: status_is("online"), message="online")
    # Silence: the window (2.5 s) expires, the sweeper moves it offline ...
    await wait_for(lambda: status_is("offline"), timeout=10, message="offline")
    # ... and after the debounce (1 s more) raises one alert.
    row = await wait_for(
        lambda: _alerted(running, kiosk_id), timeout=10, message="offline alert raised"
    )
    opened = await kiosk_alerts(running, kiosk_id)
    assert [(a.kind, a.status) for a in opened] == [("kiosk_offline", "open")]
    alert = opened[0]
    assert alert.gym_id == gym and "offline" in alert.title
    assert alert.details["kiosk_id"] == str(kiosk_id)
    assert alert.details["offline_for_s"] >= 1
    # More sweeps go by: still one alert.
    sweeps = fs.configure(running).metrics.sweep_failures  # type: ignore[union-attr]
    await asyncio.gather(fs.sweep(running), fs.sweep(running))
    assert len(await kiosk_alerts(running, kiosk_id)) == 1
    assert sweeps._value.get() == 0

    await gateway.send(heartbeat(kiosk_id, gym))
    back = await wait_for(lambda: status_is("online"), message="back online")
    assert back.offline_alerted_at is None and back.last_error is None
    resolved = await kiosk_alerts(running, kiosk_id)
    assert [(a.status, a.resolved_at is not None) for a in resolved] == [("resolved", True)]
    assert row.offline_alerted_at is not None
    changes = await status_changes(running, kiosk_id)
    assert [(c["data"]["previous_status"], c["data"]["status"]) for c in changes] == [
        ("provisioning", "online"),
        ("online", "offline"),
        ("offline", "online"),
    ]


async def _alerted(app: ServiceApp, kiosk_id: uuid.UUID) -> Any:
    row = await kiosk(app, kiosk_id)
    return row if row.offline_alerted_at is not None else None


# --- the sweeper, run by hand -------------------------------------------------------------------


async def test_concurrent_sweepers_raise_exactly_one_alert_per_kiosk(
    registry: ServiceApp,
    world: World,
    platform_settings: PlatformSettings,
    registry_settings: Settings,
) -> None:
    """Two replicas (their own connection pools) sweep at the same moment, several times."""
    silent = [await new_kiosk(registry, world, gym) for gym in ("gym_a1", "gym_b1", "gym_i1") * 4]
    fresh = await new_kiosk(registry, world)
    long_ago = datetime.now(UTC) - s(60)
    for kiosk_id in silent:
        await set_kiosk(registry, kiosk_id, status="online", last_heartbeat=long_ago)
    await set_kiosk(registry, fresh, status="online", last_heartbeat=datetime.now(UTC) + s(30))
    replica = bootstrap(platform_settings, registry_settings)
    try:
        results = []
        for _ in range(3):
            results += await asyncio.gather(
                fs.sweep(registry), fs.sweep(replica), fs.sweep(registry), fs.sweep(replica)
            )
    finally:
        await replica.db.dispose()
    assert sum(r.offline for r in results) == len(silent)
    assert sum(r.alerts_raised for r in results) == len(silent)
    for kiosk_id in silent:
        row = await kiosk(registry, kiosk_id)
        assert (row.status, row.offline_alerted_at is not None) == ("offline", True)
        assert [(a.kind, a.status) for a in await kiosk_alerts(registry, kiosk_id)] == [
            ("kiosk_offline", "open")
        ]
        assert [c["data"]["status"] for c in await status_changes(registry, kiosk_id)] == [
            "offline"
        ]
    assert (await kiosk(registry, fresh)).status == "online"
    assert await kiosk_alerts(registry, fresh) == []


async def test_a_revoked_kiosk_goes_offline_without_an_alert(
    registry: ServiceApp, world: World
) -> None:
    kiosk_id = await new_kiosk(registry, world)
    await set_kiosk(
        registry,
        kiosk_id,
        status="online",
        last_heartbeat=datetime.now(UTC) - s(60),
        revoked_at=datetime.now(UTC),
    )
    result = await fs.sweep(registry)
    assert (result.offline, result.alerts_raised) == (1, 0)
    assert (await kiosk(registry, kiosk_id)).status == "offline"
    assert await kiosk_alerts(registry, kiosk_id) == []


async def test_a_claimed_kiosk_that_never_heartbeats_goes_offline_and_is_alerted(
    registry: ServiceApp, world: World
) -> None:
    kiosk_id = await new_kiosk(registry, world)
    assert (await fs.sweep(registry)).offline == 0  # just claimed: still provisioning
    await set_kiosk(registry, kiosk_id, provisioned_at=datetime.now(UTC) - s(10))
    assert await fs.sweep(registry) == fs.SweepResult(offline=1, alerts_raised=1)
    assert [c["data"]["status"] for c in await status_changes(registry, kiosk_id)] == ["offline"]


# --- the batch handler, called directly ---------------------------------------------------------


async def apply(app: ServiceApp, *events: Envelope[Any]) -> None:
    fs.configure(app)
    async with app.db.unit_of_work() as uow:
        await fs.apply_heartbeats(list(events), uow)


async def test_in_one_batch_the_newest_heartbeat_of_each_kiosk_wins(
    registry: ServiceApp, world: World
) -> None:
    gym = world.ids["gym_a1"]
    one, two = await new_kiosk(registry, world), await new_kiosk(registry, world)
    now = datetime.now(UTC)
    await apply(
        registry,
        heartbeat(one, gym, at=now, hardware_info={"v": "newest"}),
        heartbeat(two, gym, at=now - s(1), status="error", last_error="printer jam"),
        heartbeat(one, gym, at=now - s(1), hardware_info={"v": "older"}, last_error="old"),
    )
    a, b = await kiosk(registry, one), await kiosk(registry, two)
    assert (a.status, a.last_heartbeat, a.hardware_info, a.last_error) == (
        "online",
        now,
        {"v": "newest"},
        None,
    )
    assert (b.status, b.last_error) == ("error", "printer jam")
    assert len(await status_changes(registry)) == 2


async def test_a_heartbeat_from_before_the_window_does_not_bring_a_kiosk_back(
    registry: ServiceApp, world: World
) -> None:
    """Consumer lag after an outage: the heartbeat is newer than the last one, but stale."""
    gym = world.ids["gym_a1"]
    kiosk_id = await new_kiosk(registry, world)
    long_ago = datetime.now(UTC) - s(60)
    await set_kiosk(registry, kiosk_id, status="online", last_heartbeat=long_ago)
    await fs.sweep(registry)
    alerted = await kiosk(registry, kiosk_id)
    assert (alerted.status, alerted.offline_alerted_at is not None) == ("offline", True)

    await apply(registry, heartbeat(kiosk_id, gym, at=long_ago + s(30)))
    row = await kiosk(registry, kiosk_id)
    assert row.last_heartbeat == long_ago + s(30)
    assert (row.status, row.offline_alerted_at) == ("offline", alerted.offline_alerted_at)
    assert [a.status for a in await kiosk_alerts(registry, kiosk_id)] == ["open"]

    # A heartbeat stamped by a gateway whose clock runs ahead counts as "now", no later.
    await apply(registry, heartbeat(kiosk_id, gym, at=datetime.now(UTC) + timedelta(hours=1)))
    row = await kiosk(registry, kiosk_id)
    assert row.status == "online" and row.last_heartbeat < datetime.now(UTC) + s(1)
    assert [a.status for a in await kiosk_alerts(registry, kiosk_id)] == ["resolved"]


async def test_odd_bytes_in_a_heartbeat_do_not_fail_its_batch(
    registry: ServiceApp, world: World
) -> None:
    gym = world.ids["gym_a1"]
    kiosk_id = await new_kiosk(registry, world)
    await apply(
        registry,
        heartbeat(
            kiosk_id,
            gym,
            at=datetime.now(UTC) - s(1),
            status="error",
            hardware_info={"serial": "AB\x00CD", "nested": {"k\x00": ["x\x00"]}},
            last_error="driver \x00crashed " + "!" * 5000,
        ),
    )
    row = await kiosk(registry, kiosk_id)
    assert row.status == "error"
    assert row.hardware_info == {"serial": "ABCD", "nested": {"k": ["x"]}}
    assert row.last_error.startswith("driver crashed") and len(row.last_error) == 2000
