"""`ServiceApp.stop()` and its `on_stop` hooks, on the real broker and database."""

import asyncio

import asyncpg

from jarvis_common.service import ServiceApp
from jarvis_common.settings import PlatformSettings, plain_dsn
from probe import bootstrap, checked_in, create_probe_schema, publish


async def test_stop_hooks_run_after_the_background_tasks_and_their_events_leave_before_stop_ends(
    platform_settings: PlatformSettings,
) -> None:
    await create_probe_schema(platform_settings.database_url)
    app = bootstrap(platform_settings)
    order: list[str] = []
    final: list = []

    async def waits_forever(_: ServiceApp) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            order.append("background task cancelled")

    async def fails(_: ServiceApp) -> None:
        order.append("failing hook")
        raise RuntimeError("the client would not close")

    async def records_a_final_event(service: ServiceApp) -> None:
        order.append("final event")
        final.extend(await publish(service, checked_in()))

    app.background.append(waits_forever)
    app.on_stop.extend([fails, records_a_final_event])
    await app.start()
    await app.stop()

    # A failing hook does not stop the drain: the hooks after it run, and the relay still runs.
    assert order == ["background task cancelled", "failing hook", "final event"]
    conn = await asyncpg.connect(plain_dsn(platform_settings.database_url))
    try:
        published = await conn.fetchval(
            "SELECT published_at FROM probe.outbox WHERE event_id = $1", final[0].id
        )
    finally:
        await conn.close()
    assert published is not None, "a hook's event must be published before stop() returns"
