"""HTTP routes of the gateway.

Finished sessions can also be recorded through this route by
an operator-authenticated client (the kiosk simulator, tests).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status
from pydantic import BaseModel

from jarvis_common.auth import AdminOnly
from jarvis_common.http import UoW
from session_gateway.sessions import RecordClosedSession, record_closed_session

router = APIRouter(prefix="/api/v1", tags=["sessions"])


class SessionRecorded(BaseModel):
    session_id: uuid.UUID
    end_reason: str


@router.post("/sessions", status_code=status.HTTP_201_CREATED, dependencies=[AdminOnly])
async def post_closed_session(command: RecordClosedSession, uow: UoW) -> SessionRecorded:
    event = await record_closed_session(uow, command)
    return SessionRecorded(session_id=event.session_id, end_reason=event.end_reason)
