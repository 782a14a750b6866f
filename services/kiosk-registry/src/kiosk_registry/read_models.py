"""Read models for dashboards, projected from other services' events.

- `conversations`: one row per session, from `session.closed` and `summary.created` (either may
  arrive first; each fills in its own columns);
- `usage_daily`: sessions, duration, tokens and cost per gym and day (in the gym's time zone),
  from `session.closed`; the idempotent consumer guarantees each session is counted once;
- `alerts` of kind `churn_risk`, from `churn.alert.raised` / `churn.alert.resolved`;
- `reports`, from `report.generated`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from jarvis_common.db import UnitOfWork
from jarvis_common.events import Envelope
from jarvis_common.events.catalogue import (
    ChurnAlertRaised,
    ChurnAlertResolved,
    ReportGenerated,
    SessionClosed,
    SummaryCreated,
)
from jarvis_common.messaging.handlers import EventHandlers
from kiosk_registry.tables import alerts, conversations, gyms, reports, usage_daily

handlers = EventHandlers()


class Conversation(BaseModel):
    session_id: uuid.UUID
    gym_id: uuid.UUID
    kiosk_id: uuid.UUID
    member_id: uuid.UUID | None
    started_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    summary: str | None
    sentiment: str | None
    topics: list[str] | None
    follow_ups: list[str] | None


class DailyUsage(BaseModel):
    gym_id: uuid.UUID
    day: date
    sessions: int
    duration_s: Decimal
    cost_usd: Decimal
    tokens: dict[str, int]


class Report(BaseModel):
    id: uuid.UUID
    scope: str
    gym_id: uuid.UUID | None
    franchise_id: uuid.UUID | None
    iso_week: str
    week_start: date
    language: str
    generated_at: datetime
    headline: dict[str, float]


async def _upsert_conversation(uow: UnitOfWork, session_id: uuid.UUID, **values: Any) -> None:
    stmt = insert(conversations).values(session_id=session_id, **values)
    await uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[conversations.c.session_id],
            set_={**{k: stmt.excluded[k] for k in values}, "updated_at": func.now()},
        )
    )


@handlers.on(SessionClosed, name="project_session_closed")
async def project_session_closed(event: Envelope[Any], uow: UnitOfWork) -> None:
    closed: SessionClosed = event.data
    await _upsert_conversation(
        uow,
        closed.session_id,
        gym_id=closed.gym_id,
        kiosk_id=closed.kiosk_id,
        member_id=closed.member_id,
        started_at=closed.started_at,
        ended_at=closed.ended_at,
        end_reason=closed.end_reason,
    )
    await _count_usage(uow, closed)


async def _count_usage(uow: UnitOfWork, closed: SessionClosed) -> None:
    timezone = await uow.session.scalar(select(gyms.c.timezone).where(gyms.c.id == closed.gym_id))
    day = closed.ended_at.astimezone(ZoneInfo(timezone or "Europe/Paris")).date()
    tokens = closed.usage.model_dump()
    duration = Decimal(str((closed.ended_at - closed.started_at).total_seconds()))
    stmt = insert(usage_daily).values(
        gym_id=closed.gym_id,
        day=day,
        sessions=1,
        duration_s=duration,
        cost_usd=closed.cost_usd,
        tokens=tokens,
    )
    summed_tokens = func.jsonb_build_object(
        *[
            part
            for name in tokens
            for part in (
                name,
                func.coalesce(usage_daily.c.tokens[name].as_integer(), 0) + tokens[name],
            )
        ]
    )
    await uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[usage_daily.c.gym_id, usage_daily.c.day],
            set_={
                "sessions": usage_daily.c.sessions + 1,
                "duration_s": usage_daily.c.duration_s + duration,
                "cost_usd": usage_daily.c.cost_usd + closed.cost_usd,
                "tokens": summed_tokens,
            },
        )
    )


@handlers.on(SummaryCreated, name="project_summary_created")
async def project_summary_created(event: Envelope[Any], uow: UnitOfWork) -> None:
    created: SummaryCreated = event.data
    await _upsert_conversation(
        uow,
        created.session_id,
        gym_id=created.gym_id,
        kiosk_id=created.kiosk_id,
        member_id=created.member_id,
        summary=created.summary,
        sentiment=created.sentiment_label,
        topics=list(created.topics),
        follow_ups=list(created.follow_ups),
    )


@handlers.on(ChurnAlertRaised, name="project_churn_alert_raised")
async def project_churn_alert_raised(event: Envelope[Any], uow: UnitOfWork) -> None:
    raised: ChurnAlertRaised = event.data
    await uow.session.execute(
        insert(alerts)
        .values(
            id=raised.alert_id,
            gym_id=raised.gym_id,
            kind="churn_risk",
            member_id=raised.member_id,
            status="open",
            title=f"Member at {raised.band} churn risk ({raised.risk:.0%})",
            details=raised.model_dump(mode="json"),
            opened_at=raised.raised_at,
        )
        .on_conflict_do_nothing(index_elements=[alerts.c.id])
    )


@handlers.on(ChurnAlertResolved, name="project_churn_alert_resolved")
async def project_churn_alert_resolved(event: Envelope[Any], uow: UnitOfWork) -> None:
    resolved: ChurnAlertResolved = event.data
    updated = await uow.session.execute(
        alerts.update()
        .where(alerts.c.id == resolved.alert_id)
        .values(
            status="resolved",
            resolved_at=resolved.resolved_at,
            details=alerts.c.details.op("||")(
                func.jsonb_build_object("resolution", resolved.resolution)
            ),
        )
        .returning(alerts.c.id)
    )
    if updated.scalar_one_or_none() is None:
        # Resolved before we saw it raised (a retried event): record it resolved, so the late
        # `raised` does not reopen it.
        await uow.session.execute(
            insert(alerts)
            .values(
                id=resolved.alert_id,
                gym_id=resolved.gym_id,
                kind="churn_risk",
                member_id=resolved.member_id,
                status="resolved",
                title="Churn alert",
                details={"resolution": resolved.resolution},
                opened_at=resolved.resolved_at,
                resolved_at=resolved.resolved_at,
            )
            .on_conflict_do_nothing(index_elements=[alerts.c.id])
        )


@handlers.on(ReportGenerated, name="project_report_generated")
async def project_report_generated(event: Envelope[Any], uow: UnitOfWork) -> None:
    report: ReportGenerated = event.data
    await uow.session.execute(
        insert(reports)
        .values(
            id=report.report_id,
            scope=report.scope,
            gym_id=report.gym_id,
            franchise_id=report.franchise_id,
            iso_week=report.iso_week,
            week_start=report.week_start,
            language=report.language,
            generated_at=report.generated_at,
            headline=report.headline,
        )
        .on_conflict_do_nothing(index_elements=[reports.c.id])
    )
