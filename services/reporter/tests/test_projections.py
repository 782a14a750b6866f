"""The projections converge whatever the order and number of deliveries: a gym or a member is
replaced only by a newer version, an alert's halves merge, facts are stored once."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from reporter_world import GymWeek, apply, fetch, local

from jarvis_common.errors import PermanentError
from jarvis_common.events.catalogue import MemberUpserted
from jarvis_common.service import ServiceApp

OLD = datetime(2026, 3, 1, tzinfo=UTC)
NEW = datetime(2026, 6, 1, tzinfo=UTC)


async def test_newer_versions_win_whatever_arrives_first(reporter: ServiceApp) -> None:
    g = GymWeek()
    renamed = g.gym(updated_at=NEW, name="Nouveau nom", manager_emails=("new@gym.test",))
    member = g.member(date(2026, 1, 1))
    cancelled = MemberUpserted(
        member_id=member,
        gym_id=g.gym_id,
        status="cancelled",
        joined_at=date(2026, 1, 1),
        cancelled_at=date(2026, 5, 30),
        updated_at=NEW,
    )
    stale = MemberUpserted(member_id=member, gym_id=g.gym_id, status="active", updated_at=OLD)
    # The newest first, then the older ones, one batch holding both versions of the member.
    await apply(reporter, [renamed, cancelled])
    await apply(reporter, [g.gym(updated_at=OLD), stale, cancelled, stale])

    [gym] = await fetch(reporter, "SELECT name, manager_emails FROM gyms")
    assert gym == {"name": "Nouveau nom", "manager_emails": ["new@gym.test"]}
    [row] = await fetch(reporter, "SELECT status, cancelled_at FROM members")
    assert row == {"status": "cancelled", "cancelled_at": date(2026, 5, 30)}


async def test_alerts_merge_their_halves_and_facts_are_stored_once(reporter: ServiceApp) -> None:
    g = GymWeek()
    member = g.member(date(2026, 1, 1))
    alert = g.alert(member, local(date(2026, 11, 16), 3), resolved=local(date(2026, 11, 18), 9))
    g.check_in(member, local(date(2026, 11, 17), 7))
    g.session(local(date(2026, 11, 17), 8), 60, member, topics=("horaires",))
    raised, resolved = g.events[-5], g.events[-4]
    facts = g.events[-3:]
    await apply(reporter, [resolved])
    await apply(reporter, [raised, *facts])
    await apply(reporter, [raised, resolved, *facts])

    [row] = await fetch(reporter, "SELECT alert_id, risk, raised_at, resolved_at FROM alerts")
    assert row["alert_id"] == alert and row["risk"] == 0.8
    assert row["raised_at"] is not None and row["resolved_at"] is not None
    for table in ("check_ins", "sessions", "summaries"):
        assert len(await fetch(reporter, f"SELECT 1 FROM {table}")) == 1, table


async def test_a_gym_with_an_unknown_time_zone_is_refused(reporter: ServiceApp) -> None:
    g = GymWeek(timezone="Mars/Olympus_Mons")
    with pytest.raises(PermanentError, match="Mars/Olympus_Mons"):
        await apply(reporter, [g.gym()])
    assert await fetch(reporter, "SELECT 1 FROM gyms") == []
