"""What a running service is made of, and the runner that serves it.

Each service declares a `ServiceDefinition` (name, schema, port, tables, migrations, and its
composition root) and its composition root builds a `ServiceApp`: engine, producer, broker,
outbox relay, handlers and HTTP routes, all in one place. Tests call the same composition root
with their own settings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from fastapi import FastAPI
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import MetaData

from jarvis_common.db.database import Database
from jarvis_common.health import health_router
from jarvis_common.http import install_error_handlers, install_request_context
from jarvis_common.messaging.broker import make_broker, make_producer, subscribe_batches
from jarvis_common.messaging.consumer import InboxConsumer
from jarvis_common.messaging.handlers import EventHandlers
from jarvis_common.messaging.relay import OutboxRelay, RelayConfig
from jarvis_common.messaging.retry import RetryPolicy
from jarvis_common.messaging.tables import MessagingTables
from jarvis_common.metrics import InfraMetrics
from jarvis_common.settings import PlatformSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    schema: str
    default_port: int
    metadata: MetaData
    messaging: MessagingTables
    migrations_dir: Path
    bootstrap: Callable[..., ServiceApp]
    description: str = ""
    # Young-generation threshold of the garbage collector (JARVIS_GC_THRESHOLD overrides it).
    # A consumed batch creates ~100k short-lived objects; at CPython's default (700) they are
    # walked and promoted over and over. A young collection costs time in proportion, though:
    # a latency-bound service wants a smaller one.
    gc_threshold: int = 100_000


BackgroundTask = Callable[["ServiceApp"], Awaitable[None]]
StopHook = Callable[["ServiceApp"], Awaitable[None]]
Process = Callable[[list[ConsumerRecord]], Awaitable[None]]


@dataclass
class ServiceApp:
    """One running service: its handlers, background tasks and stop-time work.

    `background` tasks start with the service and are cancelled when it stops. `on_stop` hooks
    are the service's stop-time work (end what is open, close clients it made): when a started
    service stops they run one after another, in the order appended, once the subscribers have
    stopped (no handler is in flight) and the background tasks have wound down, and before the
    relay's final publish, so the events a hook commits leave with this process rather than at
    its next start. A hook that raises is logged and the drain goes on.
    """

    definition: ServiceDefinition
    platform: PlatformSettings
    port: int
    handlers: EventHandlers = field(default_factory=EventHandlers)
    background: list[BackgroundTask] = field(default_factory=list)
    on_stop: list[StopHook] = field(default_factory=list)

    def __post_init__(self) -> None:
        name = self.definition.name
        self.metrics = InfraMetrics(name)
        self.db = Database(
            self.platform.database_url,
            schema=self.definition.schema,
            messaging=self.definition.messaging,
            source=name,
        )
        self.broker: KafkaBroker = make_broker(self.platform, client_id=name)
        self.retry_policy = RetryPolicy.from_settings(self.platform)
        self.relay_config = RelayConfig(
            batch_size=self.platform.outbox_batch_size,
            poll_interval_s=self.platform.outbox_poll_interval_s,
            retention=timedelta(hours=self.platform.outbox_retention_hours),
        )
        # aiokafka clients bind to the running event loop, so they are made in start().
        self._producer: AIOKafkaProducer | None = None
        self._relay: OutboxRelay | None = None
        self.http = FastAPI(
            title=f"JARVIS {name}", description=self.definition.description, lifespan=self._lifespan
        )
        self.http.state.service = self
        install_error_handlers(self.http)
        install_request_context(self.http)
        self.http.include_router(health_router)
        # Background tasks; the relay's task is kept apart because it stops last.
        self._tasks: list[asyncio.Task[Any]] = []
        self._relay_task: asyncio.Task[Any] | None = None
        self._wired = False
        self.started = False

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._producer

    @property
    def relay(self) -> OutboxRelay:
        if self._relay is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._relay

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        self._producer = make_producer(self.platform, client_id=self.name)
        await self._producer.start()
        self._relay = OutboxRelay(self.db, self._producer, self.metrics, self.relay_config)
        self.db.outbox_listener = self._relay.notify
        self._wire_handlers()
        await self.broker.start()
        self._relay_task = asyncio.create_task(self.relay.run(), name=f"{self.name}-relay")
        for task in self.background:
            self._tasks.append(asyncio.create_task(task(self), name=f"{self.name}-{task.__name__}"))
        self.started = True
        log.info("%s started", self.name)

    async def stop(self) -> None:
        """Drain: in-flight handlers finish and commit, background tasks wind down, the
        `on_stop` hooks run (and may record final events, such as sessions ended by the
        shutdown), the relay publishes what was committed, and only then do the clients
        close."""
        if self._producer is None:
            return
        self.started = False
        await self.broker.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for hook in self.on_stop:
            try:
                await hook(self)
            except Exception:
                # The rest of the drain (the relay's final publish above all) must still happen.
                log.exception("%s: stop hook %r failed", self.name, hook)
        if self._relay_task is not None:  # None when start() failed before the relay began
            await self.relay.wait_until_published(timeout=min(5.0, self.platform.shutdown_grace_s))
            self.relay.stop()
            await asyncio.gather(self._relay_task, return_exceptions=True)
            self._relay_task = None
        await self._producer.stop()
        self._producer = None
        await self.db.dispose()
        log.info("%s stopped", self.name)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[ServiceApp]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    @asynccontextmanager
    async def _lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        async with self.running():
            yield

    # --- wiring -------------------------------------------------------------------------

    def _wire_handlers(self) -> None:
        if self._wired or not len(self.handlers):
            return
        self._wired = True
        inboxes = [
            InboxConsumer(
                handler,
                db=self.db,
                producer=self.producer,
                group=self.name,
                policy=self.retry_policy,
                metrics=self.metrics,
            )
            for handler in self.handlers
        ]
        # One consumer for the service's topics and one for its retry topics: every extra
        # member of a group costs a rebalance at start-up. Retries get a group of their own so
        # that waiting for a retry's due time never holds back fresh events.
        self._subscribe(
            {inbox.handler.topic: inbox.process for inbox in inboxes},
            group=self.name,
            max_records=self.platform.consumer_batch_size,
        )
        self._subscribe(
            {inbox.retry_topic: inbox.process_retries for inbox in inboxes},
            group=f"{self.name}.retry",
            max_records=self.platform.retry_batch_size,
        )

    def _subscribe(self, routes: dict[str, Process], *, group: str, max_records: int) -> None:
        # NACK_ON_ERROR is safe here because the inbox never lets one message's failure out:
        # it routes it to the retry topic or the DLQ. What does propagate is the database or the
        # broker being unreachable, and then rewinding to the batch start is what we want.
        subscriber = subscribe_batches(
            self.broker,
            sorted(routes),
            group_id=group,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            max_records=max_records,
            session_timeout_ms=self.platform.consumer_session_timeout_ms,
            max_poll_interval_ms=self.platform.consumer_max_poll_interval_ms,
            title=group,
            description=f"{self.name} consumes {', '.join(sorted(routes))}",
        )

        async def consume(message: KafkaMessage) -> None:
            records = message.raw_message
            batch = list(records) if isinstance(records, tuple) else [records]
            by_topic: dict[str, list[ConsumerRecord]] = {}
            for record in batch:
                by_topic.setdefault(record.topic, []).append(record)
            try:
                for topic, topic_records in by_topic.items():
                    await routes[topic](topic_records)
            except Exception:
                # Not a message's fault: back off before the rewind so an outage is not a spin.
                log.exception(
                    "batch on %s could not be completed; it will be redelivered",
                    ", ".join(by_topic),
                )
                await asyncio.sleep(1.0)
                raise

        consume.__name__ = f"consume_{group.replace('.', '_').replace('-', '_')}"
        subscriber(consume, decoder=_skip_decoding)


async def _skip_decoding(message: Any) -> None:
    # The inbox decodes the raw records itself, so a malformed body never fails in FastStream.
    return None
