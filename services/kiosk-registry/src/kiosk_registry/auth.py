"""Who is calling: users (dashboards) and kiosks, authenticated by registry-signed tokens.

A user token names the user; the user's role and tenant are read from the database on every
request, so a changed role or a deactivated account takes effect at once.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Annotated, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from jarvis_common.db import UnitOfWork
from jarvis_common.errors import Forbidden, Unauthorized
from jarvis_common.http import UoW
from jarvis_common.tokens import USER_AUDIENCE, InvalidToken, TokenSigner, TokenVerifier
from kiosk_registry.settings import Settings
from kiosk_registry.tables import users

Role = Literal["super_admin", "franchise_owner", "gym_manager"]

# Argon2 is deliberately slow (~0.1 s of CPU): it runs in worker threads, a few at a time, so
# logins never stall the event loop that also absorbs heartbeats and serves dashboards.
_HASHING = asyncio.Semaphore(2)


class Passwords:
    """Account passwords, stored as Argon2id hashes at the configured cost. A hash records its
    own parameters, so hashes made at another cost still verify."""

    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.password_hash_time_cost,
            memory_cost=settings.password_hash_memory_kib,
            parallelism=settings.password_hash_parallelism,
        )
        # Verified against when the e-mail is unknown, so both failures take the same time.
        self._dummy = self._hasher.hash("not-a-real-password")

    def hash_now(self, password: str) -> str:
        """In the calling thread: for scripts and tests, not for the event loop."""
        return self._hasher.hash(password)

    async def hash(self, password: str) -> str:
        async with _HASHING:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def matches(self, password_hash: str | None, password: str) -> bool:
        async with _HASHING:
            return await asyncio.to_thread(self._matches, password_hash, password)

    def _matches(self, password_hash: str | None, password: str) -> bool:
        try:
            verified = self._hasher.verify(password_hash or self._dummy, password)
        except (VerifyMismatchError, InvalidHashError):
            return False
        return verified and password_hash is not None


@dataclass(frozen=True)
class Actor:
    """Who made a change, as the audit log records it."""

    kind: Literal["user", "kiosk", "system"]
    id: str | None = None


SYSTEM = Actor("system")


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    email: str
    role: Role
    franchise_id: uuid.UUID | None
    gym_id: uuid.UUID | None

    @property
    def actor(self) -> Actor:
        return Actor("user", str(self.user_id))

    @property
    def is_super_admin(self) -> bool:
        return self.role == "super_admin"


@dataclass(frozen=True)
class RegistryContext:
    """Registry-wide collaborators, kept on the FastAPI app's state by the composition root."""

    settings: Settings
    signer: TokenSigner
    verifier: TokenVerifier
    passwords: Passwords


def registry_context(request: Request) -> RegistryContext:
    return request.app.state.registry


Registry = Annotated[RegistryContext, Depends(registry_context)]
_bearer = HTTPBearer(auto_error=False, description="A user access token from /api/v1/auth/login")


async def load_principal(uow: UnitOfWork, user_id: uuid.UUID) -> Principal | None:
    row = (
        (await uow.session.execute(select(users).where(users.c.id == user_id, users.c.active)))
        .mappings()
        .one_or_none()
    )
    if row is None:
        return None
    role, franchise_id, gym_id = row["role"], row["franchise_id"], row["gym_id"]
    # A scope that is missing for the role (possible for migrated accounts) grants nothing:
    # the account cannot act until a super admin repairs it.
    if (
        role not in ("super_admin", "franchise_owner", "gym_manager")
        or (role == "franchise_owner" and franchise_id is None)
        or (role == "gym_manager" and gym_id is None)
    ):
        return None
    return Principal(row["id"], row["email"], role, franchise_id, gym_id)


async def current_principal(
    registry: Registry,
    uow: UoW,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthorized("a user access token is required")
    try:
        claims = registry.verifier.verify(credentials.credentials, USER_AUDIENCE)
        user_id = uuid.UUID(claims["sub"])
    except (InvalidToken, ValueError) as exc:
        raise Unauthorized("the access token is invalid or expired") from exc
    principal = await load_principal(uow, user_id)
    if principal is None:
        raise Unauthorized("this account no longer exists or is deactivated")
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        raise Forbidden(f"this action needs one of the roles: {', '.join(roles)}")
