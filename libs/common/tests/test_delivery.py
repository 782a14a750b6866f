"""Events travel outbox → relay → broker → idempotent consumer → database, once each."""

import uuid

from jarvis_common.service import ServiceApp
from jarvis_common.testing.waiting import wait_for
from probe import checked_in, effect_rows, publish


async def test_published_events_are_applied_once_in_order_per_key(probe: ServiceApp) -> None:
    member = uuid.uuid4()
    events = [checked_in(member) for _ in range(20)] + [checked_in() for _ in range(10)]
    envelopes = await publish(probe, *events)

    rows = await wait_for(
        lambda: _when(effect_rows(probe), lambda r: len(r) >= 30), message="30 effects"
    )

    assert len(rows) == 30
    assert len({r["event_id"] for r in rows}) == 30
    same_key = [r["event_id"] for r in rows if r["member_id"] == str(member)]
    # Per-key order: the member's effects were applied in the order they were published.
    assert same_key == [e.id for e in envelopes if e.data.member_id == member]


async def _when(rows_coro, predicate):
    rows = await rows_coro
    return rows if predicate(rows) else None


async def test_a_batch_handler_gets_many_events_in_one_call(platform_settings) -> None:
    from jarvis_common.events.catalogue import MemberCheckedIn
    from jarvis_common.service import ServiceApp
    from probe import PROBE, create_probe_schema, effects

    await create_probe_schema(platform_settings.database_url)
    app = ServiceApp(PROBE, platform_settings, port=0)
    calls: list[int] = []

    @app.handlers.on_batch(MemberCheckedIn, name="record_effects")
    async def record_effects(events, uow) -> None:
        calls.append(len(events))
        await uow.session.execute(
            effects.insert(),
            [{"event_id": e.id, "member_id": str(e.data.member_id)} for e in events],
        )

    async with app.running():
        await publish(app, *[checked_in() for _ in range(200)])
        rows = await wait_for(
            lambda: _when(effect_rows(app), lambda r: len(r) >= 200), message="200 effects"
        )
    assert len(rows) == 200
    assert sum(calls) == 200
    assert max(calls) > 1  # applied in batches, not one call per event


async def test_published_rows_past_retention_are_forgotten_in_chunks(probe) -> None:
    from sqlalchemy import text

    await publish(probe, *[checked_in() for _ in range(7)])
    await wait_for(lambda: _when(effect_rows(probe), lambda r: len(r) >= 7), message="applied")
    async with probe.db.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE probe.outbox SET published_at = now() - interval '30 days' "
                "WHERE id IN (SELECT id FROM probe.outbox ORDER BY id LIMIT 5)"
            )
        )
        await conn.execute(
            text(
                "UPDATE probe.processed_events SET processed_at = now() - interval '30 days' "
                "WHERE event_id IN (SELECT event_id FROM probe.processed_events LIMIT 4)"
            )
        )

    assert await probe.relay.delete_expired(chunk=2) == 5  # retention is 7 days

    async with probe.db.engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM probe.outbox")) == 2
        assert await conn.scalar(text("SELECT count(*) FROM probe.processed_events")) == 3


async def test_events_committed_by_the_service_wake_its_relay(platform_settings) -> None:
    """The relay polls slowly (for other replicas' rows); the service's own commits wake it, so
    its events leave at once rather than at the next poll."""
    from probe import Behaviour, bootstrap, create_probe_schema

    await create_probe_schema(platform_settings.database_url)
    slow_poll = platform_settings.model_copy(update={"outbox_poll_interval_s": 600.0})
    app = bootstrap(slow_poll, Behaviour())
    async with app.running():
        for expected in (1, 2):
            # The first event may leave with the relay's first round; by the time it has been
            # applied that round is over and the relay waits out its 600 s poll.
            await publish(app, checked_in())
            rows = await wait_for(
                lambda n=expected: _when(effect_rows(app), lambda r: len(r) == n),
                timeout=20,
                message=f"event {expected} applied long before the next poll",
            )
    assert len(rows) == 2
