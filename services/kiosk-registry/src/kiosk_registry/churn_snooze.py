"""Gym staff snooze a member's churn alerts: no alert for that member until a date.

Alerts belong to the churn engine, which knows no user accounts; the registry checks who may ask
(the member's gym's staff, its franchise's owners, super admins), records it in the audit log and
publishes `member.churn_snoozed`, which the churn engine applies (the open alert resolves as
snoozed). The answer is 202: accepted, applied within a second or so.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, ConfigDict

from jarvis_common.db import UnitOfWork
from jarvis_common.errors import AppError
from jarvis_common.events.catalogue import MemberChurnSnoozed
from kiosk_registry.audit import record_change
from kiosk_registry.auth import Principal
from kiosk_registry.members import get_member
from kiosk_registry.tenancy import visible_gym

MAX_SNOOZE_DAYS = 365


class SnoozeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    until: date


class SnoozeAccepted(BaseModel):
    member_id: uuid.UUID
    gym_id: uuid.UUID
    until: date


async def snooze_member(
    uow: UnitOfWork, principal: Principal, gym_id: uuid.UUID, member_id: uuid.UUID, body: SnoozeIn
) -> SnoozeAccepted:
    member = await get_member(uow, principal, gym_id, member_id)  # 404 outside the caller's scope
    now = datetime.now(UTC)
    if body.until < now.date():
        raise AppError("until must be today or later", code="invalid_until", status_code=422)
    if body.until > now.date() + timedelta(days=MAX_SNOOZE_DAYS):
        raise AppError(
            f"a snooze lasts at most {MAX_SNOOZE_DAYS} days", code="invalid_until", status_code=422
        )
    event = MemberChurnSnoozed(
        member_id=member.id,
        gym_id=gym_id,
        until=body.until,
        snoozed_by=principal.user_id,
        snoozed_at=now,
    )
    await record_change(
        uow,
        principal.actor,
        "member.churn_snoozed",
        "member",
        member.id,
        gym_id=gym_id,
        after={"until": body.until.isoformat()},
    )
    gym = await visible_gym(uow, principal, gym_id)
    uow.publish(event, gym_id=gym_id, franchise_id=gym["franchise_id"])
    return SnoozeAccepted(member_id=member.id, gym_id=gym_id, until=body.until)
