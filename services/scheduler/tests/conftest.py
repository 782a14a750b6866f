"""Scheduler test support: replicas built by the service's own composition root on the real
database and broker, a manual clock they share, and the `schedule.tick` topic read back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import datetime
from typing import Any

import asyncpg
import pytest

from jarvis_common.events import Envelope
from jarvis_common.service import ServiceApp
from jarvis_common.settings import PlatformSettings, plain_dsn
from jarvis_common.testing.topics import read_events
from jarvis_common.testing.waiting import wait_for
from scheduler.bootstrap import bootstrap
from scheduler.clock import ManualClock
from scheduler.settings import Settings

TOPIC = "schedule.tick"


class Replicas:
    """Scheduler replicas sharing one database, one broker and one manual clock."""

    def __init__(self, platform: PlatformSettings, stack: AsyncExitStack):
        self.platform = platform
        self._stack = stack
        self.running: list[ServiceApp] = []
        self.clock: ManualClock | None = None

    async def start(
        self, settings: Settings, clock: ManualClock, count: int = 1
    ) -> list[ServiceApp]:
        self.clock = clock
        started = []
        for _ in range(count):
            app = bootstrap(self.platform, settings, clock=clock)
            await self._stack.enter_async_context(app.running())
            started.append(app)
        self.running.extend(started)
        await self.settled()
        return started

    async def stop(self, app: ServiceApp) -> None:
        await app.stop()
        self.running.remove(app)

    async def advance(self, to: datetime) -> None:
        assert self.clock is not None
        await self.clock.set(to)
        await self.settled()

    async def settled(self) -> None:
        """Every running replica is done with what is due, and the outbox is published."""
        clock = self.clock
        assert clock is not None
        n = len(self.running)
        await wait_for(lambda: clock.sleeping() == n, message=f"{n} replica(s) asleep")
        conn = await asyncpg.connect(plain_dsn(self.platform.database_url))
        try:

            async def outbox_published() -> bool:
                unpublished = await conn.fetchval(
                    "SELECT count(*) FROM scheduler.outbox WHERE published_at IS NULL"
                )
                return unpublished == 0

            await wait_for(outbox_published, message="the outbox published")
        finally:
            await conn.close()


@pytest.fixture
async def replicas(platform_settings: PlatformSettings) -> AsyncIterator[Replicas]:
    async with AsyncExitStack() as stack:
        yield Replicas(platform_settings, stack)


@pytest.fixture
def published_ticks(
    platform_settings: PlatformSettings,
) -> Callable[[], Awaitable[list[Envelope[Any]]]]:
    """Everything on the `schedule.tick` topic, read from the broker, in partition order."""

    async def read() -> list[Envelope[Any]]:
        return await read_events(platform_settings, TOPIC)

    return read


def settings_for(**schedules: dict[str, Any]) -> Settings:
    return Settings(_env_file=None, schedules=schedules, late_after_s=60, retry_interval_s=0.1)


@pytest.fixture
def scheduler_settings() -> Callable[..., Settings]:
    return settings_for
