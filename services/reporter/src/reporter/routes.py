"""The operator API (`Authorization: Bearer <JARVIS_ADMIN_TOKEN>`): read a stored report and
its deliveries, and regenerate a gym's week (which never sends anything again). Dashboards list
reports through the registry, which learns of them from `report.generated`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from sqlalchemy import text

from jarvis_common.auth import AdminOnly
from jarvis_common.errors import AppError
from jarvis_common.http import UoW, error_responses
from reporter.reports import generate_gym_report, load_gym, report_id, stored_report
from reporter.settings import Settings
from reporter.weeks import Week

router = APIRouter(
    prefix="/api/v1",
    tags=["reports"],
    dependencies=[AdminOnly],
    responses=error_responses(401, 404),
)

IsoWeek = Annotated[str, Path(pattern=r"^\d{4}-W\d{2}$", examples=["2026-W47"])]


def _week(iso_week: str, timezone: str) -> Week:
    try:
        return Week.of(iso_week, timezone)
    except ValueError as exc:
        raise AppError(f"{iso_week} is not an ISO week", status_code=400) from exc


@router.get("/reports/{rid}")
async def get_report(rid: uuid.UUID, uow: UoW) -> dict[str, Any]:
    report = await stored_report(uow, rid)
    deliveries = await uow.session.execute(
        text(
            "SELECT recipient, status, attempts, sent_at, last_error FROM deliveries "
            "WHERE report_id = :id ORDER BY recipient"
        ),
        {"id": rid},
    )
    return {**report, "deliveries": [dict(d) for d in deliveries.mappings()]}


@router.get("/gyms/{gym_id}/reports/{iso_week}")
async def get_gym_report(gym_id: uuid.UUID, iso_week: IsoWeek, uow: UoW) -> dict[str, Any]:
    week = _week(iso_week, "UTC")
    return await get_report(report_id("gym", gym_id, week.start), uow)


@router.post("/gyms/{gym_id}/reports/{iso_week}/regenerate")
async def regenerate_gym_report(
    gym_id: uuid.UUID, iso_week: IsoWeek, uow: UoW, request: Request
) -> dict[str, Any]:
    settings: Settings = request.app.state.reporter_settings
    gym = await load_gym(uow, gym_id)
    week = _week(iso_week, gym["timezone"])
    generated = await generate_gym_report(uow, gym_id, week.start, settings, gym=gym)
    return {
        "report_id": str(generated.report_id),
        "revision": generated.revision,
        "changed": generated.changed,
    }
