"""The engine end to end on the real broker and database: events in, projection, scoring on the
02:00 tick, alerts on the 03:00 tick (capped, highest risk first), resolution by check-in and
snooze, cooldown, and ticks that change nothing the second time."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from churn_world import (
    ADMIN,
    Churn,
    check_in_events,
    member_events,
    summary_events,
)

from churn_engine.synthetic import generate
from jarvis_common.events import EventData
from jarvis_common.events.catalogue import MemberCheckedIn, MemberChurnSnoozed, ScheduleTicked
from jarvis_common.testing.waiting import wait_for

pytestmark = pytest.mark.timeout(150)
TZ = "Europe/Paris"


async def publish(churn: Churn, events: list[EventData], batch: int = 500) -> list[uuid.UUID]:
    ids = []
    for lo in range(0, len(events), batch):
        async with churn.app.db.unit_of_work() as uow:
            for data in events[lo : lo + batch]:
                ids.append(uow.publish(data, gym_id=getattr(data, "gym_id", None)).id)
    return ids


def tick(job: str, slot: datetime) -> ScheduleTicked:
    return ScheduleTicked(
        tick_id=f"{job}:{slot.isoformat()}", job=job, slot=slot, timezone=TZ, late=False
    )


async def count(churn: Churn, sql: str, **params: Any) -> int:
    return (await churn.fetch(sql, **params))[0]["n"]


async def tick_done(churn: Churn, ticked: ScheduleTicked) -> None:
    async def done() -> bool:
        query = "SELECT count(*) AS n FROM tick_runs WHERE tick_id = :t AND outcome <> '{}'"
        return await count(churn, query, t=ticked.tick_id) == 1

    await wait_for(done, timeout=60, message=f"tick {ticked.tick_id}")


async def processed(churn: Churn, event_id: uuid.UUID) -> None:
    query = "SELECT count(*) AS n FROM processed_events WHERE event_id = :e"
    await wait_for(lambda: count(churn, query, e=event_id), message=f"event {event_id}")


async def alerts(churn: Churn) -> list[dict[str, Any]]:
    return await churn.fetch("SELECT * FROM alerts ORDER BY raised_at, risk DESC")


async def published(churn: Churn, topic: str) -> list[dict[str, Any]]:
    rows = await churn.fetch("SELECT payload FROM outbox WHERE topic = :t ORDER BY id", t=topic)
    return [json.loads(r["payload"])["data"] for r in rows]


async def test_the_engine_end_to_end(churn: Churn, api) -> None:
    population = generate(150, gyms=1, seed=5)
    gym = population.gym_ids[0]
    check_ins = check_in_events(population)
    async with churn.app.running():
        await publish(churn, member_events(population) + check_ins + summary_events(population))

        async def projected() -> bool:
            return await count(churn, "SELECT count(*) AS n FROM check_ins") == len(check_ins)

        await wait_for(projected, timeout=60, message="the projection")
        # 02:00 and 03:00 in Paris, on the first day after the generated history
        risk_slot = population.end + timedelta(hours=1)
        alert_slot = risk_slot + timedelta(hours=1)
        await publish(churn, [tick("churn_risk", risk_slot)])
        await tick_done(churn, tick("churn_risk", risk_slot))
        await publish(churn, [tick("churn_alerts", alert_slot)])
        await tick_done(churn, tick("churn_alerts", alert_slot))

        day = date(2026, 4, 1)
        scores = await churn.scores(day)
        active = len(scores)
        cap = max(5, int(active * 0.05))
        reds = sorted((s for s in scores.values() if s["band"] == "red"), key=lambda s: -s["risk"])
        raised = await alerts(churn)
        assert len(reds) > cap  # the cap is what limits this gym today
        assert [a["member_id"] for a in raised] == [s["member_id"] for s in reds[:cap]]
        events = await published(churn, "churn.alert.raised")
        assert [e["alert_id"] for e in events] == [str(a["alert_id"]) for a in raised]
        assert all(1 <= len(e["reasons"]) <= 3 and e["band"] == "red" for e in events)

        # The same tick again (a replay under a new event id): nothing changes.
        again = await publish(
            churn, [tick("churn_alerts", alert_slot), tick("churn_risk", risk_slot)]
        )
        for event_id in again:
            await processed(churn, event_id)
        assert await alerts(churn) == raised
        assert await churn.scores(day) == scores
        assert len(await published(churn, "churn.alert.raised")) == len(raised)

        # The first alerted member comes back; staff snooze the second.
        back, snoozed = raised[0]["member_id"], raised[1]["member_id"]
        await publish(
            churn,
            [
                MemberCheckedIn(
                    member_id=back, gym_id=gym, checked_in_at=alert_slot + timedelta(hours=5)
                )
            ],
        )
        snooze = await api.post(
            f"/api/v1/gyms/{gym}/members/{snoozed}/snooze",
            json={"until": (date.today() + timedelta(days=10)).isoformat()},
            headers=ADMIN,
        )
        assert snooze.status_code == 200, snooze.text
        assert snooze.json()["resolved_alerts"] == 1
        # gym staff snooze a third one through the registry, which publishes their request
        by_staff = raised[2]["member_id"]
        await publish(
            churn,
            [
                MemberChurnSnoozed(
                    member_id=by_staff,
                    gym_id=gym,
                    until=date.today() + timedelta(days=10),
                    snoozed_at=datetime.now(UTC),
                )
            ],
        )

        async def resolutions() -> dict[str, str]:
            rows = await published(churn, "churn.alert.resolved")
            return {e["member_id"]: e["resolution"] for e in rows} if len(rows) == 3 else {}

        assert await wait_for(resolutions, message="the three alerts resolved") == {
            str(back): "checked_in",
            str(snoozed): "snoozed",
            str(by_staff): "snoozed",
        }

        # The next day: nobody alerted in the last 30 days, nor snoozed, is alerted again.
        next_risk, next_alerts = risk_slot + timedelta(days=1), alert_slot + timedelta(days=1)
        await publish(churn, [tick("churn_risk", next_risk), tick("churn_alerts", next_alerts)])
        await tick_done(churn, tick("churn_alerts", next_alerts))
        second = [a for a in await alerts(churn) if a["raised_at"] == next_alerts]
        first_members = {a["member_id"] for a in raised}
        assert second and not first_members & {a["member_id"] for a in second}
        assert len(second) <= cap
