"""Logging in, who am I, and the public keys that verify registry tokens."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel, EmailStr, Field
from sqlalchemy import func, select

from jarvis_common.errors import Unauthorized
from jarvis_common.http import UoW, error_responses
from jarvis_common.tokens import USER_AUDIENCE
from kiosk_registry.auth import CurrentUser, Registry
from kiosk_registry.tables import users

router = APIRouter(prefix="/api/v1", tags=["auth"], responses=error_responses(400, 401))


class Login(BaseModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=1024)


class AccessToken(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class Me(BaseModel):
    id: uuid.UUID
    email: str
    role: str
    franchise_id: uuid.UUID | None
    gym_id: uuid.UUID | None


@router.post("/auth/login")
async def login(body: Login, uow: UoW, registry: Registry) -> AccessToken:
    rows = (
        await uow.session.execute(
            select(users.c.id, users.c.password_hash, users.c.active).where(
                func.lower(users.c.email) == body.email.lower()
            )
        )
    ).all()
    # Legacy data may hold the same address twice in different cases: neither may log in by
    # it until a super admin resolves which account is whose.
    row = rows[0] if len(rows) == 1 else None
    matches = await registry.passwords.matches(row.password_hash if row else None, body.password)
    if not matches or not (row and row.active):
        raise Unauthorized("wrong e-mail or password")
    token, ttl = registry.signer.sign(
        str(row.id), USER_AUDIENCE, registry.settings.user_token_ttl_s
    )
    return AccessToken(access_token=token, expires_in=ttl)


@router.get("/me")
async def me(principal: CurrentUser) -> Me:
    return Me(
        id=principal.user_id,
        email=principal.email,
        role=principal.role,
        franchise_id=principal.franchise_id,
        gym_id=principal.gym_id,
    )


@router.get("/.well-known/jwks.json", tags=["kiosks"])
async def jwks(registry: Registry) -> dict:
    """The public keys that verify user and kiosk tokens, for services that check them offline."""
    return registry.signer.jwks()
