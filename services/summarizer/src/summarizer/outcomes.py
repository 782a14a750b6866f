"""Analyses kept across the consumer's one-by-one replay of a batch.

The inbox applies a batch in one transaction; when the batch handler raises, it rolls back and
calls the handler again once per event. Without this memory, one failing session would make
every other session of its batch call the model a second time. So before raising, the handler
keeps each event's outcome (its analysis, or its error) here, and the replay takes it back
instead of calling again: the sessions that succeeded are stored, the one that failed goes to
its retry topic or to the DLQ with its own error. Bounded; an outcome nobody takes back (the
partition moved to another replica) only costs a new call later.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict

from summarizer.analysis import Analysis

Outcome = Analysis | Exception


class PendingOutcomes:
    def __init__(self, limit: int):
        self.limit = limit
        self._by_event: OrderedDict[uuid.UUID, Outcome] = OrderedDict()

    def keep(self, outcomes: dict[uuid.UUID, Outcome]) -> None:
        self._by_event.update(outcomes)
        while len(self._by_event) > self.limit:
            self._by_event.popitem(last=False)

    def take(self, event_id: uuid.UUID) -> Outcome | None:
        return self._by_event.pop(event_id, None)

    def __len__(self) -> int:
        return len(self._by_event)
