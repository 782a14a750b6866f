"""The projection converges whatever the order and the number of deliveries."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from churn_world import Churn

from churn_engine.projection import project_member_checked_in, project_member_upserted
from jarvis_common.events.catalogue import MemberCheckedIn, MemberUpserted

GYM = uuid.uuid4()
T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


async def test_member_versions_and_check_ins_converge_out_of_order(churn: Churn) -> None:
    member = uuid.uuid4()
    joined = date(2025, 1, 1)
    active = MemberUpserted(member_id=member, gym_id=GYM, joined_at=joined, updated_at=T0)
    cancelled = MemberUpserted(
        member_id=member,
        gym_id=GYM,
        joined_at=joined,
        status="cancelled",
        cancelled_at=date(2026, 3, 20),
        updated_at=T0 + timedelta(days=20),
    )
    # the newer version first, then the older one, then both again (redelivery)
    for batch in ([cancelled], [active], [active, cancelled]):
        await churn.apply(project_member_upserted, batch)
    visits = [
        MemberCheckedIn(member_id=member, gym_id=GYM, checked_in_at=T0 + timedelta(days=d))
        for d in (-40, -30, -20, -10, 5)
    ]
    await churn.apply(project_member_checked_in, list(reversed(visits)))
    await churn.apply(project_member_checked_in, visits[:2])

    rows = await churn.fetch("SELECT count(*) AS n FROM check_ins")
    assert rows[0]["n"] == 5
    feed = await churn.fetch("SELECT first_check_in_at FROM gym_feeds")
    assert feed == [{"first_check_in_at": T0 - timedelta(days=40)}]
    versions = await churn.fetch("SELECT status FROM member_versions ORDER BY updated_at")
    assert [v["status"] for v in versions] == ["active", "cancelled"]

    # As of a moment between the two versions the member was active and is scored ...
    await churn.score(T0 + timedelta(days=10))
    assert member in await churn.scores((T0 + timedelta(days=10)).date())
    # ... after the cancellation they are not.
    await churn.score(T0 + timedelta(days=21))
    assert member not in await churn.scores((T0 + timedelta(days=21)).date())
