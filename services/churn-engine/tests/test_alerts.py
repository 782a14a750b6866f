"""Alert expiry (age, member gone) and an alert tick without the day's scores."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta

from churn_world import Churn

from churn_engine.projection import project_member_checked_in, project_member_upserted
from churn_engine.synthetic import generate
from jarvis_common.events import new_event
from jarvis_common.events.catalogue import (
    MemberCheckedIn,
    MemberChurnSnoozed,
    MemberUpserted,
    ScheduleTicked,
)


async def tick(churn: Churn, job: str, slot: datetime) -> None:
    handler = next(h for h in churn.app.handlers if h.topic == "schedule.tick")
    data = ScheduleTicked(tick_id=f"{job}:{slot.isoformat()}", job=job, slot=slot, timezone="UTC")
    async with churn.app.db.unit_of_work() as uow:
        await handler.func(new_event(data, source="test"), uow)


async def open_alerts(churn: Churn) -> dict:
    rows = await churn.fetch("SELECT member_id, gym_id FROM alerts WHERE resolution IS NULL")
    return {r["member_id"]: r["gym_id"] for r in rows}


async def test_alerts_expire_with_age_or_when_the_member_leaves(churn: Churn) -> None:
    population = generate(150, gyms=1, seed=5)
    await churn.load(population)
    day0 = population.end + timedelta(hours=3)
    # No churn_risk tick that day: the alert tick scores first rather than alert on nothing.
    await tick(churn, "churn_alerts", day0)
    raised = await open_alerts(churn)
    assert len(raised) >= 5
    await tick(churn, "churn_alerts", day0)  # a repeat changes nothing
    assert await open_alerts(churn) == raised

    leaver = sorted(raised)[0]
    await churn.apply(
        project_member_upserted,
        [
            MemberUpserted(
                member_id=leaver,
                gym_id=raised[leaver],
                status="cancelled",
                updated_at=day0 + timedelta(hours=5),
            )
        ],
    )
    await tick(churn, "churn_alerts", day0 + timedelta(days=1))
    resolved = await churn.fetch("SELECT resolution FROM alerts WHERE member_id = :m", m=leaver)
    assert resolved == [{"resolution": "expired"}]

    await tick(churn, "churn_alerts", day0 + timedelta(days=31))
    expired = await churn.fetch(
        "SELECT count(*) AS n FROM alerts WHERE resolution = 'expired' AND raised_at = :t", t=day0
    )
    assert expired[0]["n"] == len(raised)
    in_db = await churn.fetch("SELECT count(*) AS n FROM alerts WHERE resolution = 'expired'")
    events = await churn.fetch("SELECT payload FROM outbox WHERE topic = 'churn.alert.resolved'")
    expired_events = [
        e for e in events if json.loads(e["payload"])["data"]["resolution"] == "expired"
    ]
    assert len(expired_events) == in_db[0]["n"] > len(raised)  # also the next day's alerts

    runs = await churn.fetch("SELECT outcome FROM tick_runs ORDER BY slot")
    assert [r["outcome"]["expired"] for r in runs] == [0, 1, in_db[0]["n"] - 1]
    assert "scored" in runs[0]["outcome"]


PARIS = "Europe/Paris"
# Saturday 28 March 2026, then Sunday 29 March, when Paris springs forward at 02:00 CET: Sunday's
# 02:00 (risk) and 03:00 (alerts) slots are both 03:00 CEST.
SATURDAY_ALERTS = datetime(2026, 3, 28, 2, tzinfo=UTC)  # 03:00 CET
SUNDAY_SLOT = datetime(2026, 3, 29, 1, tzinfo=UTC)  # 03:00 CEST


async def paris_tick(churn: Churn, job: str, slot: datetime) -> None:
    handler = next(h for h in churn.app.handlers if h.topic == "schedule.tick")
    data = ScheduleTicked(tick_id=f"{job}@{slot.isoformat()}", job=job, slot=slot, timezone=PARIS)
    async with churn.app.db.unit_of_work() as uow:
        await handler.func(new_event(data, source="test"), uow)


async def spring_population(churn: Churn) -> None:
    population = generate(100, gyms=1, start=datetime(2025, 12, 28, tzinfo=UTC), seed=5)
    await churn.load(population)
    # a low red threshold: more red members than two days' caps (max(5, 5 % of 100) = 5)
    await churn.fetch(
        "INSERT INTO gym_thresholds (gym_id, amber, red) VALUES (:g, 0.02, 0.05) RETURNING gym_id",
        g=population.gym_ids[0],
    )


async def test_the_spring_forward_day_has_its_own_alert_cap(churn: Churn) -> None:
    """Saturday's alerts, 23 hours before Sunday's tick, do not count against Sunday's cap."""
    await spring_population(churn)
    await paris_tick(churn, "churn_alerts", SATURDAY_ALERTS)
    await paris_tick(churn, "churn_alerts", SUNDAY_SLOT)
    runs = await churn.fetch("SELECT slot, outcome FROM tick_runs ORDER BY slot")
    assert [r["outcome"]["raised"] for r in runs] == [5, 5]
    days = await churn.fetch(
        "SELECT raised_at, count(*) AS n FROM alerts GROUP BY raised_at ORDER BY raised_at"
    )
    assert [(d["raised_at"], d["n"]) for d in days] == [(SATURDAY_ALERTS, 5), (SUNDAY_SLOT, 5)]


async def test_a_late_scoring_tick_finds_the_scores_the_alert_tick_made_as_of_its_slot(
    churn: Churn,
) -> None:
    """The alert tick came first and scored as of the day's risk slot (02:00), not its own; the
    scoring tick then changes nothing, and the alerts agree with the stored scores."""
    await spring_population(churn)
    risk_slot = datetime(2026, 3, 28, 1, tzinfo=UTC)  # 02:00 CET
    await paris_tick(churn, "churn_alerts", SATURDAY_ALERTS)
    await paris_tick(churn, "churn_risk", risk_slot)
    await assert_one_scoring_and_consistent_alerts(churn, risk_slot)


async def test_scoring_and_alert_ticks_delivered_together_score_once(churn: Churn) -> None:
    await spring_population(churn)
    await asyncio.gather(
        paris_tick(churn, "churn_risk", SUNDAY_SLOT),
        paris_tick(churn, "churn_alerts", SUNDAY_SLOT),
    )
    await assert_one_scoring_and_consistent_alerts(churn, SUNDAY_SLOT)


async def assert_one_scoring_and_consistent_alerts(churn: Churn, risk_slot: datetime) -> None:
    runs = {r["job"]: r["outcome"] for r in await churn.fetch("SELECT job, outcome FROM tick_runs")}
    scorings = ("scored" in runs["churn_alerts"]) + ("members" in runs["churn_risk"])
    assert scorings == 1, runs
    assert runs["churn_alerts"]["raised"] == 5
    as_of = await churn.fetch("SELECT DISTINCT as_of FROM risk_scores")
    assert as_of == [{"as_of": risk_slot}]
    mismatched = await churn.fetch(
        "SELECT a.member_id FROM alerts a JOIN risk_scores s USING (member_id) "
        "WHERE a.scored_as_of <> s.as_of OR a.risk <> s.risk OR s.band <> 'red'"
    )
    assert mismatched == []


async def test_a_check_in_between_the_score_and_the_alert_resolves_it(churn: Churn) -> None:
    """Scored at 02:00, alerted at 03:00; a 02:30 check-in that reaches the engine after the
    alert (late, or committed while the alerts were raised) resolves it."""
    await spring_population(churn)
    await paris_tick(churn, "churn_alerts", SATURDAY_ALERTS)
    raised = await open_alerts(churn)
    member = sorted(raised)[0]
    between = SATURDAY_ALERTS - timedelta(minutes=30)
    await churn.apply(
        project_member_checked_in,
        [MemberCheckedIn(member_id=member, gym_id=raised[member], checked_in_at=between)],
    )
    [alert] = await churn.fetch(
        "SELECT resolution, resolved_at FROM alerts WHERE member_id = :m", m=member
    )
    assert alert == {"resolution": "checked_in", "resolved_at": SATURDAY_ALERTS}
    events = await churn.fetch("SELECT payload FROM outbox WHERE topic = 'churn.alert.resolved'")
    assert [json.loads(e["payload"])["data"]["member_id"] for e in events] == [str(member)]


async def test_a_retried_older_snooze_does_not_replace_a_newer_one(churn: Churn) -> None:
    handler = next(h for h in churn.app.handlers if h.name == "apply_staff_snooze")
    member, gym = uuid.uuid4(), uuid.uuid4()
    asked = datetime(2026, 11, 20, 9, tzinfo=UTC)
    newer = MemberChurnSnoozed(
        member_id=member, gym_id=gym, until=date(2026, 12, 1), snoozed_at=asked + timedelta(hours=1)
    )
    older = MemberChurnSnoozed(
        member_id=member, gym_id=gym, until=date(2026, 12, 20), snoozed_at=asked
    )
    for data in (newer, older):  # the older request's retry arrives last
        async with churn.app.db.unit_of_work() as uow:
            await handler.func(new_event(data, source="test"), uow)
    rows = await churn.fetch("SELECT until, snoozed_at FROM snoozes WHERE member_id = :m", m=member)
    assert rows == [{"until": date(2026, 12, 1), "snoozed_at": newer.snoozed_at}]
