"""A service's event handlers: one per topic, declared where the service's wiring can be read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jarvis_common.events import Envelope, EventData

if TYPE_CHECKING:
    from jarvis_common.db.uow import UnitOfWork

HandlerFunc = Callable[[Envelope[Any], "UnitOfWork"], Awaitable[None]]
BatchHandlerFunc = Callable[[list[Envelope[Any]], "UnitOfWork"], Awaitable[None]]


@dataclass(frozen=True)
class EventHandler:
    topic: str
    name: str
    func: Callable[..., Awaitable[None]]
    version: int = 1
    # A batch handler gets every new event of a batch in one call (a list, in offset order per
    # partition), so it can apply them with a few set-based statements instead of one per event.
    batch: bool = False
    # False only for handlers that are idempotent by themselves (applying an event twice has
    # the effect of applying it once): their event ids are not written to processed_events,
    # which at heartbeat rates would be billions of rows a day.
    record_processed: bool = True


class EventHandlers:
    def __init__(self) -> None:
        self._by_topic: dict[str, EventHandler] = {}

    def on(
        self, data_model: type[EventData], *, name: str | None = None
    ) -> Callable[[HandlerFunc], HandlerFunc]:
        """Register `func(event, uow)` for every event of this type.

        The handler runs inside the unit of work that also records the event as processed; it
        must not commit. Raise `PermanentError` for an event that can never succeed.
        """

        def register(func: HandlerFunc) -> HandlerFunc:
            self.add(
                EventHandler(
                    data_model.event_type, name or func.__name__, func, data_model.event_version
                )
            )
            return func

        return register

    def on_batch(
        self,
        data_model: type[EventData],
        *,
        name: str | None = None,
        record_processed: bool = True,
    ) -> Callable[[BatchHandlerFunc], BatchHandlerFunc]:
        """Register `func(events, uow)` for lists of events of this type (throughput paths).

        Same contract as `on`; if it raises, the batch is replayed one event at a time (each
        call then gets a one-element list), so the failing event alone is retried.
        `record_processed=False` is for handlers that are idempotent by themselves.
        """

        def register(func: BatchHandlerFunc) -> BatchHandlerFunc:
            self.add(
                EventHandler(
                    data_model.event_type,
                    name or func.__name__,
                    func,
                    data_model.event_version,
                    batch=True,
                    record_processed=record_processed,
                )
            )
            return func

        return register

    def add(self, handler: EventHandler) -> None:
        if handler.topic in self._by_topic:
            raise ValueError(f"a handler for {handler.topic!r} is already registered")
        self._by_topic[handler.topic] = handler

    def include(self, other: EventHandlers) -> None:
        for handler in other:
            self.add(handler)

    def __iter__(self) -> Iterator[EventHandler]:
        return iter(self._by_topic.values())

    def __len__(self) -> int:
        return len(self._by_topic)
