"""Turning a closed session into its stored summary and `summary.created`.

The walking skeleton's summariser is extractive and deterministic: it keeps what the member
said first. The real providers (OpenAI and the offline analyser) replace `summarize_text`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert

from jarvis_common.db import UnitOfWork
from jarvis_common.events import Envelope
from jarvis_common.events.catalogue import SessionClosed, SummaryCreated
from summarizer.tables import summaries

MODEL = "extractive-v0"
MAX_SUMMARY_CHARS = 500


def summarize_text(closed: SessionClosed) -> str:
    member_lines = [
        t.text.strip() for t in closed.transcript if t.role == "user" and t.text.strip()
    ]
    if not member_lines:
        return "The member did not say anything."
    turns = len(member_lines)
    opening = member_lines[0][:MAX_SUMMARY_CHARS]
    return f'{turns} member turn(s). The member opened with: "{opening}"'


async def summarize_session(event: Envelope[Any], uow: UnitOfWork) -> None:
    closed: SessionClosed = event.data
    text = summarize_text(closed)
    stored = await uow.session.execute(
        insert(summaries)
        .values(
            session_id=closed.session_id,
            kiosk_id=closed.kiosk_id,
            gym_id=closed.gym_id,
            franchise_id=closed.franchise_id,
            member_id=closed.member_id,
            summary=text,
            language=closed.language,
            model=MODEL,
        )
        .on_conflict_do_nothing(index_elements=[summaries.c.session_id])
        .returning(summaries.c.session_id)
    )
    if stored.scalar_one_or_none() is None:
        return  # a second session.closed for the same session (another event id): already done
    uow.publish(
        SummaryCreated(
            session_id=closed.session_id,
            kiosk_id=closed.kiosk_id,
            gym_id=closed.gym_id,
            member_id=closed.member_id,
            summary=text,
            language=closed.language,
            model=MODEL,
            session_ended_at=closed.ended_at,
        ),
        gym_id=closed.gym_id,
        franchise_id=closed.franchise_id,
    )
