"""The kiosk fleet: creating kiosks, reading them, and changing their configuration.

A kiosk's configuration (voice, model, location, persona, limits) carries a version. A change
must name the version it was based on; a stale one is refused with 409, so two dashboards
cannot silently overwrite each other. Each change is published as `kiosk.config_changed` with
everything the gateway needs to run the kiosk's conversations, gym information included.
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError

from jarvis_common.db import UnitOfWork
from jarvis_common.errors import Conflict, NotFound
from jarvis_common.events.catalogue import KioskConfig, KioskConfigChanged
from kiosk_registry.audit import record_change
from kiosk_registry.auth import Actor, Principal, require_role
from kiosk_registry.tables import gyms, kiosks
from kiosk_registry.tenancy import gym_scope, visible_gym

VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse")
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


class KioskLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idle_timeout_s: int = Field(default=60, ge=10, le=3600)
    max_duration_s: int = Field(default=900, ge=60, le=4 * 3600)
    max_concurrent_sessions: int = Field(default=2, ge=1, le=50)
    session_budget_usd: Decimal = Field(default=Decimal("1.00"), gt=0, le=100)


class KioskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    slug: str | None = Field(default=None, max_length=64)
    location_in_gym: str | None = Field(default=None, max_length=200)

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        if value is not None and not SLUG.match(value):
            raise ValueError("a slug is lowercase letters, digits and dashes")
        return value


class KioskConfigPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config_version: int = Field(ge=1, description="The version this change is based on.")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    voice_model: Literal[VOICES] | None = None  # type: ignore[valid-type]
    openai_model: str | None = Field(default=None, min_length=1, max_length=100)
    location_in_gym: str | None = Field(default=None, max_length=200)
    persona: str | None = Field(default=None, max_length=4000)
    limits: KioskLimits | None = None


class Kiosk(BaseModel):
    id: uuid.UUID
    gym_id: uuid.UUID
    slug: str
    name: str
    status: str
    last_heartbeat: datetime | None
    device_id: str | None
    hardware_info: dict[str, Any]
    last_error: str | None
    voice_model: str
    openai_model: str
    location_in_gym: str | None
    persona: str | None
    limits: dict[str, Any]
    config_version: int
    provisioned_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


KIOSK_COLUMNS = [kiosks.c[name] for name in Kiosk.model_fields]


def kiosks_visible(principal: Principal) -> Select[Any]:
    return select(*KIOSK_COLUMNS).where(gym_scope(principal, kiosks.c.gym_id))


async def get_kiosk(uow: UnitOfWork, principal: Principal, kiosk_id: uuid.UUID) -> Kiosk:
    row = (
        (await uow.session.execute(kiosks_visible(principal).where(kiosks.c.id == kiosk_id)))
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFound(f"no kiosk {kiosk_id}")
    return Kiosk.model_validate(dict(row))


async def create_kiosk(
    uow: UnitOfWork, principal: Principal, gym_id: uuid.UUID, body: KioskIn
) -> Kiosk:
    gym = await visible_gym(uow, principal, gym_id)
    kiosk_id = uuid.uuid4()
    slug = body.slug or f"{_slugify(gym['name'])}-{secrets.token_hex(3)}"
    try:
        async with uow.session.begin_nested():
            await uow.session.execute(
                kiosks.insert().values(
                    id=kiosk_id,
                    gym_id=gym_id,
                    slug=slug,
                    name=body.name,
                    location_in_gym=body.location_in_gym,
                    status="provisioning",
                    limits=KioskLimits().model_dump(mode="json"),
                )
            )
    except IntegrityError as exc:
        raise Conflict(f"the slug {slug!r} is taken") from exc
    kiosk = await get_kiosk(uow, principal, kiosk_id)
    await record_change(
        uow,
        principal.actor,
        "kiosk.created",
        "kiosk",
        kiosk_id,
        gym_id=gym_id,
        franchise_id=gym["franchise_id"],
        after=kiosk,
    )
    return kiosk


async def update_config(
    uow: UnitOfWork, principal: Principal, kiosk_id: uuid.UUID, patch: KioskConfigPatch
) -> Kiosk:
    require_role(principal, "super_admin", "franchise_owner", "gym_manager")
    before = await get_kiosk(uow, principal, kiosk_id)
    changes = patch.model_dump(exclude_unset=True, exclude={"config_version"})
    if "limits" in changes:
        changes["limits"] = patch.limits.model_dump(mode="json")  # type: ignore[union-attr]
    # Compare-and-set on the version: of two concurrent changes based on one version, one wins.
    updated = await uow.session.execute(
        kiosks.update()
        .where(kiosks.c.id == kiosk_id, kiosks.c.config_version == patch.config_version)
        .values(**changes, config_version=kiosks.c.config_version + 1, updated_at=func.now())
        .returning(kiosks.c.id)
    )
    if updated.scalar_one_or_none() is None:
        raise Conflict(
            f"kiosk {kiosk_id} is at configuration version {before.config_version}, "
            f"not {patch.config_version}: reload it and apply your change again",
            code="stale_config_version",
        )
    after = await get_kiosk(uow, principal, kiosk_id)
    gym = await visible_gym(uow, principal, after.gym_id)
    await publish_config(uow, after, gym)
    await record_change(
        uow,
        principal.actor,
        "kiosk.config_changed",
        "kiosk",
        kiosk_id,
        gym_id=after.gym_id,
        franchise_id=gym["franchise_id"],
        before=before,
        after=after,
    )
    return after


def effective_config(kiosk: Kiosk, gym: Any) -> KioskConfig:
    limits = KioskLimits.model_validate(kiosk.limits or {})
    return KioskConfig(
        voice_model=kiosk.voice_model,
        openai_model=kiosk.openai_model,
        location_in_gym=kiosk.location_in_gym,
        persona=kiosk.persona,
        language=gym["language"],
        gym_name=gym["name"],
        gym_info=gym["info"] or {},
        **limits.model_dump(),
    )


async def publish_config(uow: UnitOfWork, kiosk: Kiosk, gym: Any) -> None:
    uow.publish(
        KioskConfigChanged(
            kiosk_id=kiosk.id,
            gym_id=kiosk.gym_id,
            config_version=kiosk.config_version,
            config=effective_config(kiosk, gym),
        ),
        gym_id=kiosk.gym_id,
        franchise_id=gym["franchise_id"],
    )


async def republish_gym_kiosks(uow: UnitOfWork, actor: Actor, gym_id: uuid.UUID) -> int:
    """The gym's information is part of every kiosk's configuration: announce the new one."""
    gym = (await uow.session.execute(select(gyms).where(gyms.c.id == gym_id))).mappings().one()
    # Lock in id order, the order the heartbeat path locks kiosks in, so the two never deadlock.
    await uow.session.execute(
        select(kiosks.c.id)
        .where(kiosks.c.gym_id == gym_id, kiosks.c.revoked_at.is_(None))
        .order_by(kiosks.c.id)
        .with_for_update()
    )
    rows = (
        (
            await uow.session.execute(
                kiosks.update()
                .where(kiosks.c.gym_id == gym_id, kiosks.c.revoked_at.is_(None))
                .values(config_version=kiosks.c.config_version + 1, updated_at=func.now())
                .returning(*KIOSK_COLUMNS)
            )
        )
        .mappings()
        .all()
    )
    for row in rows:
        await publish_config(uow, Kiosk.model_validate(dict(row)), gym)
    return len(rows)


def _slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return (slug or "kiosk")[:48]
