"""`gym.upserted`: what other services need to know about a gym (its name, time zone, language,
franchise) and who receives its reports (its active managers, its franchise's active owners).

Published in the transaction of every change that affects it: a gym created or changed, a
manager or franchise owner created, changed, deactivated or moved. Gyms that existed before this
event did (the legacy migration) are announced once at start-up (`announce_unannounced_gyms`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select

from jarvis_common.db import UnitOfWork
from jarvis_common.events.catalogue import GymUpserted
from jarvis_common.service import ServiceApp
from kiosk_registry.tables import franchises, gyms, users

log = logging.getLogger(__name__)


async def announce_gyms(uow: UnitOfWork, gym_ids: Iterable[uuid.UUID | None]) -> None:
    for gym_id in sorted({g for g in gym_ids if g is not None}):
        gym = (
            (
                await uow.session.execute(
                    select(gyms, franchises.c.name.label("franchise_name"))
                    .outerjoin(franchises, franchises.c.id == gyms.c.franchise_id)
                    .where(gyms.c.id == gym_id)
                )
            )
            .mappings()
            .one_or_none()
        )
        if gym is None:
            continue
        managers = await _emails(uow, role="gym_manager", column=users.c.gym_id, value=gym_id)
        owners = (
            await _emails(
                uow, role="franchise_owner", column=users.c.franchise_id, value=gym["franchise_id"]
            )
            if gym["franchise_id"] is not None
            else ()
        )
        uow.publish(
            GymUpserted(
                gym_id=gym_id,
                franchise_id=gym["franchise_id"],
                franchise_name=gym["franchise_name"],
                name=gym["name"],
                timezone=gym["timezone"],
                language=gym["language"],
                manager_emails=managers,
                franchise_owner_emails=owners,
                updated_at=datetime.now(UTC),
            ),
            gym_id=gym_id,
            franchise_id=gym["franchise_id"],
        )
        await uow.session.execute(
            gyms.update().where(gyms.c.id == gym_id).values(announced_at=func.now())
        )


async def _emails(
    uow: UnitOfWork, *, role: str, column: ColumnElement[Any], value: object
) -> tuple[str, ...]:
    rows = await uow.session.scalars(
        select(users.c.email)
        .where(users.c.role == role, column == value, users.c.active.is_(True))
        .order_by(users.c.email)
    )
    return tuple(rows)


async def gyms_of_franchise(uow: UnitOfWork, franchise_id: uuid.UUID | None) -> list[uuid.UUID]:
    if franchise_id is None:
        return []
    return list(
        await uow.session.scalars(select(gyms.c.id).where(gyms.c.franchise_id == franchise_id))
    )


async def gyms_reached_by(
    uow: UnitOfWork, role: str, franchise_id: uuid.UUID | None, gym_id: uuid.UUID | None
) -> list[uuid.UUID]:
    """The gyms whose report recipients include an account of this role and scope."""
    if role == "gym_manager":
        return [gym_id] if gym_id is not None else []
    if role == "franchise_owner":
        return await gyms_of_franchise(uow, franchise_id)
    return []


async def announce_unannounced_gyms(app: ServiceApp) -> None:
    """A start-up task: gyms never announced (they predate gym.upserted) are announced once."""
    while True:
        async with app.db.unit_of_work() as uow:
            batch = list(
                await uow.session.scalars(
                    select(gyms.c.id)
                    .where(gyms.c.announced_at.is_(None))
                    .order_by(gyms.c.id)
                    .limit(200)
                    .with_for_update(skip_locked=True)
                )
            )
            await announce_gyms(uow, batch)
        if not batch:
            return
        log.info("announced %d gyms that predate gym.upserted", len(batch))
