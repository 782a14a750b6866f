"""Dashboards' read models, built from other services' events, in any order, once each."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from registry_world import World

from jarvis_common.events import new_event
from jarvis_common.events.catalogue import (
    ChurnAlertRaised,
    ChurnAlertResolved,
    SessionClosed,
    SummaryCreated,
    TokenUsage,
)
from jarvis_common.service import ServiceApp
from kiosk_registry import read_models as rm

KIOSK = uuid.uuid4()


def closed(gym: uuid.UUID, ended: datetime, cost: str = "0.10") -> SessionClosed:
    return SessionClosed(
        session_id=uuid.uuid4(),
        kiosk_id=KIOSK,
        gym_id=gym,
        started_at=ended - timedelta(minutes=2),
        ended_at=ended,
        end_reason="idle_timeout",
        cost_usd=Decimal(cost),
        usage=TokenUsage(audio_input=100, text_output=20),
    )


async def apply(registry: ServiceApp, handler, data) -> None:  # type: ignore[no-untyped-def]
    async with registry.db.unit_of_work() as uow:
        await handler(new_event(data, source="test"), uow)


@pytest.mark.parametrize("summary_first", [False, True], ids=["closed-first", "summary-first"])
async def test_a_conversation_is_complete_whichever_event_comes_first(
    world: World, registry: ServiceApp, summary_first: bool
) -> None:
    gym = world.ids["gym_a1"]
    session = closed(gym, datetime.now(UTC))
    summary = SummaryCreated(
        session_id=session.session_id,
        kiosk_id=KIOSK,
        gym_id=gym,
        summary="Asked about prices.",
        topics=("pricing",),
    )
    steps = [(rm.project_session_closed, session), (rm.project_summary_created, summary)]
    for handler, data in reversed(steps) if summary_first else steps:
        await apply(registry, handler, data)

    url = f"/api/v1/gyms/{gym}/conversations/{session.session_id}"
    body = (await world.api.get(url, headers=world.as_("manager_a1"))).json()
    assert (body["summary"], body["end_reason"], body["topics"]) == (
        "Asked about prices.",
        "idle_timeout",
        ["pricing"],
    )
    page = (
        await world.api.get(f"/api/v1/gyms/{gym}/conversations", headers=world.as_("owner_a"))
    ).json()
    assert [c["session_id"] for c in page["items"]] == [str(session.session_id)]


async def test_usage_is_summed_per_day_in_the_gyms_time_zone(
    world: World, registry: ServiceApp
) -> None:
    gym = world.ids["gym_i1"]  # Europe/London
    late = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)  # 00:30 on 1 July in London
    for data in (
        closed(gym, late, "0.25"),
        closed(gym, late + timedelta(hours=2), "0.50"),
        closed(gym, datetime(2026, 6, 30, 12, tzinfo=UTC), "1.00"),
    ):
        await apply(registry, rm.project_session_closed, data)

    response = await world.api.get(
        f"/api/v1/gyms/{gym}/usage?from=2026-06-01&to=2026-07-31", headers=world.as_("manager_i1")
    )
    days = {d["day"]: d for d in response.json()}
    assert set(days) == {"2026-06-30", "2026-07-01"}
    assert (days["2026-07-01"]["sessions"], Decimal(days["2026-07-01"]["cost_usd"])) == (
        2,
        Decimal("0.75"),
    )
    assert days["2026-07-01"]["tokens"]["audio_input"] == 200
    assert Decimal(days["2026-06-30"]["duration_s"]) == 120
    backwards = await world.api.get(
        f"/api/v1/gyms/{gym}/usage?from=2026-07-31&to=2026-06-01", headers=world.as_("manager_i1")
    )
    assert backwards.status_code == 422


async def test_churn_alerts_appear_and_resolve_even_out_of_order(
    world: World, registry: ServiceApp
) -> None:
    gym, member = world.ids["gym_a1"], uuid.uuid4()
    now = datetime.now(UTC)
    raised = ChurnAlertRaised(
        alert_id=uuid.uuid4(),
        member_id=member,
        gym_id=gym,
        risk=0.8,
        band="red",
        model_version="default-1",
        raised_at=now,
    )
    await apply(registry, rm.project_churn_alert_raised, raised)
    alerts = await world.api.get("/api/v1/alerts?status=open", headers=world.as_("manager_a1"))
    assert [a["id"] for a in alerts.json()["items"]] == [str(raised.alert_id)]

    await apply(
        registry,
        rm.project_churn_alert_resolved,
        ChurnAlertResolved(
            alert_id=raised.alert_id,
            member_id=member,
            gym_id=gym,
            resolution="checked_in",
            resolved_at=now,
        ),
    )
    # Resolved before raised (a retried event): it must stay resolved.
    late = ChurnAlertRaised(
        alert_id=uuid.uuid4(),
        member_id=member,
        gym_id=gym,
        risk=0.9,
        band="red",
        model_version="default-1",
        raised_at=now,
    )
    await apply(
        registry,
        rm.project_churn_alert_resolved,
        ChurnAlertResolved(
            alert_id=late.alert_id,
            member_id=member,
            gym_id=gym,
            resolution="snoozed",
            resolved_at=now,
        ),
    )
    await apply(registry, rm.project_churn_alert_raised, late)

    still_open = await world.api.get("/api/v1/alerts?status=open", headers=world.as_("owner_a"))
    assert still_open.json()["items"] == []
    other = await world.api.get("/api/v1/alerts", headers=world.as_("owner_b"))
    assert other.json()["total"] == 0
