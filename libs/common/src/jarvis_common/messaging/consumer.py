"""The idempotent consumer: applies a batch of events once each, then lets the offsets commit.

For each batch taken from the broker:

1. Undecodable messages go straight to the DLQ.
2. Fast path: one transaction records every event id in `processed_events` (ids seen before are
   skipped) and runs the handler for each new event; it commits once.
3. If any handler fails, that transaction is rolled back and the batch is replayed one event per
   transaction, so one bad event cannot hold back the others. Each failing event is routed to the
   group's retry topic (transient) or to the DLQ (permanent, or out of attempts).
4. Only once every routed message is acknowledged by the broker does the method return; the
   subscriber then commits the offsets. If routing itself fails (broker gone) the exception
   propagates, the subscriber rewinds to the batch start, and the successes already committed
   deduplicate on redelivery.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord

from jarvis_common.db.database import Database
from jarvis_common.db.uow import UnitOfWork
from jarvis_common.errors import PermanentError
from jarvis_common.events import Envelope, decode_event
from jarvis_common.logs import log_context
from jarvis_common.messaging import retry as r
from jarvis_common.messaging.handlers import EventHandler
from jarvis_common.metrics import InfraMetrics

log = logging.getLogger(__name__)

Decoded = tuple[ConsumerRecord, Envelope[Any]]


class InboxConsumer:
    def __init__(
        self,
        handler: EventHandler,
        *,
        db: Database,
        producer: AIOKafkaProducer,
        group: str,
        policy: r.RetryPolicy,
        metrics: InfraMetrics,
    ):
        self.handler = handler
        self.db = db
        self.producer = producer
        self.group = group
        self.policy = policy
        self.metrics = metrics
        self.retry_topic = r.retry_topic(handler.topic, group)
        self.dlq_topic = r.dlq_topic(handler.topic)

    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        started = time.perf_counter()
        routed: list[asyncio.Future[Any]] = []
        decoded: list[Decoded] = []
        for record in records:
            try:
                decoded.append((record, decode_event(record.value)))
            except PermanentError as exc:
                routed.append(await self._route_failure(record, exc))
        together_failed = False
        if len(decoded) > 1:
            try:
                await self._apply_together(decoded)
            except Exception:
                log.warning("batch failed; applying its events one by one", exc_info=True)
                together_failed = True
        if len(decoded) == 1 or together_failed:
            for item in decoded:
                failure = await self._apply_alone(item)
                if failure is not None:
                    routed.append(failure)
        if routed:
            await asyncio.gather(*routed)
        self.metrics.consume_batch_seconds.labels(self.handler.topic).observe(
            time.perf_counter() - started
        )

    async def process_retries(self, records: Sequence[ConsumerRecord]) -> None:
        """Retry-topic records wait for their due time, one after another. Records with a short
        delay may wait behind one with a long delay on the same partition: a retry is late,
        never early."""
        for record in records:
            due_ms = r.int_header(record.headers, r.H_DUE_AT)
            wait_s = (due_ms - r.now_ms()) / 1000
            if wait_s > 0:
                await asyncio.sleep(wait_s)
            await self.process([record])

    async def _apply_together(self, items: Sequence[Decoded]) -> None:
        async with self.db.unit_of_work() as uow:
            fresh = await self._claim(uow, [event.id for _, event in items])
            new_events = []
            for _, event in items:
                if event.id in fresh:
                    fresh.discard(event.id)  # the same id twice in one batch is applied once
                    new_events.append(event)
            await self._call(new_events, uow)
        self._count("processed", len(new_events))
        self._count("duplicate", len(items) - len(new_events))

    async def _apply_alone(self, item: Decoded) -> asyncio.Future[Any] | None:
        record, event = item
        try:
            async with self.db.unit_of_work() as uow:
                if not await self._claim(uow, [event.id]):
                    self._count("duplicate")
                    return None
                await self._call([event], uow)
        except Exception as exc:
            await self._database_reachable_or_raise(exc)
            with log_context(event_id=event.id, trace_id=event.trace_id):
                return await self._route_failure(record, exc)
        self._count("processed")
        return None

    async def _database_reachable_or_raise(self, exc: Exception) -> None:
        """A failure while our own database is down is not the event's fault: routing it to
        the retry topic would dead-letter everything consumed during an outage. Re-raise, so
        the subscriber rewinds the batch and tries again once the database is back."""
        try:
            await self.db.ping()
        except Exception as outage:
            raise outage from exc

    async def _claim(self, uow: UnitOfWork, ids: list[Any]) -> set[Any]:
        if not self.handler.record_processed:
            return set(ids)  # an idempotent handler: every event is "new", duplicates are harmless
        return await self.db.messaging.claim(
            uow.session, self.handler.name, self.handler.topic, ids
        )

    async def _call(self, events: list[Envelope[Any]], uow: UnitOfWork) -> None:
        for event in events:
            if event.version != self.handler.version:
                # A version this handler was not written for: park it until a handler exists.
                raise PermanentError(
                    f"{self.handler.name} handles {event.type} v{self.handler.version}, "
                    f"not v{event.version}"
                )
        if self.handler.batch:
            if events:
                uow.trace_id = events[0].trace_id
                await self.handler.func(events, uow)
            return
        for event in events:
            uow.trace_id = event.trace_id
            session_id = getattr(event.data, "session_id", None)
            with log_context(event_id=event.id, trace_id=event.trace_id, session_id=session_id):
                await self.handler.func(event, uow)

    async def _route_failure(
        self, record: ConsumerRecord, exc: BaseException
    ) -> asyncio.Future[Any]:
        attempts = r.int_header(record.headers, r.H_ATTEMPT) + 1
        permanent = isinstance(exc, PermanentError)
        to_dlq = permanent or self.policy.exhausted(attempts)
        origin = (
            r.header(record.headers, r.H_ORIGINAL_TOPIC) or record.topic,
            r.header(record.headers, r.H_ORIGINAL_PARTITION) or str(record.partition),
            r.header(record.headers, r.H_ORIGINAL_OFFSET) or str(record.offset),
        )
        headers = r.without_routing(record.headers) + [
            (r.H_ORIGINAL_TOPIC, origin[0].encode()),
            (r.H_ORIGINAL_PARTITION, origin[1].encode()),
            (r.H_ORIGINAL_OFFSET, origin[2].encode()),
            (r.H_ATTEMPT, str(attempts).encode()),
            (r.H_GROUP, self.group.encode()),
            (r.H_ERROR_TYPE, type(exc).__name__.encode()),
            (r.H_ERROR, _describe(exc).encode()),
            (r.H_FAILED_AT, str(r.now_ms()).encode()),
        ]
        if to_dlq:
            target = self.dlq_topic
            log.error(
                "event dead-lettered after %d attempt(s): %s",
                attempts,
                exc,
                extra={"topic": record.topic, "offset": record.offset, "dlq": target},
            )
            self._count("dead_lettered")
        else:
            target = self.retry_topic
            due = r.now_ms() + int(self.policy.delay_after(attempts) * 1000)
            headers.append((r.H_DUE_AT, str(due).encode()))
            log.warning(
                "event failed (attempt %d), retrying later: %s",
                attempts,
                exc,
                extra={"topic": record.topic, "offset": record.offset},
            )
            self._count("retried")
        return await self.producer.send(target, record.value, key=record.key, headers=headers)

    def _count(self, outcome: str, n: int = 1) -> None:
        if n:
            self.metrics.events_consumed.labels(self.handler.topic, outcome).inc(n)


def _describe(exc: BaseException) -> str:
    # Headers are small; keep the message and the innermost frame, not the whole trace.
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"[:2000]
