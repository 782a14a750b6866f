"""Alert expiry (age, member gone) and an alert tick without the day's scores."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from churn_world import Churn

from churn_engine.projection import project_member_upserted
from churn_engine.synthetic import generate
from jarvis_common.events import new_event
from jarvis_common.events.catalogue import MemberUpserted, ScheduleTicked


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
