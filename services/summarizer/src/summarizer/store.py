"""Reading and writing conversation summaries (the session id is the key, so a summary is
written once whatever the redeliveries)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from summarizer.tables import summaries


async def summarised(session: AsyncSession, session_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    if not session_ids:
        return set()
    found = await session.scalars(
        select(summaries.c.session_id).where(summaries.c.session_id.in_(session_ids))
    )
    return set(found)


_ADD_NEW = (
    insert(summaries)
    .on_conflict_do_nothing(index_elements=[summaries.c.session_id])
    .returning(summaries.c.session_id)
)


async def add_new(session: AsyncSession, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert the rows whose session has no summary yet; the ids of those inserted.

    One cached statement executed for many rows: SQLAlchemy batches them into multi-row
    INSERTs itself ("insertmanyvalues"), without compiling a statement per batch."""
    if not rows:
        return set()
    result = await session.execute(_ADD_NEW, rows)
    return set(result.scalars())
