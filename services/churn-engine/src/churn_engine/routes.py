"""The operator API (`Authorization: Bearer <JARVIS_ADMIN_TOKEN>`): scores, alerts, thresholds
and snoozes of a gym. The churn engine knows no user accounts; the registry, which does, is
meant to call these on staff's behalf (docs/churn.md §Staff access)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from churn_engine import staff
from churn_engine.settings import Settings
from jarvis_common.auth import AdminOnly
from jarvis_common.errors import AppError
from jarvis_common.http import UoW, error_responses

router = APIRouter(
    prefix="/api/v1/gyms/{gym_id}",
    tags=["churn"],
    dependencies=[AdminOnly],
    responses=error_responses(401, 404),
)


def _settings(request: Request) -> Settings:
    return request.app.state.churn_settings


@router.get("/scores")
async def gym_scores(
    gym_id: uuid.UUID,
    uow: UoW,
    day: date | None = None,
    band: Literal["green", "amber", "red", "insufficient_data"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> staff.ScorePage:
    return await staff.gym_scores(uow, gym_id, day=day, band=band, limit=limit, offset=offset)


@router.get("/members/{member_id}/scores")
async def member_scores(
    gym_id: uuid.UUID,
    member_id: uuid.UUID,
    uow: UoW,
    first: Annotated[date | None, Query(alias="from")] = None,
    last: Annotated[date | None, Query(alias="to")] = None,
) -> list[staff.Score]:
    last = last or date.today() + timedelta(days=1)
    if first is None:
        if last.toordinal() <= 90:
            # the default window would start before year 1, which no date can name
            raise AppError(
                "to is too early for the default 90-day window; give from as well",
                code="invalid_range",
                status_code=422,
            )
        first = last - timedelta(days=90)
    return await staff.member_scores(uow, gym_id, member_id, first, last)


@router.post("/members/{member_id}/snooze")
async def snooze_member(
    gym_id: uuid.UUID, member_id: uuid.UUID, body: staff.SnoozeIn, uow: UoW
) -> staff.Snooze:
    return await staff.snooze_member(uow, gym_id, member_id, body.until)


@router.get("/alerts")
async def gym_alerts(
    gym_id: uuid.UUID,
    uow: UoW,
    status: Literal["open", "resolved", "all"] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[staff.Alert]:
    return await staff.gym_alerts(uow, gym_id, status, limit)


@router.post("/alerts/{alert_id}/resolve")
async def resolve_alert(gym_id: uuid.UUID, alert_id: uuid.UUID, uow: UoW) -> staff.Alert:
    return await staff.resolve_alert(uow, gym_id, alert_id)


@router.get("/thresholds")
async def get_thresholds(gym_id: uuid.UUID, uow: UoW, request: Request) -> staff.GymThresholds:
    return await staff.get_thresholds(uow, gym_id, _defaults(request))


@router.put("/thresholds")
async def set_thresholds(
    gym_id: uuid.UUID, body: staff.Thresholds, uow: UoW
) -> staff.GymThresholds:
    return await staff.set_thresholds(uow, gym_id, body)


def _defaults(request: Request) -> staff.Thresholds:
    settings = _settings(request)
    return staff.Thresholds(amber=settings.amber_threshold, red=settings.red_threshold)
