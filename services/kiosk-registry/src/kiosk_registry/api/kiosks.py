"""The kiosk fleet as dashboards see it: create, list, read, configure."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from jarvis_common.http import COMMON_ERRORS, UoW, error_responses
from kiosk_registry import kiosks as k
from kiosk_registry.auth import CurrentUser
from kiosk_registry.pagination import Page, Paging, paginate
from kiosk_registry.tables import kiosks

router = APIRouter(prefix="/api/v1", tags=["kiosks"], responses=error_responses(*COMMON_ERRORS))

StatusFilter = Literal["provisioning", "online", "offline", "error"]


@router.post("/gyms/{gym_id}/kiosks", status_code=status.HTTP_201_CREATED)
async def create_kiosk(
    gym_id: uuid.UUID, body: k.KioskIn, principal: CurrentUser, uow: UoW
) -> k.Kiosk:
    return await k.create_kiosk(uow, principal, gym_id, body)


@router.get("/kiosks")
async def list_kiosks(
    principal: CurrentUser,
    uow: UoW,
    paging: Paging,
    gym_id: Annotated[uuid.UUID | None, Query()] = None,
    status_: Annotated[StatusFilter | None, Query(alias="status")] = None,
) -> Page[k.Kiosk]:
    statement = k.kiosks_visible(principal)
    if gym_id is not None:
        statement = statement.where(kiosks.c.gym_id == gym_id)
    if status_ is not None:
        statement = statement.where(kiosks.c.status == status_)
    return await paginate(
        uow.session, statement.order_by(kiosks.c.name, kiosks.c.id), paging, k.Kiosk
    )


@router.get("/kiosks/{kiosk_id}")
async def get_kiosk(kiosk_id: uuid.UUID, principal: CurrentUser, uow: UoW) -> k.Kiosk:
    return await k.get_kiosk(uow, principal, kiosk_id)


@router.patch("/kiosks/{kiosk_id}/config")
async def update_kiosk_config(
    kiosk_id: uuid.UUID, body: k.KioskConfigPatch, principal: CurrentUser, uow: UoW
) -> k.Kiosk:
    return await k.update_config(uow, principal, kiosk_id, body)
