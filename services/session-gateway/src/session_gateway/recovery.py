"""Sessions left open by a gateway process that died are closed, not forgotten.

A live session runs in one process. Each process holds a lease (gateway.instances.seen_at,
renewed every `instance_heartbeat_s`); every process, on the same beat, closes the open sessions
whose owner's lease is older than `instance_lease_s`, with reason `gateway_lost` and the
transcript and usage of their last checkpoint. It also closes its own open rows that no live
session holds any more (an end that could not be written because the database was away). The
open -> closed transition keeps `session.closed` to exactly one, whoever gets there first.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, not_, or_, select, true
from sqlalchemy.dialects.postgresql import insert

from jarvis_common.db import UnitOfWork
from jarvis_common.events.catalogue import SessionClosed, TokenUsage, TranscriptItem
from jarvis_common.service import ServiceApp
from session_gateway.session_manager import manager_of
from session_gateway.sessions import close_session
from session_gateway.tables import instances, sessions

log = logging.getLogger(__name__)
# an own open row younger than this may still be starting: not an orphan yet
OWN_ORPHAN_AGE = timedelta(minutes=1)


async def renew_lease(uow: UnitOfWork, instance_id: uuid.UUID, started_at: datetime) -> None:
    stmt = insert(instances).values(
        instance_id=instance_id, started_at=started_at, seen_at=datetime.now(UTC)
    )
    await uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[instances.c.instance_id], set_={"seen_at": stmt.excluded.seen_at}
        )
    )


async def close_orphans(
    uow: UnitOfWork,
    instance_id: uuid.UUID,
    live: Collection[uuid.UUID],
    lease_s: float,
) -> list[uuid.UUID]:
    """Close the open sessions nobody runs any more; the ids closed."""
    now = datetime.now(UTC)
    alive = select(instances.c.instance_id).where(
        instances.c.seen_at > now - timedelta(seconds=lease_s)
    )
    lost_owner = or_(sessions.c.owner.is_(None), sessions.c.owner.not_in(alive))
    own_orphan = and_(
        sessions.c.owner == instance_id,
        sessions.c.started_at < now - OWN_ORPHAN_AGE,
        not_(sessions.c.id.in_(list(live))) if live else true(),
    )
    rows = (
        (
            await uow.session.execute(
                select(sessions)
                .where(sessions.c.state == "open", or_(lost_owner, own_orphan))
                .with_for_update(skip_locked=True)
                .limit(500)
            )
        )
        .mappings()
        .all()
    )
    closed = []
    for row in rows:
        event = SessionClosed(
            session_id=row["id"],
            kiosk_id=row["kiosk_id"],
            gym_id=row["gym_id"],
            franchise_id=row["franchise_id"],
            member_id=row["member_id"],
            started_at=row["started_at"],
            # the last moment the session is known to have been running
            ended_at=row["checkpointed_at"] or row["started_at"],
            end_reason="gateway_lost",
            transcript=tuple(TranscriptItem.model_validate(t) for t in row["transcript"]),
            usage=TokenUsage.model_validate(row["usage"]),
            cost_usd=Decimal(row["cost_usd"]),
            price_table_version=row["price_table_version"],
        )
        if await close_session(uow, event):
            closed.append(row["id"])
    return closed


async def keep_lease_and_close_orphans(app: ServiceApp) -> None:
    """A background task of the service."""
    manager = manager_of(app)
    settings = manager.settings
    started_at = datetime.now(UTC)
    while True:
        try:
            async with app.db.unit_of_work() as uow:
                await renew_lease(uow, manager.instance_id, started_at)
            async with app.db.unit_of_work() as uow:
                closed = await close_orphans(
                    uow, manager.instance_id, set(manager.live), settings.instance_lease_s
                )
            if closed:
                log.warning("closed %d sessions left open by a lost gateway", len(closed))
        except Exception:  # the database may be away: try again on the next beat
            log.warning("could not renew the lease or close orphaned sessions", exc_info=True)
        await asyncio.sleep(settings.instance_heartbeat_s)
