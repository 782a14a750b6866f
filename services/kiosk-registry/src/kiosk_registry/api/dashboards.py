"""What dashboards read: conversations, usage and cost, alerts, reports, the audit log."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import or_, select

from jarvis_common.errors import AppError, NotFound
from jarvis_common.http import COMMON_ERRORS, UoW, error_responses
from kiosk_registry.auth import CurrentUser
from kiosk_registry.pagination import Page, Paging, paginate
from kiosk_registry.read_models import Conversation, DailyUsage, Report
from kiosk_registry.tables import alerts, audit_log, conversations, gyms, reports, usage_daily
from kiosk_registry.tenancy import gym_scope, visible_gym

router = APIRouter(prefix="/api/v1", tags=["dashboards"], responses=error_responses(*COMMON_ERRORS))


class Alert(BaseModel):
    id: uuid.UUID
    gym_id: uuid.UUID
    kind: str
    kiosk_id: uuid.UUID | None
    member_id: uuid.UUID | None
    status: str
    title: str
    details: dict[str, Any]
    opened_at: datetime
    resolved_at: datetime | None


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor_type: str
    actor_id: str | None
    franchise_id: uuid.UUID | None
    gym_id: uuid.UUID | None
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@router.get("/gyms/{gym_id}/conversations")
async def gym_conversations(
    gym_id: uuid.UUID, principal: CurrentUser, uow: UoW, paging: Paging
) -> Page[Conversation]:
    await visible_gym(uow, principal, gym_id)
    statement = (
        select(*[conversations.c[f] for f in Conversation.model_fields])
        .where(conversations.c.gym_id == gym_id)
        .order_by(conversations.c.ended_at.desc().nulls_last(), conversations.c.session_id)
    )
    return await paginate(uow.session, statement, paging, Conversation)


@router.get("/gyms/{gym_id}/conversations/{session_id}")
async def gym_conversation(
    gym_id: uuid.UUID, session_id: uuid.UUID, principal: CurrentUser, uow: UoW
) -> Conversation:
    await visible_gym(uow, principal, gym_id)
    row = (
        (
            await uow.session.execute(
                select(*[conversations.c[f] for f in Conversation.model_fields]).where(
                    conversations.c.gym_id == gym_id, conversations.c.session_id == session_id
                )
            )
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFound(f"no conversation {session_id} in gym {gym_id}")
    return Conversation.model_validate(dict(row))


@router.get("/gyms/{gym_id}/usage")
async def gym_usage(
    gym_id: uuid.UUID,
    principal: CurrentUser,
    uow: UoW,
    from_: Annotated[date, Query(alias="from")],
    to: Annotated[date, Query()],
) -> list[DailyUsage]:
    """Sessions, duration, tokens and cost per day (gym time zone), both ends included."""
    if to < from_ or (to - from_).days > 366:
        raise AppError(
            "`from` must not be after `to`, and the range is at most a year",
            code="invalid_range",
            status_code=422,
        )
    await visible_gym(uow, principal, gym_id)
    rows = (
        await uow.session.execute(
            select(usage_daily)
            .where(usage_daily.c.gym_id == gym_id, usage_daily.c.day.between(from_, to))
            .order_by(usage_daily.c.day)
        )
    ).mappings()
    return [DailyUsage.model_validate(dict(row)) for row in rows]


@router.get("/alerts")
async def list_alerts(
    principal: CurrentUser,
    uow: UoW,
    paging: Paging,
    status: Annotated[Literal["open", "resolved"] | None, Query()] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    gym_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[Alert]:
    statement = select(*[alerts.c[f] for f in Alert.model_fields]).where(
        gym_scope(principal, alerts.c.gym_id)
    )
    if status is not None:
        statement = statement.where(alerts.c.status == status)
    if kind is not None:
        statement = statement.where(alerts.c.kind == kind)
    if gym_id is not None:
        statement = statement.where(alerts.c.gym_id == gym_id)
    return await paginate(
        uow.session, statement.order_by(alerts.c.opened_at.desc(), alerts.c.id), paging, Alert
    )


@router.get("/reports")
async def list_reports(principal: CurrentUser, uow: UoW, paging: Paging) -> Page[Report]:
    scope = gym_scope(principal, reports.c.gym_id)
    if principal.role == "franchise_owner":
        scope = or_(scope, reports.c.franchise_id == principal.franchise_id)
    statement = select(reports).where(scope).order_by(reports.c.week_start.desc(), reports.c.id)
    return await paginate(uow.session, statement, paging, Report)


@router.get("/audit-log")
async def list_audit_log(principal: CurrentUser, uow: UoW, paging: Paging) -> Page[AuditEntry]:
    statement = select(audit_log)
    if principal.role == "franchise_owner":
        statement = statement.where(
            or_(
                audit_log.c.franchise_id == principal.franchise_id,
                audit_log.c.gym_id.in_(
                    select(gyms.c.id).where(gyms.c.franchise_id == principal.franchise_id)
                ),
            )
        )
    elif principal.role == "gym_manager":
        statement = statement.where(audit_log.c.gym_id == principal.gym_id)
    return await paginate(
        uow.session, statement.order_by(audit_log.c.id.desc()), paging, AuditEntry
    )
