"""Churn alerts: raised on the 03:00 tick from that day's scores, resolved by the member's next
check-in, a snooze, expiry or an operator; each change published as `churn.alert.*`.

Rules (docs/churn.md): only members active and scored in a band that alerts; at most one alert
per member per `alert_cooldown_days`; none while snoozed; none if the member has checked in since
the score's moment; at most max(`min_alerts_per_gym`, `alert_share` x active members) new alerts
per gym and day, highest risk first.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from churn_engine.reasons import from_row
from jarvis_common.db import UnitOfWork
from jarvis_common.events.catalogue import ChurnAlertRaised, ChurnAlertResolved, RiskReason


@dataclass(frozen=True)
class AlertRules:
    bands: tuple[str, ...] = ("red",)
    cooldown_days: int = 30
    min_per_gym: int = 5
    share_per_gym: float = 0.05
    expiry_days: int = 30


def new_alert_id(tick_id: str, member_id: uuid.UUID) -> uuid.UUID:
    # Deterministic, so a replayed tick would name the same alerts.
    return uuid.uuid5(uuid.NAMESPACE_URL, f"jarvis:churn-alert:{tick_id}:{member_id}")


_CANDIDATES = """
WITH scored AS (
    SELECT gym_id, count(*) AS active FROM risk_scores WHERE day = :day GROUP BY gym_id
), raised_today AS (
    SELECT gym_id, count(*) AS raised FROM alerts
    WHERE raised_at >= :day_start AND raised_at <= :as_of
    GROUP BY gym_id
), candidates AS (
    SELECT s.member_id, s.gym_id, s.as_of, s.risk, s.band, s.model_version, s.reason1, s.value1,
           s.reason2, s.value2, s.reason3, s.value3, s.contract_type,
           row_number() OVER (PARTITION BY s.gym_id ORDER BY s.risk DESC, s.member_id) AS rank
    FROM risk_scores s
    WHERE s.day = :day AND s.band = ANY(CAST(:bands AS text[]))
      AND NOT EXISTS (
          SELECT 1 FROM alerts a WHERE a.member_id = s.member_id
          AND (a.resolution IS NULL
               OR a.raised_at > :cooldown_from))
      AND NOT EXISTS (SELECT 1 FROM snoozes z WHERE z.member_id = s.member_id AND z.until >= :day)
      -- back since the score was computed: nothing to alert about
      AND NOT EXISTS (
          SELECT 1 FROM check_ins c
          WHERE c.member_id = s.member_id AND c.checked_in_at >= s.as_of)
      -- left or froze since the score was computed
      AND NOT EXISTS (
          SELECT 1 FROM member_versions v
          WHERE v.member_id = s.member_id AND v.updated_at >= s.as_of
            AND v.updated_at < :as_of AND v.status <> 'active')
)
SELECT c.*
FROM candidates c
JOIN scored USING (gym_id)
LEFT JOIN raised_today r USING (gym_id)
WHERE c.rank <= greatest(:min_per_gym, floor(scored.active * CAST(:share AS float8)))
                 - coalesce(r.raised, 0)
ORDER BY c.gym_id, c.rank
"""


async def raise_alerts(
    uow: UnitOfWork,
    *,
    tick_id: str,
    as_of: datetime,
    day: date,
    timezone: str,
    rules: AlertRules,
) -> int:
    # Bounds computed here, in the tick's zone, not by the session's: "today" starts at the local
    # midnight of `day` (23 or 25 hours before a daylight-saving change's next midnight).
    day_start = datetime.combine(day, time(), tzinfo=ZoneInfo(timezone))
    rows = (
        (
            await uow.session.execute(
                text(_CANDIDATES),
                {
                    "day": day,
                    "as_of": as_of,
                    "day_start": day_start,
                    "cooldown_from": as_of - timedelta(days=rules.cooldown_days),
                    "bands": list(rules.bands),
                    "min_per_gym": rules.min_per_gym,
                    "share": rules.share_per_gym,
                },
            )
        )
        .mappings()
        .all()
    )
    if not rows:
        return 0
    ids = [new_alert_id(tick_id, r["member_id"]) for r in rows]
    reasons = [from_row(r) for r in rows]
    inserted = (
        await uow.session.execute(
            text(
                "INSERT INTO alerts (alert_id, member_id, gym_id, risk, band, reasons, "
                "model_version, raised_at, scored_as_of) "
                "SELECT i, m, g, r, b, CAST(j AS jsonb), v, :as_of, s FROM unnest("
                "CAST(:ids AS uuid[]), CAST(:members AS uuid[]), CAST(:gyms AS uuid[]), "
                "CAST(:risks AS float8[]), CAST(:bands AS text[]), CAST(:reasons AS text[]), "
                "CAST(:versions AS text[]), CAST(:scored AS timestamptz[])) "
                "AS u(i, m, g, r, b, j, v, s) "
                "ON CONFLICT DO NOTHING RETURNING alert_id"
            ),
            {
                "as_of": as_of,
                "ids": ids,
                "members": [r["member_id"] for r in rows],
                "gyms": [r["gym_id"] for r in rows],
                "risks": [r["risk"] for r in rows],
                "bands": [r["band"] for r in rows],
                "reasons": [json.dumps(r) for r in reasons],
                "versions": [r["model_version"] for r in rows],
                "scored": [r["as_of"] for r in rows],
            },
        )
    ).scalars()
    created = set(inserted)
    for alert_id, row, why in zip(ids, rows, reasons, strict=True):
        if alert_id in created:
            uow.publish(
                ChurnAlertRaised(
                    alert_id=alert_id,
                    member_id=row["member_id"],
                    gym_id=row["gym_id"],
                    risk=row["risk"],
                    band=row["band"],
                    reasons=tuple(RiskReason(**reason) for reason in why),
                    model_version=row["model_version"],
                    raised_at=as_of,
                ),
                gym_id=row["gym_id"],
            )
    # A check-in committed since the candidates were read (this transaction does not lock
    # check_ins) would otherwise never resolve these: the projection's resolve ran before they
    # existed. The resolutions follow the raises in the outbox.
    await _resolve_against_check_ins(uow, list(created))
    return len(created)


async def _resolve_against_check_ins(uow: UnitOfWork, alert_ids: list[uuid.UUID]) -> int:
    if not alert_ids:
        return 0
    rows = await uow.session.execute(
        text(
            "UPDATE alerts a SET resolution = 'checked_in', "
            "resolved_at = greatest(c.at, a.raised_at) "
            "FROM (SELECT o.alert_id, min(i.checked_in_at) AS at FROM alerts o "
            "      JOIN check_ins i ON i.member_id = o.member_id "
            "           AND i.checked_in_at >= o.scored_as_of "
            "      WHERE o.alert_id = ANY(CAST(:ids AS uuid[])) AND o.resolution IS NULL "
            "      GROUP BY o.alert_id) AS c "
            "WHERE a.alert_id = c.alert_id AND a.resolution IS NULL "
            "RETURNING a.alert_id, a.member_id, a.gym_id, a.resolved_at"
        ),
        {"ids": alert_ids},
    )
    return _publish_resolved(uow, rows.mappings().all(), "checked_in")


async def expire_alerts(uow: UnitOfWork, *, as_of: datetime, rules: AlertRules) -> int:
    """Open alerts past their age, or whose member is no longer active, expire."""
    rows = await uow.session.execute(
        text(
            "UPDATE alerts a SET resolution = 'expired', resolved_at = :as_of "
            "WHERE a.resolution IS NULL AND a.raised_at <= :as_of AND ("
            "a.raised_at <= :expire_before "
            "OR (SELECT v.status FROM member_versions v WHERE v.member_id = a.member_id "
            "    AND v.updated_at < :as_of ORDER BY v.updated_at DESC LIMIT 1) <> 'active') "
            "RETURNING a.alert_id, a.member_id, a.gym_id, a.resolved_at"
        ),
        {"as_of": as_of, "expire_before": as_of - timedelta(days=rules.expiry_days)},
    )
    return _publish_resolved(uow, rows.mappings().all(), "expired")


async def resolve_on_check_ins(
    uow: UnitOfWork, members: Sequence[uuid.UUID], times: Sequence[datetime]
) -> int:
    """A check-in from the alert's score's moment on resolves it (at the first such check-in, or
    when raised if that check-in came before the alert: it arrived or committed late)."""
    rows = await uow.session.execute(
        text(
            "UPDATE alerts a SET resolution = 'checked_in', "
            "resolved_at = greatest(c.at, a.raised_at) "
            "FROM (SELECT o.alert_id, min(i.at) AS at FROM alerts o "
            "      JOIN unnest(CAST(:members AS uuid[]), CAST(:times AS timestamptz[])) "
            "           AS i(member_id, at) ON i.member_id = o.member_id "
            "           AND i.at >= o.scored_as_of "
            "      WHERE o.resolution IS NULL GROUP BY o.alert_id) AS c "
            "WHERE a.alert_id = c.alert_id AND a.resolution IS NULL "
            "RETURNING a.alert_id, a.member_id, a.gym_id, a.resolved_at"
        ),
        {"members": list(members), "times": list(times)},
    )
    return _publish_resolved(uow, rows.mappings().all(), "checked_in")


async def resolve_open_alert(
    uow: UnitOfWork,
    *,
    gym_id: uuid.UUID,
    member_id: uuid.UUID,
    resolution: str,
    at: datetime,
    alert_id: uuid.UUID | None = None,
) -> int:
    condition = "alert_id = :alert_id" if alert_id is not None else "member_id = :member_id"
    rows = await uow.session.execute(
        text(
            # never resolved before it was raised (a snooze asked earlier, delivered late)
            f"UPDATE alerts SET resolution = :resolution, resolved_at = greatest(:at, raised_at) "
            f"WHERE gym_id = :gym_id AND {condition} AND resolution IS NULL "
            "RETURNING alert_id, member_id, gym_id, resolved_at"
        ),
        {
            "resolution": resolution,
            "at": at,
            "gym_id": gym_id,
            "member_id": member_id,
            "alert_id": alert_id,
        },
    )
    return _publish_resolved(uow, rows.mappings().all(), resolution)


def _publish_resolved(uow: UnitOfWork, rows: Sequence[Any], resolution: str) -> int:
    for row in rows:
        uow.publish(
            ChurnAlertResolved(
                alert_id=row["alert_id"],
                member_id=row["member_id"],
                gym_id=row["gym_id"],
                resolution=resolution,  # type: ignore[arg-type]
                resolved_at=row["resolved_at"],
            ),
            gym_id=row["gym_id"],
        )
    return len(rows)
