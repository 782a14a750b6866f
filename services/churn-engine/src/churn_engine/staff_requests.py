"""What gym staff ask for through the registry (the churn engine knows no user accounts):
`member.churn_snoozed` snoozes a member, as the operator route does."""

from __future__ import annotations

from typing import Any

from churn_engine.staff import apply_snooze
from jarvis_common.db import UnitOfWork
from jarvis_common.events import Envelope
from jarvis_common.events.catalogue import MemberChurnSnoozed
from jarvis_common.messaging.handlers import EventHandlers

handlers = EventHandlers()


@handlers.on(MemberChurnSnoozed, name="apply_staff_snooze")
async def apply_staff_snooze(event: Envelope[Any], uow: UnitOfWork) -> None:
    snoozed: MemberChurnSnoozed = event.data
    # The registry checked the member, the gym and the dates; a member this engine has not
    # heard of yet is snoozed all the same, so the snooze holds when its events arrive.
    await apply_snooze(uow, snoozed.gym_id, snoozed.member_id, snoozed.until, snoozed.snoozed_at)
