"""Recording a finished session: the row and its `session.closed` event in one transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.dialects.postgresql import insert as pg_insert

from jarvis_common.db import UnitOfWork
from jarvis_common.errors import Conflict
from jarvis_common.events.catalogue import (
    SessionClosed,
    SessionEndReason,
    TokenUsage,
    TranscriptItem,
)
from session_gateway.tables import sessions


class RecordClosedSession(BaseModel):
    """Command: store a session that has ended and announce it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    session_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    kiosk_id: uuid.UUID
    gym_id: uuid.UUID
    franchise_id: uuid.UUID | None = None
    member_id: uuid.UUID | None = None
    started_at: datetime
    ended_at: datetime
    end_reason: SessionEndReason = "kiosk_ended"
    transcript: tuple[TranscriptItem, ...] = Field(default=(), max_length=2000)
    usage: TokenUsage = TokenUsage()
    cost_usd: Decimal = Field(default=Decimal("0"), ge=0)

    @model_validator(mode="after")
    def _ends_after_start(self) -> RecordClosedSession:
        if self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        return self


async def record_closed_session(uow: UnitOfWork, command: RecordClosedSession) -> SessionClosed:
    inserted = await uow.session.execute(
        pg_insert(sessions)
        .values(
            id=command.session_id,
            kiosk_id=command.kiosk_id,
            gym_id=command.gym_id,
            franchise_id=command.franchise_id,
            member_id=command.member_id,
            started_at=command.started_at,
            ended_at=command.ended_at,
            end_reason=command.end_reason,
            transcript=[t.model_dump(mode="json") for t in command.transcript],
            usage=command.usage.model_dump(mode="json"),
            cost_usd=command.cost_usd,
        )
        .on_conflict_do_nothing(index_elements=[sessions.c.id])
        .returning(sessions.c.id)
    )
    if inserted.scalar_one_or_none() is None:
        raise Conflict(f"session {command.session_id} is already recorded")
    event = SessionClosed(
        **command.model_dump(exclude={"transcript", "usage"}),
        transcript=command.transcript,
        usage=command.usage,
    )
    uow.publish(event, gym_id=command.gym_id, franchise_id=command.franchise_id)
    return event
