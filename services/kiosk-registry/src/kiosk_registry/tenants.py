"""Franchises, gyms and user accounts, always within the caller's tenant."""

from __future__ import annotations

import uuid
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator
from sqlalchemy import Select, func, select, true
from sqlalchemy.exc import IntegrityError

from jarvis_common.db import UnitOfWork
from jarvis_common.errors import AppError, Conflict, Forbidden, NotFound
from kiosk_registry.audit import record_change
from kiosk_registry.auth import Passwords, Principal, Role, require_role
from kiosk_registry.gym_announcements import announce_gyms, gyms_reached_by
from kiosk_registry.kiosks import republish_gym_kiosks
from kiosk_registry.tables import franchises, gyms, users
from kiosk_registry.tenancy import gym_scope, visible_gym

# --- models ------------------------------------------------------------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FranchiseIn(Strict):
    name: str = Field(min_length=1, max_length=200)


class Franchise(BaseModel):
    id: uuid.UUID
    name: str


MAX_GYM_INFO_BYTES = 64 * 1024


class GymInfo(BaseModel):
    """What the kiosk assistant may tell members (at most 64 KiB of JSON: it travels in every
    kiosk's configuration event)."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="after")
    def _bounded(self) -> GymInfo:
        if len(self.model_dump_json()) > MAX_GYM_INFO_BYTES:
            raise ValueError(f"gym information is at most {MAX_GYM_INFO_BYTES} bytes of JSON")
        return self

    opening_hours: dict[str, str] | str | None = None
    classes: list[Any] | str | None = None
    prices: list[Any] | dict[str, Any] | str | None = None
    contacts: dict[str, str] | str | None = None


def _valid_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


class GymIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    franchise_id: uuid.UUID | None = None
    timezone: str = "Europe/Paris"
    language: Literal["fr", "en"] = "fr"
    info: GymInfo = GymInfo()

    _tz = field_validator("timezone")(_valid_timezone)


class GymPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = None
    language: Literal["fr", "en"] | None = None
    info: GymInfo | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _valid_timezone(value)


class Gym(BaseModel):
    id: uuid.UUID
    franchise_id: uuid.UUID | None
    name: str
    timezone: str
    language: str
    info: dict[str, Any]


class UserIn(Strict):
    email: EmailStr
    password: str = Field(min_length=10, max_length=256)
    full_name: str | None = Field(default=None, max_length=200)
    role: Role
    franchise_id: uuid.UUID | None = None
    gym_id: uuid.UUID | None = None


class UserPatch(Strict):
    full_name: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, min_length=10, max_length=256)
    active: bool | None = None


class User(BaseModel):
    id: uuid.UUID
    email: str
    full_name: str | None
    role: str
    franchise_id: uuid.UUID | None
    gym_id: uuid.UUID | None
    active: bool


# --- franchises --------------------------------------------------------------------------------


def franchises_visible(principal: Principal) -> Select[Any]:
    statement = select(franchises.c.id, franchises.c.name)
    if principal.is_super_admin:
        return statement
    if principal.role == "franchise_owner":
        return statement.where(franchises.c.id == principal.franchise_id)
    # A gym manager sees the franchise of their gym (not a franchise_id column of their own).
    return statement.where(
        franchises.c.id.in_(select(gyms.c.franchise_id).where(gyms.c.id == principal.gym_id))
    )


async def get_franchise(
    uow: UnitOfWork, principal: Principal, franchise_id: uuid.UUID
) -> Franchise:
    row = (
        (
            await uow.session.execute(
                franchises_visible(principal).where(franchises.c.id == franchise_id)
            )
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFound(f"no franchise {franchise_id}")
    return Franchise.model_validate(dict(row))


async def create_franchise(uow: UnitOfWork, principal: Principal, body: FranchiseIn) -> Franchise:
    require_role(principal, "super_admin")
    franchise = Franchise(id=uuid.uuid4(), name=body.name)
    await uow.session.execute(franchises.insert().values(**franchise.model_dump()))
    await record_change(
        uow,
        principal.actor,
        "franchise.created",
        "franchise",
        franchise.id,
        franchise_id=franchise.id,
        after=franchise,
    )
    return franchise


# --- gyms --------------------------------------------------------------------------------------


def gyms_visible(principal: Principal) -> Select[Any]:
    return select(
        gyms.c.id, gyms.c.franchise_id, gyms.c.name, gyms.c.timezone, gyms.c.language, gyms.c.info
    ).where(gym_scope(principal, gyms.c.id))


async def get_gym(uow: UnitOfWork, principal: Principal, gym_id: uuid.UUID) -> Gym:
    return Gym.model_validate(dict(await visible_gym(uow, principal, gym_id)))


async def create_gym(uow: UnitOfWork, principal: Principal, body: GymIn) -> Gym:
    require_role(principal, "super_admin", "franchise_owner")
    if principal.role == "franchise_owner":
        if body.franchise_id not in (None, principal.franchise_id):
            raise NotFound(f"no franchise {body.franchise_id}")
        body = body.model_copy(update={"franchise_id": principal.franchise_id})
    elif body.franchise_id is not None:
        await get_franchise(uow, principal, body.franchise_id)
    gym = Gym(
        id=uuid.uuid4(),
        franchise_id=body.franchise_id,
        name=body.name,
        timezone=body.timezone,
        language=body.language,
        info=body.info.model_dump(exclude_none=True),
    )
    await uow.session.execute(gyms.insert().values(**gym.model_dump()))
    await record_change(
        uow,
        principal.actor,
        "gym.created",
        "gym",
        gym.id,
        gym_id=gym.id,
        franchise_id=gym.franchise_id,
        after=gym,
    )
    await announce_gyms(uow, [gym.id])
    return gym


async def update_gym(
    uow: UnitOfWork, principal: Principal, gym_id: uuid.UUID, patch: GymPatch
) -> Gym:
    before = await get_gym(uow, principal, gym_id)
    changes = patch.model_dump(exclude_unset=True, exclude_none=True)
    if "info" in changes:
        changes["info"] = patch.info.model_dump(exclude_none=True)  # type: ignore[union-attr]
    if not changes:
        return before
    await uow.session.execute(
        gyms.update().where(gyms.c.id == gym_id).values(**changes, updated_at=func.now())
    )
    after = before.model_copy(update=changes)
    await record_change(
        uow,
        principal.actor,
        "gym.updated",
        "gym",
        gym_id,
        gym_id=gym_id,
        franchise_id=before.franchise_id,
        before=before,
        after=after,
    )
    if changes.keys() & {"name", "language", "info"}:
        await republish_gym_kiosks(uow, principal.actor, gym_id)
    if changes.keys() & {"name", "language", "timezone"}:
        await announce_gyms(uow, [gym_id])
    return after


# --- users -------------------------------------------------------------------------------------

USER_COLUMNS = (
    users.c.id,
    users.c.email,
    users.c.full_name,
    users.c.role,
    users.c.franchise_id,
    users.c.gym_id,
    users.c.active,
)


def users_visible(principal: Principal) -> Select[Any]:
    statement = select(*USER_COLUMNS)
    if principal.is_super_admin:
        return statement.where(true())
    if principal.role == "franchise_owner" and principal.franchise_id is not None:
        # A gym manager belongs to the franchise of their gym, whatever a (possibly migrated)
        # franchise_id column says; only fellow owners are matched by franchise_id.
        return statement.where(
            ((users.c.role == "franchise_owner") & (users.c.franchise_id == principal.franchise_id))
            | users.c.gym_id.in_(
                select(gyms.c.id).where(gyms.c.franchise_id == principal.franchise_id)
            )
        )
    return statement.where(users.c.id == principal.user_id)


async def get_user(uow: UnitOfWork, principal: Principal, user_id: uuid.UUID) -> User:
    row = (
        (await uow.session.execute(users_visible(principal).where(users.c.id == user_id)))
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFound(f"no user {user_id}")
    return User.model_validate(dict(row))


async def _resolve_scope(
    uow: UnitOfWork,
    principal: Principal,
    role: Role,
    franchise_id: uuid.UUID | None,
    gym_id: uuid.UUID | None,
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """The (franchise_id, gym_id) a role is given, checked to exist in the caller's tenant.
    A gym manager's franchise is always their gym's."""
    if role == "super_admin" and (franchise_id or gym_id):
        raise AppError(
            "a super admin belongs to no franchise or gym", code="invalid_scope", status_code=422
        )
    if role == "franchise_owner":
        if franchise_id is None or gym_id is not None:
            raise AppError(
                "a franchise owner has a franchise_id and no gym_id",
                code="invalid_scope",
                status_code=422,
            )
        await get_franchise(uow, principal, franchise_id)
    if role == "gym_manager":
        if gym_id is None:
            raise AppError("a gym manager has a gym_id", code="invalid_scope", status_code=422)
        gym = await visible_gym(uow, principal, gym_id)
        franchise_id = gym["franchise_id"]
    return franchise_id, gym_id


async def create_user(
    uow: UnitOfWork, principal: Principal, body: UserIn, passwords: Passwords
) -> User:
    """Super admins create anyone; a franchise owner creates gym managers of their own gyms."""
    if principal.role == "franchise_owner":
        if body.role != "gym_manager":
            raise Forbidden("franchise owners create gym managers only")
    else:
        require_role(principal, "super_admin")
    franchise_id, gym_id = await _resolve_scope(
        uow, principal, body.role, body.franchise_id, body.gym_id
    )
    user = User(
        id=uuid.uuid4(),
        email=body.email.lower(),
        full_name=body.full_name,
        role=body.role,
        franchise_id=franchise_id,
        gym_id=gym_id,
        active=True,
    )
    taken = await uow.session.scalar(
        select(users.c.id).where(func.lower(users.c.email) == user.email).limit(1)
    )
    if taken is not None:
        raise Conflict(f"an account with the e-mail {user.email} already exists")
    try:
        async with uow.session.begin_nested():
            await uow.session.execute(
                users.insert().values(
                    **user.model_dump(), password_hash=await passwords.hash(body.password)
                )
            )
    except IntegrityError as exc:
        raise Conflict(f"an account with the e-mail {user.email} already exists") from exc
    await record_change(
        uow,
        principal.actor,
        "user.created",
        "user",
        user.id,
        gym_id=gym_id,
        franchise_id=franchise_id,
        after=user,
    )
    await announce_gyms(uow, await gyms_reached_by(uow, user.role, franchise_id, gym_id))
    return user


async def update_user(
    uow: UnitOfWork,
    principal: Principal,
    user_id: uuid.UUID,
    patch: UserPatch,
    passwords: Passwords,
) -> User:
    """Name, password and activation only: a role or a tenant is never changed by a PATCH."""
    before = await get_user(uow, principal, user_id)
    if user_id != principal.user_id and principal.role == "gym_manager":
        raise NotFound(f"no user {user_id}")
    if (
        user_id != principal.user_id
        and before.role == "franchise_owner"
        and (not principal.is_super_admin)
    ):
        raise Forbidden("only a super admin changes another franchise owner's account")
    if patch.active is False and user_id == principal.user_id:
        raise AppError("you cannot deactivate your own account", code="invalid_change")
    changes = patch.model_dump(exclude_unset=True, exclude={"password"})
    if patch.password is not None:
        changes["password_hash"] = await passwords.hash(patch.password)
    if not changes:
        return before
    try:
        async with uow.session.begin_nested():
            await uow.session.execute(
                users.update().where(users.c.id == user_id).values(**changes, updated_at=func.now())
            )
    except IntegrityError as exc:
        # A migrated account whose role and scope disagree (see docs/legacy-migration.md).
        raise Conflict(
            f"user {user_id} has a role and scope that disagree (a legacy account); "
            "a super admin must fix its scope first",
            code="inconsistent_legacy_account",
        ) from exc
    after = before.model_copy(update={k: v for k, v in changes.items() if k != "password_hash"})
    # The audit log records that the password changed, never the password or its hash.
    audited_after = after.model_dump() | ({"password_changed": True} if patch.password else {})
    await record_change(
        uow,
        principal.actor,
        "user.updated",
        "user",
        user_id,
        gym_id=before.gym_id,
        franchise_id=before.franchise_id,
        before=before,
        after=audited_after,
    )
    if changes.keys() & {"active"}:
        await announce_gyms(
            uow, await gyms_reached_by(uow, before.role, before.franchise_id, before.gym_id)
        )
    return after


class UserScope(Strict):
    role: Role
    franchise_id: uuid.UUID | None = None
    gym_id: uuid.UUID | None = None


async def set_user_scope(
    uow: UnitOfWork, principal: Principal, user_id: uuid.UUID, body: UserScope
) -> User:
    """Super admins only: give an account its role and scope (and repair legacy accounts whose
    role and scope disagree). The one way a role or a tenant ever changes."""
    before = await get_user(uow, principal, user_id)
    require_role(principal, "super_admin")
    if user_id == principal.user_id and body.role != "super_admin":
        raise AppError("you cannot demote your own account", code="invalid_change")
    franchise_id, gym_id = await _resolve_scope(
        uow, principal, body.role, body.franchise_id, body.gym_id
    )
    await uow.session.execute(
        users.update()
        .where(users.c.id == user_id)
        .values(role=body.role, franchise_id=franchise_id, gym_id=gym_id, updated_at=func.now())
    )
    after = before.model_copy(
        update={"role": body.role, "franchise_id": franchise_id, "gym_id": gym_id}
    )
    await record_change(
        uow,
        principal.actor,
        "user.scope_changed",
        "user",
        user_id,
        gym_id=gym_id,
        franchise_id=franchise_id,
        before=before,
        after=after,
    )
    # the recipients of the gyms it left and of the gyms it joined
    reached = await gyms_reached_by(uow, before.role, before.franchise_id, before.gym_id)
    reached += await gyms_reached_by(uow, after.role, after.franchise_id, after.gym_id)
    await announce_gyms(uow, reached)
    return after
