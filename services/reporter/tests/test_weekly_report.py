"""The weekly report of a gym: every figure against a week whose answer is known in advance,
counted on local days, reconciled day by day and with the churn engine's alert events."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from reporter_world import (
    ADMIN,
    WEEK_START,
    GymWeek,
    Smtp,
    apply,
    fetch,
    local,
    weekly_tick,
    worker_of,
)

from jarvis_common.events.catalogue import ChurnAlertRaised, ChurnAlertResolved
from jarvis_common.service import ServiceApp
from reporter.reports import report_id
from reporter.runs import schedule_run

D = WEEK_START  # Monday 16 November 2026


def known_week() -> tuple[GymWeek, dict[str, Any]]:
    g = GymWeek()
    m1 = g.member(date(2026, 1, 10), first_name="Zoé")
    m2 = g.member(date(2026, 1, 10), cancelled=D + timedelta(days=2))
    m3 = g.member(D + timedelta(days=1), first_name="Loïc")
    g.member(date(2026, 1, 10), cancelled=D - timedelta(days=6))  # cancelled the week before
    m5 = g.member(D - timedelta(days=5), first_name="Anaïs")  # joined the week before
    g.session(
        local(D, 10),
        120,
        m1,
        topics=("Horaires", "tarifs"),
        sentiment=("positive", 0.8),
        follow_ups=("Rappeler Zoé pour l\u2019abonnement à 49 €",),
    )
    g.session(local(D, 23, 30), 60, m2, topics=("horaires",), sentiment=("negative", -0.6))
    g.session(local(D + timedelta(days=6), 23, 50), 180, m1, topics=("cours",))
    g.session(local(D + timedelta(days=7), 0, 10), 30, m1, topics=("parking",))  # next week
    g.session(local(D - timedelta(days=6), 12), 100, m1, topics=("horaires",))  # previous week
    g.session(local(D - timedelta(days=1), 23, 30), 40, None)  # previous week, anonymous
    g.check_in(m1, local(D + timedelta(days=1), 7))
    g.check_in(m1, local(D + timedelta(days=2), 7))
    g.check_in(m3, local(D + timedelta(days=5), 23, 59))
    g.check_in(m3, local(D + timedelta(days=7), 0, 30))  # next week
    g.alert(m2, local(D, 9), resolved=local(D + timedelta(days=3), 10), risk=0.6)
    g.alert(m1, local(D - timedelta(days=3), 3), resolved=local(D + timedelta(days=1), 7))
    g.alert(m5, local(D + timedelta(days=5), 3), risk=0.9)
    g.alert(m3, local(D - timedelta(days=5), 3), risk=0.7)
    g.alert(m1, local(D + timedelta(days=7), 1))  # next week
    expected = {
        "sessions": (3, 2),
        "members_talked": (2, 1),
        "avg_session_seconds": (120.0, 70.0),
        "check_ins": (3, 0),
        "new_members": (1, 1),
        "cancelled_members": (1, 1),
        "members_at_start": (3, 3),
        "members_at_end": (3, 3),
        "attrition_rate": (0.3333, 0.3333),
        "alerts_raised": (2, 2),
        "alerts_resolved": (2, 0),
        "alerts_open": (2, 2),
        "conversations": (3, 2),
        "sentiment_average": (0.067, 0.0),
        "cost_usd": (0.33, 0.22),
        "cost_per_session_usd": (0.11, 0.11),
    }
    return g, expected


async def generate(app: ServiceApp, g: GymWeek) -> dict[str, Any]:
    async with app.db.unit_of_work() as uow:
        await schedule_run(uow, weekly_tick())
    await worker_of(app).drain()
    rows = await fetch(
        app, "SELECT content FROM reports WHERE report_id = :id", id=report_id("gym", g.gym_id, D)
    )
    return rows[0]["content"]


async def test_every_figure_of_a_known_week_against_the_week_before(
    reporter: ServiceApp, smtp: Smtp
) -> None:
    g, expected = known_week()
    # Out of order and twice: the projections converge to the same state.
    shuffled = g.events[:]
    random.Random(7).shuffle(shuffled)
    resolved_first = [e for e in shuffled if isinstance(e, ChurnAlertResolved)]
    await apply(reporter, [g.gym(), *resolved_first])
    await apply(reporter, shuffled)
    await apply(reporter, shuffled)

    content = await generate(reporter, g)

    for key, (value, previous) in expected.items():
        figure = content["figures"][key]
        assert (figure["value"], figure["previous"]) == (value, previous), key
        assert figure["change"] == round(value - previous, 6), key
    assert content["iso_week"] == "2026-W47"
    assert content["week_start"] == "2026-11-16" and content["week_end"] == "2026-11-22"
    assert content["topics"] == [
        {"topic": "horaires", "count": 2, "previous": 1},
        {"topic": "cours", "count": 1, "previous": 0},
        {"topic": "tarifs", "count": 1, "previous": 0},
    ]
    assert content["sentiment"]["positive"] == 1 and content["sentiment"]["negative"] == 1
    assert [f["text"] for f in content["follow_ups"]] == [
        "Rappeler Zoé pour l\u2019abonnement à 49 €"
    ]
    assert [(m["first_name"], m["risk"]) for m in content["members_at_risk"]] == [
        ("Anaïs", 0.9),
        ("Loïc", 0.7),
    ]
    # Local days: 23:30 Monday Paris is 22:30 UTC, still Monday; Sunday 23:50 is Sunday.
    sessions_per_day = [d["sessions"] for d in content["daily"]]
    assert sessions_per_day == [2, 0, 0, 0, 0, 0, 1]
    assert [d["check_ins"] for d in content["daily"]] == [0, 1, 1, 0, 0, 1, 0]


async def test_daily_figures_add_up_to_the_weekly_totals(reporter: ServiceApp, smtp: Smtp) -> None:
    g, _ = known_week()
    await apply(reporter, [g.gym(), *g.events])
    content = await generate(reporter, g)
    daily = content["daily"]
    assert len(daily) == 7
    for key in (
        "sessions",
        "check_ins",
        "new_members",
        "cancelled_members",
        "alerts_raised",
        "alerts_resolved",
        "conversations",
    ):
        assert sum(d[key] for d in daily) == content["figures"][key]["value"], key
    assert round(sum(d["cost_usd"] for d in daily), 6) == content["figures"]["cost_usd"]["value"]
    assert sum(d["session_seconds"] for d in daily) == 360
    # The CSV carries the same days and a total row that equals the figures.
    csv_text = smtp.inbox.to("manager@gym.test")[0]
    attachments = {a.get_filename(): a for a in csv_text.iter_attachments()}
    csv_body = attachments["jarvis-report-gym-2026-W47.csv"].get_content()
    if isinstance(csv_body, bytes):
        csv_body = csv_body.decode("utf-8-sig")
    lines = csv_body.lstrip("\ufeff").splitlines()
    start = lines.index("section,daily") + 2
    days = [line.split(",") for line in lines[start : start + 7]]
    total = lines[start + 7].split(",")
    assert total[0] == "total"
    assert sum(int(d[1]) for d in days) == int(total[1]) == 3  # sessions


async def test_alert_counts_match_the_churn_engines_events_of_the_window(
    reporter: ServiceApp, smtp: Smtp
) -> None:
    g, _ = known_week()
    await apply(reporter, [g.gym(), *g.events])
    content = await generate(reporter, g)
    tz = ZoneInfo(g.timezone)
    start = datetime.combine(D, datetime.min.time(), tz)
    end = start + timedelta(days=7)
    raised = [e for e in g.events if isinstance(e, ChurnAlertRaised)]
    resolved = [e for e in g.events if isinstance(e, ChurnAlertResolved)]
    resolved_at = {e.alert_id: e.resolved_at for e in resolved}
    assert content["figures"]["alerts_raised"]["value"] == sum(
        start <= e.raised_at < end for e in raised
    )
    assert content["figures"]["alerts_resolved"]["value"] == sum(
        start <= e.resolved_at < end for e in resolved
    )
    assert content["figures"]["alerts_open"]["value"] == sum(
        e.raised_at < end and resolved_at.get(e.alert_id, end) >= end for e in raised
    )


async def test_an_empty_week_is_a_valid_report_of_zeros(reporter: ServiceApp, smtp: Smtp) -> None:
    g = GymWeek(language="en", name="Quiet Gym")
    await apply(reporter, [g.gym()])
    content = await generate(reporter, g)
    assert all(f["value"] == 0 for f in content["figures"].values())
    assert content["topics"] == [] and content["members_at_risk"] == []
    assert len(content["daily"]) == 7
    [message] = smtp.inbox.to("manager@gym.test")
    assert message["Subject"] == "Weekly report - Quiet Gym - 2026-W47"


async def test_regenerating_gives_identical_numbers_and_sends_nothing_again(
    reporter: ServiceApp, smtp: Smtp, api: httpx.AsyncClient
) -> None:
    g, _ = known_week()
    await apply(reporter, [g.gym(), *g.events])
    first = await generate(reporter, g)
    assert len(smtp.inbox.messages) == 1

    again = await api.post(f"/api/v1/gyms/{g.gym_id}/reports/2026-W47/regenerate", headers=ADMIN)
    assert again.status_code == 200, again.text
    assert again.json()["changed"] is False and again.json()["revision"] == 1
    # A second tick for the same week (a replay under a new id) schedules nothing new.
    async with reporter.db.unit_of_work() as uow:
        assert await schedule_run(uow, weekly_tick()) is None
        assert await schedule_run(uow, weekly_tick(tick_id="replayed-under-a-new-id")) == 0
    await worker_of(reporter).drain()
    stored = await api.get(f"/api/v1/gyms/{g.gym_id}/reports/2026-W47", headers=ADMIN)
    assert stored.json()["content"] == first
    assert [d["status"] for d in stored.json()["deliveries"]] == ["sent"]
    assert len(smtp.inbox.messages) == 1

    # A late event about that week changes the numbers: stored again, still not re-sent.
    late = GymWeek(gym_id=g.gym_id)
    late.check_in(late.member(date(2026, 1, 1)), local(D + timedelta(days=3), 18))
    await apply(reporter, late.events)
    changed = await api.post(f"/api/v1/gyms/{g.gym_id}/reports/2026-W47/regenerate", headers=ADMIN)
    assert changed.json()["changed"] is True and changed.json()["revision"] == 2
    assert len(smtp.inbox.messages) == 1
