"""Persisting sessions: each row and its event are written in one transaction.

- a finished session recorded at once (`record_closed_session`, the HTTP route);
- a live session: `open_session` (row in state `open` + `session.started`, refused past the
  gym's cap on concurrent sessions) then `close_session` (the one transition open -> closed,
  which alone publishes `session.closed`, so it is published exactly once whatever ends it).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from jarvis_common.db import UnitOfWork
from jarvis_common.errors import Conflict
from jarvis_common.events.catalogue import (
    SessionClosed,
    SessionEndReason,
    SessionStarted,
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
            **_conversation(command.transcript, command.usage),
            cost_usd=command.cost_usd,
            state="closed",
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


def _conversation(transcript: tuple[TranscriptItem, ...], usage: TokenUsage) -> dict[str, Any]:
    """A session's transcript and usage as their JSONB columns hold them."""
    return {
        "transcript": [t.model_dump(mode="json") for t in transcript],
        "usage": usage.model_dump(mode="json"),
    }


class GymAtCapacity(Exception):
    """The gym already runs its maximum number of concurrent sessions."""


async def open_session(
    uow: UnitOfWork,
    event: SessionStarted,
    *,
    franchise_id: uuid.UUID | None,
    max_concurrent: int,
    owner: uuid.UUID,
) -> None:
    """Insert the open row and publish `session.started`, unless the gym is at its cap."""
    # One gym's session starts are serialised (transaction-scoped lock), so two kiosks of the
    # same gym starting at once cannot both take the last place.
    await uow.session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"gateway.sessions.gym:{event.gym_id}"},
    )
    running = (
        await uow.session.execute(
            select(func.count())
            .select_from(sessions)
            .where(sessions.c.gym_id == event.gym_id, sessions.c.state == "open")
        )
    ).scalar_one()
    if running >= max_concurrent:
        raise GymAtCapacity(f"the gym already runs {running} of {max_concurrent} sessions")
    await uow.session.execute(
        sessions.insert().values(
            id=event.session_id,
            kiosk_id=event.kiosk_id,
            gym_id=event.gym_id,
            franchise_id=franchise_id,
            member_id=event.member_id,
            started_at=event.started_at,
            **_conversation((), TokenUsage()),
            cost_usd=Decimal("0"),
            state="open",
            owner=owner,
        )
    )
    uow.publish(event, gym_id=event.gym_id, franchise_id=franchise_id)


async def close_session(uow: UnitOfWork, event: SessionClosed) -> bool:
    """Store how the session ended and publish `session.closed`; False if it was already closed."""
    closed = await uow.session.execute(
        update(sessions)
        .where(sessions.c.id == event.session_id, sessions.c.state == "open")
        .values(
            state="closed",
            ended_at=event.ended_at,
            end_reason=event.end_reason,
            **_conversation(event.transcript, event.usage),
            cost_usd=event.cost_usd,
            price_table_version=event.price_table_version,
        )
        .returning(sessions.c.id)
    )
    if closed.scalar_one_or_none() is None:
        return False
    uow.publish(event, gym_id=event.gym_id, franchise_id=event.franchise_id)
    return True


async def checkpoint_session(
    uow: UnitOfWork,
    session_id: uuid.UUID,
    transcript: tuple[TranscriptItem, ...],
    usage: TokenUsage,
    cost_usd: Decimal,
) -> None:
    """Save an open session's conversation so far, for the sweep if its process dies."""
    await uow.session.execute(
        update(sessions)
        .where(sessions.c.id == session_id, sessions.c.state == "open")
        .values(
            **_conversation(transcript, usage),
            cost_usd=cost_usd,
            checkpointed_at=func.now(),
        )
    )
