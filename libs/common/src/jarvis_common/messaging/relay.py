"""The outbox relay: publishes committed outbox rows in order, then marks them.

One relay per service schema is active at a time (a PostgreSQL advisory lock elects it), so rows
leave in `id` order. A round reads the oldest unpublished rows, sends them all, waits for every
broker acknowledgement (`acks=all`), and only then stamps `published_at`. If the broker is
unreachable the round fails, nothing is stamped, and the same rows are sent again later: the
relay holds events through an outage and may publish some twice, which consumers absorb.
"""

from __future__ import annotations

import asyncio
import json
import logging
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy import BigInteger, any_, func, literal, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from jarvis_common.db.database import Database
from jarvis_common.metrics import InfraMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelayConfig:
    batch_size: int = 1000
    poll_interval_s: float = 0.05
    retention: timedelta = timedelta(days=7)
    cleanup_every_s: float = 600.0
    error_backoff_s: float = 1.0


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        producer: AIOKafkaProducer,
        metrics: InfraMetrics,
        config: RelayConfig = RelayConfig(),
    ):
        self.db = db
        self.producer = producer
        self.metrics = metrics
        self.config = config
        self.outbox = db.messaging.outbox
        # Fault injection for tests: runs after the broker acknowledged, before rows are marked.
        self.after_send: Callable[[], Awaitable[None]] | None = None
        self._stopping = asyncio.Event()
        self._wakeup = asyncio.Event()
        # Stable per schema, so every replica of one service contends for the same lock.
        self._lock_key = zlib.crc32(f"jarvis-outbox:{db.schema}".encode())

    def notify(self) -> None:
        """Hint that new rows were committed, to skip the rest of the idle wait."""
        self._wakeup.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                async with self.db.engine.connect() as lock_conn:
                    if await self._try_lock(lock_conn):
                        try:
                            await self._relay_while_leader(lock_conn)
                        finally:
                            await lock_conn.execute(
                                text("SELECT pg_advisory_unlock(:k)"), {"k": self._lock_key}
                            )
                            await lock_conn.commit()
                        return
            except Exception:
                log.exception("outbox relay lost its database connection; retrying")
            await self._sleep(self.config.error_backoff_s)

    async def _try_lock(self, conn: AsyncConnection) -> bool:
        got = await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._lock_key})
        await conn.commit()
        if not got:
            log.debug("another relay holds the outbox of %s; standing by", self.db.schema)
        return bool(got)

    async def _relay_while_leader(self, lock_conn: AsyncConnection) -> None:
        loop = asyncio.get_running_loop()
        last_cleanup = last_check = 0.0
        while not self._stopping.is_set():
            if loop.time() - last_check > 5:
                # If the lock's connection died, PostgreSQL released the lock: stop leading.
                await lock_conn.execute(text("SELECT 1"))
                await lock_conn.commit()
                last_check = loop.time()
            try:
                sent = await self.publish_once()
            except KafkaError as exc:
                self.metrics.outbox_publish_failures.inc()
                log.warning("broker unreachable, outbox rows kept for the next round: %s", exc)
                await self._sleep(self.config.error_backoff_s)
                continue
            if loop.time() - last_cleanup > self.config.cleanup_every_s:
                await self.delete_expired()
                last_cleanup = loop.time()
            if sent < self.config.batch_size:
                await self._sleep(self.config.poll_interval_s)

    async def publish_once(self) -> int:
        """Publish the oldest unpublished rows; return how many were acknowledged."""
        o = self.outbox
        async with self.db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(o.c.id, o.c.topic, o.c.key, o.c.payload, o.c.headers)
                    .where(o.c.published_at.is_(None))
                    .order_by(o.c.id)
                    .limit(self.config.batch_size)
                )
            ).all()
            await conn.rollback()
            self.metrics.outbox_pending.set(len(rows))
            if not rows:
                return 0
            pending = [
                await self.producer.send(
                    row.topic,
                    row.payload.encode(),
                    key=row.key.encode(),
                    headers=[(k, str(v).encode()) for k, v in _headers(row.headers).items()],
                )
                for row in rows
            ]
            await asyncio.gather(*pending)
            if self.after_send is not None:
                await self.after_send()
            ids = literal([row.id for row in rows], ARRAY(BigInteger))
            await conn.execute(update(o).where(o.c.id == any_(ids)).values(published_at=func.now()))
            await conn.commit()
        for row in rows:
            self.metrics.outbox_published.labels(row.topic).inc()
        return len(rows)

    async def wait_until_published(self, timeout: float) -> bool:
        """Wait (while relays run) until no committed row is left unpublished, or `timeout`."""
        o = self.outbox
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                async with self.db.engine.connect() as conn:
                    pending = await conn.scalar(
                        select(func.count()).select_from(o).where(o.c.published_at.is_(None))
                    )
            except Exception:
                log.warning("cannot tell whether the outbox is drained", exc_info=True)
                return False
            if not pending:
                return True
            if asyncio.get_running_loop().time() > deadline:
                log.warning(
                    "stopping with %d outbox rows unpublished; the next start sends them", pending
                )
                return False
            self.notify()
            await asyncio.sleep(0.05)

    async def delete_expired(self, chunk: int = 10_000) -> int:
        """Forget published rows past retention, in short transactions, so a large backlog of
        old rows never holds locks (or the relay) for long."""
        o, p = self.outbox, self.db.messaging.processed_events
        deleted = 0
        for table, column, age in (
            (o, o.c.published_at, self.config.retention),
            # Kept twice as long, so events republished from the outbox are still recognised.
            (p, p.c.processed_at, 2 * self.config.retention),
        ):
            name = f"{table.schema}.{table.name}" if table.schema else table.name
            statement = text(
                f"DELETE FROM {name} WHERE ctid IN (SELECT ctid FROM {name} "
                f"WHERE {column.name} < now() - make_interval(secs => :age) LIMIT :chunk)"
            )
            while True:
                async with self.db.engine.begin() as conn:
                    result = await conn.execute(
                        statement, {"age": age.total_seconds(), "chunk": chunk}
                    )
                count = result.rowcount or 0
                if table is o:
                    deleted += count
                if count < chunk:
                    break
        return deleted

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout=seconds)
        except TimeoutError:
            pass
        self._wakeup.clear()


def _headers(raw: object) -> dict[str, object]:
    if isinstance(raw, str):
        return json.loads(raw)
    return dict(raw or {})  # type: ignore[call-overload]
