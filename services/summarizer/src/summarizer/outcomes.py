"""Analyses kept across the consumer's one-by-one replay of a batch.

The inbox applies a batch in one transaction; when the batch handler raises (or the transaction
fails to commit), it rolls back and calls the handler again once per event. Without this memory,
one failing session would make every other session of its batch call the model a second time. So
before anything can fail, the handler keeps each event's outcome (its analysis, or its error)
here, and the replay takes it back instead of calling again: the sessions that succeeded are
stored, the one that failed goes to its retry topic or to the DLQ with its own error.

A kept error lives only `failure_ttl_s`: the replay follows the failed batch at once, while a
retry of the same event (from the retry topic, after its backoff) must call the model again
rather than be handed the old error. An analysis lives `analysis_ttl_s` and is forgotten as soon
as its transaction commits. Bounded; an outcome nobody takes back (the partition moved to another
replica) only costs a new call later.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable

from summarizer.analysis import Analysis

Outcome = Analysis | Exception


class PendingOutcomes:
    def __init__(
        self,
        limit: int,
        *,
        failure_ttl_s: float = 0.5,
        analysis_ttl_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.limit = limit
        self.failure_ttl_s = failure_ttl_s
        self.analysis_ttl_s = analysis_ttl_s
        self._clock = clock
        self._by_event: OrderedDict[uuid.UUID, tuple[Outcome, float]] = OrderedDict()

    def keep(self, outcomes: dict[uuid.UUID, Outcome]) -> None:
        now = self._clock()
        for event_id, outcome in outcomes.items():
            ttl = self.failure_ttl_s if isinstance(outcome, Exception) else self.analysis_ttl_s
            self._by_event.pop(event_id, None)
            self._by_event[event_id] = (outcome, now + ttl)
        while len(self._by_event) > self.limit:
            self._by_event.popitem(last=False)

    def take(self, event_id: uuid.UUID) -> Outcome | None:
        kept = self._by_event.pop(event_id, None)
        if kept is None or kept[1] < self._clock():
            return None
        return kept[0]

    def forget(self, event_ids: list[uuid.UUID]) -> None:
        for event_id in event_ids:
            self._by_event.pop(event_id, None)

    def __len__(self) -> int:
        return len(self._by_event)
