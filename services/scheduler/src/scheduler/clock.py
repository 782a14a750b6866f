"""The scheduler's sense of time, injected so tests can move it without sleeping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Protocol

# The system clock re-reads the time at least this often while waiting, so a wall-clock step
# (NTP, a suspended VM) delays a slot by at most this much.
MAX_NAP_S = 30.0


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...

    async def sleep_until(self, instant: datetime) -> None:
        """Return once `now() >= instant`; cancelling the caller stops the wait."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, instant: datetime) -> None:
        while True:
            remaining = (instant - self.now()).total_seconds()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, MAX_NAP_S))


class ManualClock:
    """A clock that only moves when told; `sleeping()` tells a test when its loops are idle."""

    def __init__(self, start: datetime):
        self._now = start
        self._moved = asyncio.Condition()
        self._sleepers: dict[int, datetime] = {}

    def now(self) -> datetime:
        return self._now

    async def set(self, instant: datetime) -> None:
        if instant < self._now:
            raise ValueError("the manual clock only moves forward")
        async with self._moved:
            self._now = instant
            self._moved.notify_all()

    async def sleep_until(self, instant: datetime) -> None:
        key = id(asyncio.current_task())
        self._sleepers[key] = instant
        try:
            async with self._moved:
                await self._moved.wait_for(lambda: self._now >= instant)
        finally:
            self._sleepers.pop(key, None)

    def sleeping(self) -> int:
        """How many waiters are asleep until a moment still in the future: loops that are done
        with everything due now."""
        return sum(1 for target in self._sleepers.values() if target > self._now)
