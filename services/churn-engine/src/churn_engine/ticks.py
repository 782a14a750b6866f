"""The scheduler's ticks: scoring at `churn_risk` (02:00), alerts at `churn_alerts` (03:00).

A tick is acted on once: its id goes into `tick_runs` in the same transaction as its effect, so
the same tick delivered twice or replayed (even under a new event id) changes nothing. The
moment a tick stands for is its `slot`, not the time it arrives: a late tick scores as of the
slot, and the scores' day is the slot's date in the tick's time zone.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from churn_engine.alerts import expire_alerts, raise_alerts
from churn_engine.models_store import load_choice
from churn_engine.scoring import ScoringOutcome, score_members
from churn_engine.settings import Settings
from jarvis_common.db import UnitOfWork
from jarvis_common.events import Envelope
from jarvis_common.events.catalogue import ScheduleTicked
from jarvis_common.messaging.handlers import EventHandlers

log = logging.getLogger(__name__)


def tick_handlers(settings: Settings) -> EventHandlers:
    handlers = EventHandlers()

    @handlers.on(ScheduleTicked, name="act_on_tick")
    async def act_on_tick(event: Envelope[Any], uow: UnitOfWork) -> None:
        tick: ScheduleTicked = event.data
        if tick.job == settings.risk_job:
            await run_scoring(uow, tick, settings)
        elif tick.job == settings.alerts_job:
            await run_alerts(uow, tick, settings)
        # any other job (weekly_report) belongs to another service

    return handlers


async def _claim(uow: UnitOfWork, tick: ScheduleTicked) -> bool:
    claimed = await uow.session.scalar(
        text(
            "INSERT INTO tick_runs (tick_id, job, slot, outcome) "
            "VALUES (:tick_id, :job, :slot, '{}') ON CONFLICT DO NOTHING RETURNING tick_id"
        ),
        {"tick_id": tick.tick_id, "job": tick.job, "slot": tick.slot},
    )
    if claimed is None:
        log.info("tick %s was already acted on; ignored", tick.tick_id)
    return claimed is not None


async def _record(uow: UnitOfWork, tick: ScheduleTicked, outcome: dict[str, Any]) -> None:
    await uow.session.execute(
        text("UPDATE tick_runs SET outcome = CAST(:outcome AS jsonb) WHERE tick_id = :tick_id"),
        {"tick_id": tick.tick_id, "outcome": json.dumps(outcome)},
    )


async def run_scoring(
    uow: UnitOfWork, tick: ScheduleTicked, settings: Settings
) -> dict[str, Any] | None:
    """Score as of the tick's slot; None if this tick was already acted on."""
    if not await _claim(uow, tick):
        return None
    outcome = (await score_as_of(uow, tick.slot, tick.timezone, settings)).as_json()
    await _record(uow, tick, outcome)
    log.info("scored %d members as of %s", outcome["members"], tick.slot.isoformat())
    return outcome


async def score_as_of(
    uow: UnitOfWork, as_of: datetime, timezone: str, settings: Settings
) -> ScoringOutcome:
    day = as_of.astimezone(ZoneInfo(timezone)).date()
    conn = await raw_connection(uow)
    outcome = await score_members(
        conn,
        as_of=as_of,
        day=day,
        choice=await load_choice(conn),
        default_amber=settings.amber_threshold,
        default_red=settings.red_threshold,
    )
    await conn.execute(
        "DELETE FROM risk_scores WHERE day < $1",
        day - timedelta(days=settings.score_retention_days),
    )
    return outcome


async def run_alerts(
    uow: UnitOfWork, tick: ScheduleTicked, settings: Settings
) -> dict[str, Any] | None:
    """Expire and raise alerts for the tick's day; None if this tick was already acted on."""
    if not await _claim(uow, tick):
        return None
    day = tick.slot.astimezone(ZoneInfo(tick.timezone)).date()
    scored = await uow.session.scalar(
        text("SELECT EXISTS (SELECT 1 FROM risk_scores WHERE day = :day)"), {"day": day}
    )
    outcome: dict[str, Any] = {}
    if not scored:
        # The day's scoring tick was lost or is late: score now rather than alert on nothing.
        outcome["scored"] = (await score_as_of(uow, tick.slot, tick.timezone, settings)).as_json()
    rules = settings.alert_rules()
    outcome["expired"] = await expire_alerts(uow, as_of=tick.slot, rules=rules)
    outcome["raised"] = await raise_alerts(
        uow, tick_id=tick.tick_id, as_of=tick.slot, day=day, rules=rules
    )
    await _record(uow, tick, outcome)
    log.info("alerts for %s: %s", day, outcome)
    return outcome


async def raw_connection(uow: UnitOfWork) -> Any:
    """The transaction's asyncpg connection, for COPY and cursors."""
    # SQLAlchemy opens the database transaction with its first statement; without one, raw
    # statements would run outside it (autocommit) and escape the unit of work.
    await uow.session.execute(text("SELECT 1"))
    connection = await uow.session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection
