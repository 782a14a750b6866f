"""What staff (through an operator or the registry) do and read: thresholds, snoozes, manual
resolution, scores and alerts of a gym. Every query is scoped by the gym in the path, and a
member or alert of another gym is not found."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from churn_engine.alerts import resolve_open_alert
from churn_engine.reasons import from_row as reasons_from_row
from churn_engine.tables import alerts, gym_thresholds, member_versions, risk_scores, snoozes
from jarvis_common.db import UnitOfWork
from jarvis_common.errors import AppError, NotFound

MAX_SNOOZE_DAYS = 365


class Thresholds(BaseModel):
    amber: float = Field(gt=0, lt=1)
    red: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.amber >= self.red:
            raise ValueError("amber must be below red")
        return self


class GymThresholds(Thresholds):
    gym_id: uuid.UUID
    source: Literal["gym", "default"]


class SnoozeIn(BaseModel):
    until: date


class Snooze(BaseModel):
    member_id: uuid.UUID
    gym_id: uuid.UUID
    until: date
    resolved_alerts: int


class Reason(BaseModel):
    code: str
    value: float | str | None


class Score(BaseModel):
    member_id: uuid.UUID
    day: date
    as_of: datetime
    risk: float | None
    band: str
    reasons: list[Reason]
    model_version: str

    @classmethod
    def from_row(cls, row: Any) -> Score:
        return cls.model_validate({**dict(row), "reasons": reasons_from_row(row)})


class ScorePage(BaseModel):
    day: date | None
    total: int
    items: list[Score]


class Alert(BaseModel):
    alert_id: uuid.UUID
    member_id: uuid.UUID
    risk: float
    band: str
    reasons: list[Reason]
    model_version: str
    raised_at: datetime
    resolution: str | None
    resolved_at: datetime | None


async def get_thresholds(uow: UnitOfWork, gym_id: uuid.UUID, default: Thresholds) -> GymThresholds:
    row = (
        await uow.session.execute(
            select(gym_thresholds.c.amber, gym_thresholds.c.red).where(
                gym_thresholds.c.gym_id == gym_id
            )
        )
    ).first()
    if row is None:
        return GymThresholds(gym_id=gym_id, source="default", **default.model_dump())
    return GymThresholds(gym_id=gym_id, source="gym", amber=row.amber, red=row.red)


async def set_thresholds(uow: UnitOfWork, gym_id: uuid.UUID, wanted: Thresholds) -> GymThresholds:
    """Applies from the next scoring run; past scores keep the bands they were given."""
    stmt = insert(gym_thresholds).values(gym_id=gym_id, **wanted.model_dump())
    await uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[gym_thresholds.c.gym_id],
            set_={"amber": stmt.excluded.amber, "red": stmt.excluded.red, "updated_at": func.now()},
        )
    )
    return GymThresholds(gym_id=gym_id, source="gym", **wanted.model_dump())


async def _require_member(uow: UnitOfWork, gym_id: uuid.UUID, member_id: uuid.UUID) -> None:
    found = await uow.session.scalar(
        select(member_versions.c.member_id)
        .where(member_versions.c.member_id == member_id, member_versions.c.gym_id == gym_id)
        .limit(1)
    )
    if found is None:
        raise NotFound(f"no member {member_id} in gym {gym_id}")


async def apply_snooze(
    uow: UnitOfWork, gym_id: uuid.UUID, member_id: uuid.UUID, until: date, at: datetime
) -> int:
    """Store the snooze and resolve the member's open alert; the alerts resolved."""
    stmt = insert(snoozes).values(member_id=member_id, gym_id=gym_id, until=until, snoozed_at=at)
    await uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[snoozes.c.member_id],
            set_={
                "gym_id": stmt.excluded.gym_id,
                "until": stmt.excluded.until,
                "snoozed_at": stmt.excluded.snoozed_at,
                "created_at": func.now(),
            },
            # the newest request wins, whatever order retries deliver them in
            where=snoozes.c.snoozed_at <= stmt.excluded.snoozed_at,
        )
    )
    return await resolve_open_alert(
        uow, gym_id=gym_id, member_id=member_id, resolution="snoozed", at=at
    )


async def snooze_member(
    uow: UnitOfWork, gym_id: uuid.UUID, member_id: uuid.UUID, until: date
) -> Snooze:
    """Resolve the member's open alert as `snoozed` and raise none until `until` (inclusive)."""
    now = datetime.now(UTC)
    today = now.date()
    if until < today:
        raise AppError("until must be today or later", code="invalid_until", status_code=422)
    if until > today + timedelta(days=MAX_SNOOZE_DAYS):
        raise AppError(
            f"a snooze lasts at most {MAX_SNOOZE_DAYS} days",
            code="invalid_until",
            status_code=422,
        )
    await _require_member(uow, gym_id, member_id)
    resolved = await apply_snooze(uow, gym_id, member_id, until, now)
    return Snooze(member_id=member_id, gym_id=gym_id, until=until, resolved_alerts=resolved)


async def resolve_alert(uow: UnitOfWork, gym_id: uuid.UUID, alert_id: uuid.UUID) -> Alert:
    alert = await _alert(uow, gym_id, alert_id)
    if alert.resolution is not None:
        return alert
    await resolve_open_alert(
        uow,
        gym_id=gym_id,
        member_id=alert.member_id,
        alert_id=alert_id,
        resolution="manual",
        at=datetime.now(UTC),
    )
    return await _alert(uow, gym_id, alert_id)


async def _alert(uow: UnitOfWork, gym_id: uuid.UUID, alert_id: uuid.UUID) -> Alert:
    row = (
        (
            await uow.session.execute(
                select(alerts).where(alerts.c.alert_id == alert_id, alerts.c.gym_id == gym_id)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no alert {alert_id} in gym {gym_id}")
    return Alert.model_validate(dict(row))


async def gym_alerts(
    uow: UnitOfWork, gym_id: uuid.UUID, status: Literal["open", "resolved", "all"], limit: int
) -> list[Alert]:
    query = select(alerts).where(alerts.c.gym_id == gym_id)
    if status == "open":
        query = query.where(alerts.c.resolution.is_(None))
    elif status == "resolved":
        query = query.where(alerts.c.resolution.is_not(None))
    query = query.order_by(alerts.c.raised_at.desc(), alerts.c.risk.desc()).limit(limit)
    rows = (await uow.session.execute(query)).mappings()
    return [Alert.model_validate(dict(r)) for r in rows]


async def gym_scores(
    uow: UnitOfWork,
    gym_id: uuid.UUID,
    *,
    day: date | None,
    band: str | None,
    limit: int,
    offset: int,
) -> ScorePage:
    """A day's scores of a gym (the latest day scored by default), highest risk first."""
    if day is None:
        day = await uow.session.scalar(
            select(func.max(risk_scores.c.day)).where(risk_scores.c.gym_id == gym_id)
        )
        if day is None:
            return ScorePage(day=None, total=0, items=[])
    where = [risk_scores.c.gym_id == gym_id, risk_scores.c.day == day]
    if band is not None:
        where.append(risk_scores.c.band == band)
    total = await uow.session.scalar(select(func.count()).select_from(risk_scores).where(*where))
    rows = (
        await uow.session.execute(
            select(risk_scores)
            .where(*where)
            .order_by(risk_scores.c.risk.desc().nulls_last(), risk_scores.c.member_id)
            .limit(limit)
            .offset(offset)
        )
    ).mappings()
    return ScorePage(day=day, total=total or 0, items=[Score.from_row(r) for r in rows])


async def member_scores(
    uow: UnitOfWork, gym_id: uuid.UUID, member_id: uuid.UUID, first: date, last: date
) -> list[Score]:
    if last < first:
        raise AppError("from must not be after to", code="invalid_range", status_code=422)
    await _require_member(uow, gym_id, member_id)
    rows = (
        await uow.session.execute(
            select(risk_scores)
            .where(
                risk_scores.c.member_id == member_id,
                risk_scores.c.gym_id == gym_id,
                risk_scores.c.day.between(first, last),
            )
            .order_by(risk_scores.c.day)
        )
    ).mappings()
    return [Score.from_row(r) for r in rows]
