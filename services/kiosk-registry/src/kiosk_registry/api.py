"""The registry's REST API (`/api/v1`), the one API dashboards query."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from jarvis_common.auth import AdminOnly
from jarvis_common.errors import NotFound
from jarvis_common.http import UoW
from kiosk_registry.conversations import Conversation, get_conversation, list_conversations

router = APIRouter(prefix="/api/v1", tags=["conversations"], dependencies=[AdminOnly])


@router.get("/gyms/{gym_id}/conversations")
async def gym_conversations(
    gym_id: uuid.UUID, uow: UoW, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[Conversation]:
    return await list_conversations(uow, gym_id, limit)


@router.get("/gyms/{gym_id}/conversations/{session_id}")
async def gym_conversation(gym_id: uuid.UUID, session_id: uuid.UUID, uow: UoW) -> Conversation:
    conversation = await get_conversation(uow, gym_id, session_id)
    if conversation is None:
        raise NotFound(f"no conversation {session_id} in gym {gym_id}")
    return conversation
