"""A check-in delivered twice has the effect of one: why its ids need not be recorded."""

from __future__ import annotations

import json
from datetime import timedelta

from churn_world import Churn

from churn_engine.projection import project_member_checked_in
from churn_engine.synthetic import generate
from jarvis_common.events import new_event
from jarvis_common.events.catalogue import MemberCheckedIn, ScheduleTicked


async def test_a_redelivered_check_in_changes_nothing_and_resolves_no_alert_twice(
    churn: Churn,
) -> None:
    [handler] = [h for h in churn.app.handlers if h.name == "project_member_checked_in"]
    # Redeliveries reach the projection again (no processed_events row stops them) ...
    assert handler.record_processed is False

    population = generate(150, gyms=1, seed=5)
    await churn.load(population)
    slot = population.end + timedelta(hours=3)
    alerts_tick = ScheduleTicked(
        tick_id=f"churn_alerts:{slot.isoformat()}", job="churn_alerts", slot=slot, timezone="UTC"
    )
    tick_handler = next(h for h in churn.app.handlers if h.topic == "schedule.tick")
    async with churn.app.db.unit_of_work() as uow:
        await tick_handler.func(new_event(alerts_tick, source="test"), uow)
    [alerted, *_] = await churn.fetch(
        "SELECT member_id, gym_id FROM alerts WHERE resolution IS NULL ORDER BY member_id"
    )
    back = MemberCheckedIn(
        member_id=alerted["member_id"],
        gym_id=alerted["gym_id"],
        checked_in_at=slot + timedelta(hours=5),
    )
    earliest = MemberCheckedIn(
        member_id=alerted["member_id"],
        gym_id=alerted["gym_id"],
        checked_in_at=population.start - timedelta(days=1),
    )

    async def state() -> list[list[dict]]:
        return [
            await churn.fetch("SELECT * FROM check_ins ORDER BY member_id, checked_in_at"),
            await churn.fetch("SELECT * FROM gym_feeds ORDER BY gym_id"),
            await churn.fetch("SELECT * FROM alerts ORDER BY alert_id"),
            await churn.fetch("SELECT topic, payload FROM outbox ORDER BY id"),
        ]

    await churn.apply(project_member_checked_in, [back, earliest])
    once = await state()
    # ... and they find nothing left to do: the same rows, the same feed start, no second
    # churn.alert.resolved.
    await churn.apply(project_member_checked_in, [back, earliest])
    await churn.apply(project_member_checked_in, [earliest])
    await churn.apply(project_member_checked_in, [back])
    assert await state() == once

    check_ins, feeds, _, outbox = once
    assert {"member_id": back.member_id, "checked_in_at": back.checked_in_at} in [
        {k: r[k] for k in ("member_id", "checked_in_at")} for r in check_ins
    ]
    assert feeds == [{"gym_id": back.gym_id, "first_check_in_at": earliest.checked_in_at}]
    resolved = [
        json.loads(r["payload"])["data"] for r in outbox if r["topic"] == "churn.alert.resolved"
    ]
    assert [(e["member_id"], e["resolution"]) for e in resolved] == [
        (str(back.member_id), "checked_in")
    ]
