"""The members the gateway may be told about, kept from the registry's `member.upserted`, so the
assistant can greet a member by name without calling the registry. A member is only ever used for
a kiosk of the member's own gym."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from jarvis_common.db import UnitOfWork
from jarvis_common.events import Envelope
from jarvis_common.events.catalogue import MemberUpserted
from jarvis_common.messaging.handlers import EventHandlers
from session_gateway.providers import MemberContext
from session_gateway.tables import members

handlers = EventHandlers()


@handlers.on(MemberUpserted, name="learn_member")
async def learn_member(event: Envelope[Any], uow: UnitOfWork) -> None:
    member: MemberUpserted = event.data
    stmt = insert(members).values(
        member_id=member.member_id,
        gym_id=member.gym_id,
        first_name=member.first_name,
        language=member.language,
        status=member.status,
        contract_type=member.contract_type,
        contract_ends_at=member.contract_ends_at,
        updated_at=member.updated_at,
    )
    # a redelivered or late older version never replaces a newer one
    await uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[members.c.member_id],
            set_={
                column: stmt.excluded[column]
                for column in (
                    "gym_id",
                    "first_name",
                    "language",
                    "status",
                    "contract_type",
                    "contract_ends_at",
                    "updated_at",
                )
            },
            where=members.c.updated_at < stmt.excluded.updated_at,
        )
    )


class MemberOfAnotherGym(Exception):
    pass


async def member_context(
    uow: UnitOfWork, member_id: uuid.UUID | None, gym_id: uuid.UUID
) -> MemberContext:
    """What the assistant may know about the member; MemberOfAnotherGym if the id is another
    gym's member. An id the gateway has not heard of yet (an import in flight) is kept, without
    context."""
    if member_id is None:
        return MemberContext()
    row = (
        (await uow.session.execute(select(members).where(members.c.member_id == member_id)))
        .mappings()
        .one_or_none()
    )
    if row is None:
        return MemberContext(member_id=member_id)
    if row["gym_id"] != gym_id:
        raise MemberOfAnotherGym(str(member_id))
    ends = row["contract_ends_at"]
    return MemberContext(
        member_id=member_id,
        first_name=row["first_name"],
        status=row["status"],
        contract_type=row["contract_type"],
        contract_ends_at=ends.isoformat() if ends else None,
    )
