"""Franchises, gyms and user accounts."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from jarvis_common.http import COMMON_ERRORS, UoW, error_responses
from kiosk_registry import tenants as t
from kiosk_registry.auth import CurrentUser, Registry
from kiosk_registry.pagination import Page, Paging, paginate
from kiosk_registry.tables import franchises, gyms, users

router = APIRouter(prefix="/api/v1", tags=["tenants"], responses=error_responses(*COMMON_ERRORS))


@router.get("/franchises")
async def list_franchises(principal: CurrentUser, uow: UoW, paging: Paging) -> Page[t.Franchise]:
    statement = t.franchises_visible(principal).order_by(franchises.c.name, franchises.c.id)
    return await paginate(uow.session, statement, paging, t.Franchise)


@router.post("/franchises", status_code=status.HTTP_201_CREATED)
async def create_franchise(body: t.FranchiseIn, principal: CurrentUser, uow: UoW) -> t.Franchise:
    return await t.create_franchise(uow, principal, body)


@router.get("/franchises/{franchise_id}")
async def get_franchise(franchise_id: uuid.UUID, principal: CurrentUser, uow: UoW) -> t.Franchise:
    return await t.get_franchise(uow, principal, franchise_id)


@router.get("/gyms")
async def list_gyms(principal: CurrentUser, uow: UoW, paging: Paging) -> Page[t.Gym]:
    statement = t.gyms_visible(principal).order_by(gyms.c.name, gyms.c.id)
    return await paginate(uow.session, statement, paging, t.Gym)


@router.post("/gyms", status_code=status.HTTP_201_CREATED)
async def create_gym(body: t.GymIn, principal: CurrentUser, uow: UoW) -> t.Gym:
    return await t.create_gym(uow, principal, body)


@router.get("/gyms/{gym_id}")
async def get_gym(gym_id: uuid.UUID, principal: CurrentUser, uow: UoW) -> t.Gym:
    return await t.get_gym(uow, principal, gym_id)


@router.patch("/gyms/{gym_id}")
async def update_gym(
    gym_id: uuid.UUID, body: t.GymPatch, principal: CurrentUser, uow: UoW
) -> t.Gym:
    return await t.update_gym(uow, principal, gym_id, body)


@router.get("/users")
async def list_users(principal: CurrentUser, uow: UoW, paging: Paging) -> Page[t.User]:
    statement = t.users_visible(principal).order_by(users.c.email)
    return await paginate(uow.session, statement, paging, t.User)


@router.post("/users", status_code=status.HTTP_201_CREATED)
async def create_user(
    body: t.UserIn, principal: CurrentUser, uow: UoW, registry: Registry
) -> t.User:
    return await t.create_user(uow, principal, body, registry.passwords)


@router.get("/users/{user_id}")
async def get_user(user_id: uuid.UUID, principal: CurrentUser, uow: UoW) -> t.User:
    return await t.get_user(uow, principal, user_id)


@router.patch("/users/{user_id}")
async def update_user(
    user_id: uuid.UUID, body: t.UserPatch, principal: CurrentUser, uow: UoW, registry: Registry
) -> t.User:
    return await t.update_user(uow, principal, user_id, body, registry.passwords)


@router.put("/users/{user_id}/scope")
async def set_user_scope(
    user_id: uuid.UUID, body: t.UserScope, principal: CurrentUser, uow: UoW
) -> t.User:
    return await t.set_user_scope(uow, principal, user_id, body)
