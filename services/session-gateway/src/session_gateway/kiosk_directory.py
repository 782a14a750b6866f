"""The gateway's own directory of kiosks, kept from the registry's events.

Events for one kiosk may arrive out of order (a retried event is applied after later ones), so
a configuration only replaces the stored one when its version is newer, and a revocation is
never undone.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from jarvis_common.db import Database, UnitOfWork
from jarvis_common.events import Envelope
from jarvis_common.events.catalogue import (
    KioskConfig,
    KioskConfigChanged,
    KioskProvisioned,
    KioskRevoked,
)
from jarvis_common.messaging.handlers import EventHandlers
from session_gateway.tables import kiosks

handlers = EventHandlers()


class KnownKiosk(BaseModel):
    kiosk_id: uuid.UUID
    gym_id: uuid.UUID
    franchise_id: uuid.UUID | None
    config_version: int
    config: KioskConfig
    revoked: bool


async def _keep_newest(
    uow: UnitOfWork, event: Envelope[Any], version: int, config: KioskConfig
) -> None:
    data = event.data
    stmt = insert(kiosks).values(
        kiosk_id=data.kiosk_id,
        gym_id=data.gym_id,
        franchise_id=event.franchise_id,
        config_version=version,
        config=config.model_dump(mode="json"),
    )
    await uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[kiosks.c.kiosk_id],
            set_={
                "config_version": stmt.excluded.config_version,
                "config": stmt.excluded.config,
                "updated_at": func.now(),
            },
            where=kiosks.c.config_version < stmt.excluded.config_version,
        )
    )


@handlers.on(KioskProvisioned, name="learn_provisioned_kiosk")
async def learn_provisioned_kiosk(event: Envelope[Any], uow: UnitOfWork) -> None:
    await _keep_newest(uow, event, event.data.config_version, event.data.config)


@handlers.on(KioskConfigChanged, name="apply_kiosk_config")
async def apply_kiosk_config(event: Envelope[Any], uow: UnitOfWork) -> None:
    await _keep_newest(uow, event, event.data.config_version, event.data.config)


@handlers.on(KioskRevoked, name="forget_revoked_kiosk")
async def forget_revoked_kiosk(event: Envelope[Any], uow: UnitOfWork) -> None:
    revoked: KioskRevoked = event.data
    # Known or not yet known: either way the kiosk must never be served again.
    stmt = insert(kiosks).values(
        kiosk_id=revoked.kiosk_id,
        gym_id=revoked.gym_id,
        franchise_id=event.franchise_id,
        config_version=0,
        config=KioskConfig().model_dump(mode="json"),
        revoked_at=revoked.revoked_at,
    )
    await uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[kiosks.c.kiosk_id],
            set_={"revoked_at": func.coalesce(kiosks.c.revoked_at, stmt.excluded.revoked_at)},
        )
    )


async def find_kiosk(uow: UnitOfWork, kiosk_id: uuid.UUID) -> KnownKiosk | None:
    row = (
        (await uow.session.execute(select(kiosks).where(kiosks.c.kiosk_id == kiosk_id)))
        .mappings()
        .one_or_none()
    )
    if row is None:
        return None
    return KnownKiosk(
        kiosk_id=row["kiosk_id"],
        gym_id=row["gym_id"],
        franchise_id=row["franchise_id"],
        config_version=row["config_version"],
        config=KioskConfig.model_validate(row["config"]),
        revoked=row["revoked_at"] is not None,
    )


class KioskLookup:
    """Kiosks as the connect path sees them, cached for `ttl_s`.

    Thousands of kiosks reconnect at once after a deploy; one query each would take the pool.
    A revocation reaches new connections within `ttl_s`; starting a session always reads the
    directory afresh, so a revoked kiosk never starts one.
    """

    def __init__(self, db: Database, ttl_s: float = 10.0) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self._cache: dict[uuid.UUID, tuple[float, KnownKiosk | None]] = {}

    async def find(self, kiosk_id: uuid.UUID) -> KnownKiosk | None:
        now = time.monotonic()
        cached = self._cache.get(kiosk_id)
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        async with self.db.unit_of_work() as uow:
            kiosk = await find_kiosk(uow, kiosk_id)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[kiosk_id] = (now, kiosk)
        return kiosk
