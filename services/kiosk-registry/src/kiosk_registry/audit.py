"""The audit log: who changed what, in which tenant, from what to what, when.

Written in the same transaction as the change, so the log never claims a change that was rolled
back, nor misses one that was committed.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from jarvis_common.db import UnitOfWork
from kiosk_registry.auth import Actor
from kiosk_registry.tables import audit_log

# Never copied into the log, whatever the entity.
SECRET_FIELDS = frozenset({"password", "password_hash", "secret_hash", "provisioning_code_hash"})


def _clean(state: Any) -> Any:
    if state is None:
        return None
    if isinstance(state, BaseModel):
        state = state.model_dump()
    data = to_jsonable_python(dict(state))
    return {k: v for k, v in data.items() if k not in SECRET_FIELDS}


async def record_change(
    uow: UnitOfWork,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID | str,
    *,
    gym_id: uuid.UUID | None = None,
    franchise_id: uuid.UUID | None = None,
    before: Any = None,
    after: Any = None,
) -> None:
    await uow.session.execute(
        audit_log.insert().values(
            actor_type=actor.kind,
            actor_id=actor.id,
            franchise_id=franchise_id,
            gym_id=gym_id,
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id),
            before=_clean(before),
            after=_clean(after),
        )
    )
