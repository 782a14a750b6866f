"""Tenant scope: what a principal may see, as SQL conditions that every query applies.

Resources outside the caller's tenant do not exist for them: they are filtered out of lists,
aggregates and exports, and a direct access answers 404, never 403.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, select, true

from jarvis_common.db import UnitOfWork
from jarvis_common.errors import NotFound
from kiosk_registry.auth import Principal
from kiosk_registry.tables import gyms


def visible_gym_ids(principal: Principal) -> Select[Any]:
    """The ids of every gym the principal may see."""
    statement = select(gyms.c.id)
    if principal.role == "franchise_owner":
        return statement.where(gyms.c.franchise_id == principal.franchise_id)
    if principal.role == "gym_manager":
        return statement.where(gyms.c.id == principal.gym_id)
    return statement


def gym_scope(principal: Principal, gym_id_column: ColumnElement[Any]) -> ColumnElement[bool]:
    """Condition keeping only rows whose gym the principal may see."""
    if principal.is_super_admin:
        return true()
    if principal.role == "gym_manager":
        return gym_id_column == principal.gym_id
    return gym_id_column.in_(visible_gym_ids(principal).scalar_subquery())


async def visible_gym(uow: UnitOfWork, principal: Principal, gym_id: uuid.UUID) -> Any:
    """The gym row, or NotFound if it does not exist or is another tenant's."""
    row = (
        (
            await uow.session.execute(
                select(gyms).where(gyms.c.id == gym_id, gym_scope(principal, gyms.c.id))
            )
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFound(f"no gym {gym_id}")
    return row


def franchise_of_gym(gym: Any) -> uuid.UUID | None:
    return gym["franchise_id"]
