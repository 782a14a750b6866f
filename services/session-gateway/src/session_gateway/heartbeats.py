"""Kiosk heartbeats, written in batches.

Ten thousand kiosks beating every 30 s is over 300 heartbeats a second, each one an outbox row.
One transaction each would take the connection pool; instead, heartbeats that arrive within
`flush_interval_s` share one transaction, and each kiosk gets its `heartbeat.ack` once its
heartbeat is committed (so an ack still means "recorded").
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from jarvis_common.db import Database
from jarvis_common.events.catalogue import KioskHeartbeatReceived
from session_gateway.kiosk_directory import KnownKiosk
from session_gateway.protocol import Heartbeat

log = logging.getLogger(__name__)


class HeartbeatWriter:
    def __init__(self, db: Database, *, flush_interval_s: float = 0.1, max_batch: int = 1000):
        self.db = db
        self.flush_interval_s = flush_interval_s
        self.max_batch = max_batch
        self._pending: list[tuple[KioskHeartbeatReceived, KnownKiosk, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def record(self, kiosk: KnownKiosk, beat: Heartbeat) -> None:
        """Returns once the heartbeat is committed to the outbox; raises if it could not be."""
        received = datetime.now(UTC)
        event = KioskHeartbeatReceived(
            kiosk_id=kiosk.kiosk_id,
            gym_id=kiosk.gym_id,
            sent_at=beat.sent_at or received,
            received_at=received,
            status=beat.status,
            hardware_info=beat.hardware_info,
            last_error=beat.last_error,
        )
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((event, kiosk, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon(), name="heartbeat-flush")
        await done

    async def _flush_soon(self) -> None:
        while self._pending:
            if len(self._pending) < self.max_batch:
                await asyncio.sleep(self.flush_interval_s)  # let the batch fill
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            try:
                async with self.db.unit_of_work() as uow:
                    for event, kiosk, _ in batch:
                        uow.publish(event, gym_id=kiosk.gym_id, franchise_id=kiosk.franchise_id)
            except Exception as exc:
                log.warning("could not record %d heartbeats", len(batch), exc_info=True)
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _, _, done in batch:
                if not done.done():
                    done.set_result(None)
