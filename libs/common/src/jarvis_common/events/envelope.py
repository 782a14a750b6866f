"""The one envelope every event travels in.

JSON on the wire so any Kafka client can read it. Consumers ignore fields they do not know, so
adding an optional field to an event is not a breaking change; removing or retyping one is, and
gets a new version in the catalogue.
"""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from jarvis_common.errors import PermanentError
from jarvis_common.events.catalogue import EventData, data_model_for

D = TypeVar("D", bound=EventData)


class Envelope(BaseModel, Generic[D]):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: uuid.UUID = Field(description="Unique event id; the idempotency key.")
    type: str = Field(description="Event type, also the topic name, e.g. `session.closed`.")
    version: int = Field(ge=1, description="Schema version of `data`.")
    source: str = Field(description="Name of the service that emitted the event.")
    time: AwareDatetime = Field(description="When the event happened (UTC).")
    gym_id: uuid.UUID | None = None
    franchise_id: uuid.UUID | None = None
    subject: str = Field(description="Id of the entity the event is about; the partition key.")
    trace_id: str = Field(description="Correlates every event and log line of one flow.")
    data: D

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


class UnknownEvent(PermanentError):
    """The bytes are not an event this service can read: it will never succeed."""


def new_event(
    data: D,
    *,
    source: str,
    gym_id: uuid.UUID | None = None,
    franchise_id: uuid.UUID | None = None,
    trace_id: str | None = None,
    time: datetime | None = None,
) -> Envelope[D]:
    event_id = uuid.uuid4()
    return Envelope[type(data)](  # type: ignore[misc]
        id=event_id,
        type=data.event_type,
        version=data.event_version,
        source=source,
        time=time or datetime.now(UTC),
        gym_id=gym_id,
        franchise_id=franchise_id,
        subject=data.subject(),
        trace_id=trace_id or event_id.hex,
        data=data,
    )


class _Header(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    version: int


@functools.cache
def _envelope_of(event_type: str, version: int) -> type[Envelope[Any]]:
    # Building Envelope[Model] is costly; one class per catalogued (type, version) is enough.
    return Envelope[data_model_for(event_type, version)]  # type: ignore[misc]


def decode_event(raw: bytes | str) -> Envelope[Any]:
    """Parse an event of any catalogued type and version; anything else is permanent."""
    try:
        header = _Header.model_validate_json(raw)
        return _envelope_of(header.type, header.version).model_validate_json(raw)
    except (ValidationError, KeyError, ValueError) as exc:
        raise UnknownEvent(f"not a readable event: {exc}") from exc
