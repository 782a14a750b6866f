"""The conversations read model: projections of gateway and summarizer events, and queries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert

from jarvis_common.db import UnitOfWork
from jarvis_common.events import Envelope
from jarvis_common.events.catalogue import SessionClosed, SummaryCreated
from kiosk_registry.tables import conversations as c


class Conversation(BaseModel):
    session_id: uuid.UUID
    gym_id: uuid.UUID
    kiosk_id: uuid.UUID
    member_id: uuid.UUID | None
    started_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    summary: str | None
    sentiment: str | None


async def _upsert(uow: UnitOfWork, session_id: uuid.UUID, **values: Any) -> None:
    stmt = insert(c).values(session_id=session_id, **values)
    await uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[c.c.session_id],
            set_={**{k: stmt.excluded[k] for k in values}, "updated_at": func.now()},
        )
    )


async def project_session_closed(event: Envelope[Any], uow: UnitOfWork) -> None:
    closed: SessionClosed = event.data
    await _upsert(
        uow,
        closed.session_id,
        gym_id=closed.gym_id,
        kiosk_id=closed.kiosk_id,
        member_id=closed.member_id,
        started_at=closed.started_at,
        ended_at=closed.ended_at,
        end_reason=closed.end_reason,
    )


async def project_summary_created(event: Envelope[Any], uow: UnitOfWork) -> None:
    created: SummaryCreated = event.data
    await _upsert(
        uow,
        created.session_id,
        gym_id=created.gym_id,
        kiosk_id=created.kiosk_id,
        member_id=created.member_id,
        summary=created.summary,
        sentiment=created.sentiment_label,
    )


def conversations_of_gym(gym_id: uuid.UUID) -> Select[Any]:
    """Every query is scoped to a gym, so an unscoped read stands out in review."""
    return select(c).where(c.c.gym_id == gym_id)


async def get_conversation(
    uow: UnitOfWork, gym_id: uuid.UUID, session_id: uuid.UUID
) -> Conversation | None:
    row = (
        (
            await uow.session.execute(
                conversations_of_gym(gym_id).where(c.c.session_id == session_id)
            )
        )
        .mappings()
        .one_or_none()
    )
    return Conversation.model_validate(dict(row)) if row else None


async def list_conversations(uow: UnitOfWork, gym_id: uuid.UUID, limit: int) -> list[Conversation]:
    rows = (
        await uow.session.execute(
            conversations_of_gym(gym_id).order_by(c.c.ended_at.desc().nulls_last()).limit(limit)
        )
    ).mappings()
    return [Conversation.model_validate(dict(row)) for row in rows]
