"""Delivery under failure, on the real broker and database.

Each test breaks one thing the way production breaks it and asserts the outcome a user of the
platform cares about: every event has exactly one effect, and nothing is lost.
"""

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from jarvis_common.devrun.kafka import EmbeddedKafka
from jarvis_common.devrun.republish import republish_retained
from jarvis_common.events import new_event
from jarvis_common.messaging import dlq_cli
from jarvis_common.messaging import retry as r
from jarvis_common.service import ServiceApp
from jarvis_common.settings import PlatformSettings, plain_dsn
from jarvis_common.testing.waiting import wait_for
from probe import Behaviour, bootstrap, checked_in, effect_rows, publish

TOPIC = "member.checked_in"


async def count_effects(app: ServiceApp, expected: int, timeout: float = 30.0) -> list:
    async def enough():
        rows = await effect_rows(app)
        return rows if len(rows) >= expected else None

    return await wait_for(enough, timeout=timeout, message=f"{expected} effects")


def consumed(app: ServiceApp, outcome: str) -> float:
    return app.metrics.events_consumed.labels(TOPIC, outcome)._value.get()


async def test_crash_after_commit_before_publish(platform_settings: PlatformSettings) -> None:
    """Rows committed by a process that died before its relay ran are published on restart."""
    from probe import create_probe_schema

    await create_probe_schema(platform_settings.database_url)
    crashed = bootstrap(platform_settings)  # never started: its relay never ran
    await publish(crashed, checked_in(), checked_in())
    await crashed.db.dispose()

    restarted = bootstrap(platform_settings)
    async with restarted.running():
        rows = await count_effects(restarted, 2)
        await wait_for(lambda: restarted.relay.metrics.outbox_pending._value.get() == 0)
    assert len({row["event_id"] for row in rows}) == 2


async def test_crash_after_publish_before_mark(platform_settings: PlatformSettings) -> None:
    """The broker got the events but the rows were not marked: sent twice, applied once."""
    from probe import create_probe_schema

    await create_probe_schema(platform_settings.database_url)
    first = bootstrap(platform_settings)
    crashed = asyncio.Event()

    async def die_before_marking() -> None:
        crashed.set()
        raise asyncio.CancelledError  # the process is gone: nothing after this line runs

    async with first.running():
        first.relay.after_send = die_before_marking
        await publish(first, checked_in(), checked_in(), checked_in())
        await wait_for(crashed.is_set, message="relay sent the rows")
        await count_effects(first, 3)

    second = bootstrap(platform_settings)
    async with second.running():
        # The same rows go out again; the consumer sees each event a second time.
        await wait_for(lambda: consumed(second, "duplicate") >= 3, message="duplicates seen")
        rows = await effect_rows(second)
    assert len(rows) == 3


async def test_same_event_twice_and_replay_from_beginning(
    probe: ServiceApp, platform_settings: PlatformSettings
) -> None:
    envelopes = await publish(probe, *[checked_in() for _ in range(5)])
    await count_effects(probe, 5)

    # Deliver one of them again by hand, byte for byte.
    producer = AIOKafkaProducer(bootstrap_servers=platform_settings.kafka_bootstrap_servers)
    await producer.start()
    await producer.send_and_wait(TOPIC, envelopes[0].to_json(), key=envelopes[0].subject.encode())
    await producer.stop()
    await wait_for(lambda: consumed(probe, "duplicate") >= 1, message="duplicate seen")

    # Rewind the group to the beginning and consume everything again.
    await probe.stop()
    await _rewind_group(platform_settings, "probe", TOPIC)
    again = bootstrap(platform_settings)
    async with again.running():
        await wait_for(lambda: consumed(again, "duplicate") >= 6, message="replay consumed")
        rows = await effect_rows(again)
    assert len(rows) == 5


async def test_malformed_message_does_not_block_its_partition(
    probe: ServiceApp, platform_settings: PlatformSettings
) -> None:
    member = uuid.uuid4()
    producer = AIOKafkaProducer(bootstrap_servers=platform_settings.kafka_bootstrap_servers)
    await producer.start()
    bad = await producer.send_and_wait(TOPIC, b"{not json", key=str(member).encode())
    await producer.stop()
    await publish(probe, *[checked_in(member) for _ in range(10)])

    rows = await count_effects(probe, 10, timeout=10)
    assert len(rows) == 10

    letters = await wait_for(lambda: dlq_cli.read_dead_letters(platform_settings, TOPIC))
    assert len(letters) == 1
    letter = letters[0]
    assert letter.value == b"{not json"
    assert letter.header(r.H_ORIGINAL_TOPIC) == TOPIC
    assert letter.header(r.H_ORIGINAL_PARTITION) == str(bad.partition)
    assert letter.header(r.H_ORIGINAL_OFFSET) == str(bad.offset)
    assert letter.header(r.H_ATTEMPT) == "1"
    assert "UnknownEvent" in (letter.header(r.H_ERROR) or "")


async def test_transient_failure_is_retried_without_holding_back_the_partition(
    probe: ServiceApp, behaviour: Behaviour
) -> None:
    member = uuid.uuid4()
    behaviour.outage.add("spinning")
    flaky = (await publish(probe, checked_in(member, group_class="spinning")))[0]
    later = await publish(probe, *[checked_in(member) for _ in range(3)])

    # The later events with the same key are applied while the first one waits for a retry.
    rows = await count_effects(probe, 3)
    assert {row["event_id"] for row in rows} == {e.id for e in later}
    await wait_for(lambda: consumed(probe, "retried") >= 1, message="a retry scheduled")

    assert flaky.id not in {row["event_id"] for row in await effect_rows(probe)}
    behaviour.outage.clear()  # the outside world is back
    rows = await count_effects(probe, 4)
    assert rows[-1]["event_id"] == flaky.id
    assert consumed(probe, "dead_lettered") == 0


async def test_permanent_failure_and_exhausted_retries_go_to_the_dlq_then_replay(
    probe: ServiceApp, behaviour: Behaviour, platform_settings: PlatformSettings
) -> None:
    doomed, stubborn = uuid.uuid4(), uuid.uuid4()
    behaviour.permanent.add(doomed)
    behaviour.transient_failures[stubborn] = 100
    await publish(probe, checked_in(doomed), checked_in(stubborn), checked_in())
    await count_effects(probe, 1)

    letters = await wait_for(
        lambda: _at_least(dlq_cli.read_dead_letters(platform_settings, TOPIC), 2),
        message="two dead letters",
    )
    attempts = {letter.key.decode(): letter.header(r.H_ATTEMPT) for letter in letters}
    assert attempts == {str(doomed): "1", str(stubborn): str(platform_settings.retry_max_attempts)}
    # Only the stubborn one was retried, max_attempts - 1 times; the doomed one never was.
    assert consumed(probe, "retried") == platform_settings.retry_max_attempts - 1

    # The cause is fixed; replaying the DLQ applies both, once.
    behaviour.permanent.clear()
    behaviour.transient_failures.clear()
    assert await dlq_cli.replay(platform_settings, TOPIC) == 2
    rows = await count_effects(probe, 3)
    assert {row["member_id"] for row in rows} >= {str(doomed), str(stubborn)}
    assert await dlq_cli.replay(platform_settings, TOPIC) == 2  # twice is harmless
    await wait_for(lambda: consumed(probe, "duplicate") >= 2, message="second replay deduplicated")
    assert len(await effect_rows(probe)) == 3


async def test_broker_outage_during_writes_loses_nothing(
    probe: ServiceApp, kafka: EmbeddedKafka
) -> None:
    published: list = []

    async def write_steadily() -> None:
        for _ in range(150):
            published.extend(await publish(probe, checked_in()))
            await asyncio.sleep(0.02)

    writer = asyncio.create_task(write_steadily())
    await wait_for(lambda: len(published) >= 30, message="writes under way")
    kafka.pause()  # unreachable for 5 s while the writer keeps committing
    try:
        await asyncio.sleep(5)  # the outage itself is the fixed interval under test
    finally:
        kafka.resume()
    await writer
    rows = await count_effects(probe, len(published), timeout=60)
    assert {row["event_id"] for row in rows} == {e.id for e in published}
    assert len(rows) == len(published)


async def test_fresh_broker_gets_retained_events_republished(
    platform_settings: PlatformSettings, kafka: EmbeddedKafka
) -> None:
    """The embedded broker forgets everything on restart; the outbox remembers."""
    from probe import create_probe_schema

    await create_probe_schema(platform_settings.database_url)
    first = bootstrap(platform_settings)
    async with first.running():
        await publish(first, *[checked_in() for _ in range(20)])
        await count_effects(first, 20)
    kafka.restart()
    counts = await republish_retained(plain_dsn(platform_settings.database_url), 24)
    assert counts["probe"] == 20

    second = bootstrap(platform_settings)
    async with second.running():
        await publish(second, *[checked_in() for _ in range(5)])
        rows = await count_effects(second, 25)
        await wait_for(lambda: consumed(second, "duplicate") >= 20, message="replayed events")
    assert len(rows) == 25


async def test_stop_lets_the_inflight_handler_finish_and_commit(
    probe: ServiceApp, behaviour: Behaviour, platform_settings: PlatformSettings
) -> None:
    member = uuid.uuid4()
    behaviour.block.add(member)
    await publish(probe, checked_in(member))
    await wait_for(behaviour.entered.is_set, message="handler running")

    stopping = asyncio.create_task(probe.stop())  # what SIGTERM triggers in the runner
    await wait_for(lambda: not probe.started, message="stop begun")
    done, _ = await asyncio.wait({stopping}, timeout=0.5)
    assert not done, "stop must wait for the in-flight handler"
    behaviour.release.set()
    await stopping
    rows = await effect_rows(probe)
    assert [row["member_id"] for row in rows] == [str(member)]

    again = bootstrap(platform_settings, behaviour)
    async with again.running():
        await publish(again, checked_in())
        await count_effects(again, 2)
    assert behaviour.calls[member] == 1  # committed offset: not redelivered


async def _at_least(coro, n):
    items = await coro
    return items if len(items) >= n else None


async def _rewind_group(settings: PlatformSettings, group: str, topic: str) -> None:
    # Join the group (the broker only takes commits from members) and commit offset 0.
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        session_timeout_ms=2000,
        heartbeat_interval_ms=200,
    )
    await consumer.start()
    try:
        await wait_for(consumer.assignment, message="assignment")
        await consumer.commit({tp: 0 for tp in consumer.assignment()})
    finally:
        await consumer.stop()


async def test_a_database_outage_delays_events_but_never_dead_letters_them(
    probe: ServiceApp, postgres_admin_url: str, platform_settings: PlatformSettings
) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    database = make_url(platform_settings.database_url).database
    admin = await asyncpg.connect(plain_dsn(postgres_admin_url))
    published = await publish(probe, checked_in())
    await count_effects(probe, 1)
    try:
        # The service's own database goes away: new connections refused, live ones cut.
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", database
        )
        producer = AIOKafkaProducer(bootstrap_servers=platform_settings.kafka_bootstrap_servers)
        await producer.start()
        late = [new_event(checked_in(), source="test") for _ in range(3)]
        for event in late:
            await producer.send_and_wait(TOPIC, event.to_json(), key=event.subject.encode())
        await producer.stop()
        await wait_for(
            lambda: probe.metrics.consume_batch_seconds.labels(TOPIC)._sum.get() > 0,
            message="consumer active",
        )
        # Give the consumer a chance to misroute them while the database is down.
        await asyncio.sleep(2)
        assert consumed(probe, "retried") == consumed(probe, "dead_lettered") == 0
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await admin.close()
    rows = await count_effects(probe, 4, timeout=60)
    assert {row["event_id"] for row in rows} == {published[0].id} | {e.id for e in late}
    assert consumed(probe, "dead_lettered") == 0


async def test_an_event_too_large_to_publish_is_refused_with_its_transaction(
    probe: ServiceApp,
) -> None:
    import pytest

    from jarvis_common.events.catalogue import MemberCheckedIn
    from jarvis_common.messaging.tables import EventTooLarge

    huge = MemberCheckedIn(
        member_id=uuid.uuid4(),
        gym_id=uuid.UUID(int=1),
        checked_in_at=checked_in().checked_in_at,
        group_class="x" * 1_000_000,
    )
    with pytest.raises(EventTooLarge):
        await publish(probe, checked_in(), huge)
    async with probe.db.session() as session:
        from sqlalchemy import text

        assert await session.scalar(text("SELECT count(*) FROM probe.outbox")) == 0
