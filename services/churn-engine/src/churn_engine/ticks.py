"""The scheduler's ticks: scoring at `churn_risk` (02:00), alerts at `churn_alerts` (03:00).

A tick is acted on once: its id goes into `tick_runs` in the same transaction as its effect, so
the same tick delivered twice or replayed (even under a new event id) changes nothing. The
moment a tick stands for is its `slot`, not the time it arrives: a late tick scores as of the
slot, and the scores' day is the slot's date in the tick's time zone.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
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
from jarvis_common.local_time import to_instant
from jarvis_common.messaging.handlers import EventHandlers

log = logging.getLogger(__name__)

# pg_advisory_xact_lock's first key: the churn engine's per-day tick lock ("churn" in ASCII).
_DAY_LOCK = 0x6368_7572


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


async def _lock_day(uow: UnitOfWork, day: date) -> None:
    """Serialise the day's scoring and alert ticks (delivered together on the spring-forward day,
    on a scheduler catch-up, on different partitions or replicas): held to the transaction's end,
    so the second sees what the first stored and does not score the day again under it."""
    await uow.session.execute(
        text("SELECT pg_advisory_xact_lock(:scope, :day)"),
        {"scope": _DAY_LOCK, "day": day.toordinal()},
    )


async def run_scoring(
    uow: UnitOfWork, tick: ScheduleTicked, settings: Settings
) -> dict[str, Any] | None:
    """Score as of the tick's slot; None if this tick was already acted on."""
    await _lock_day(uow, _day_of(tick))
    if not await _claim(uow, tick):
        return None
    fallback = await uow.session.scalar(
        text(
            "SELECT tick_id FROM tick_runs "
            "WHERE job = :alerts AND outcome->>'scored_as_of' = :slot "
            "AND NOT EXISTS (SELECT 1 FROM tick_runs WHERE job = :job AND slot = :at "
            "                AND tick_id <> :tick_id) LIMIT 1"
        ),
        {
            "alerts": settings.alerts_job,
            "slot": tick.slot.astimezone(UTC).isoformat(),
            "job": tick.job,
            "at": tick.slot,
            "tick_id": tick.tick_id,
        },
    )
    if fallback is not None:
        # The alert tick found no scores and scored this very slot already: the same inputs,
        # the same scores. (A rerun of this slot is a second risk tick, and scores again.)
        outcome: dict[str, Any] = {"scored_by": fallback}
        await _record(uow, tick, outcome)
        log.info("scores as of %s were made by %s", tick.slot.isoformat(), fallback)
        return outcome
    outcome = (await score_as_of(uow, tick.slot, tick.timezone, settings)).as_json()
    await _record(uow, tick, outcome)
    log.info("scored %d members as of %s", outcome["members"], tick.slot.isoformat())
    return outcome


def _day_of(tick: ScheduleTicked) -> date:
    return tick.slot.astimezone(ZoneInfo(tick.timezone)).date()


async def score_as_of(
    uow: UnitOfWork, as_of: datetime, timezone: str, settings: Settings
) -> ScoringOutcome:
    day = as_of.astimezone(ZoneInfo(timezone)).date()
    conn = await uow.driver_connection()
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
    day = _day_of(tick)
    await _lock_day(uow, day)
    if not await _claim(uow, tick):
        return None
    scored = await uow.session.scalar(
        text("SELECT EXISTS (SELECT 1 FROM risk_scores WHERE day = :day)"), {"day": day}
    )
    outcome: dict[str, Any] = {}
    if not scored:
        # The day's scoring tick was lost or is late: score now rather than alert on nothing, as
        # of the day's scoring slot (not this tick's; the scheduler's own mapping, so a
        # daylight-saving gap gives the same instant), so the late scoring tick, if it comes,
        # finds the scores it would have made.
        as_of = to_instant(datetime.combine(day, settings.risk_time), ZoneInfo(tick.timezone))
        outcome["scored"] = (await score_as_of(uow, as_of, tick.timezone, settings)).as_json()
        outcome["scored_as_of"] = as_of.isoformat()
    rules = settings.alert_rules()
    outcome["expired"] = await expire_alerts(uow, as_of=tick.slot, rules=rules)
    outcome["raised"] = await raise_alerts(
        uow, tick_id=tick.tick_id, as_of=tick.slot, day=day, timezone=tick.timezone, rules=rules
    )
    await _record(uow, tick, outcome)
    log.info("alerts for %s: %s", day, outcome)
    return outcome
