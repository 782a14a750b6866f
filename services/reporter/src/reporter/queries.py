"""What a gym's report reads from the projections, for one week and the week before.

Every figure is counted on the local day (in the gym's time zone) of the instant it happened, so
the report of a week is a pure function of the projections and the week: computing it again
gives the same numbers unless a late event has since changed what is known about that week.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from reporter.weeks import Week

ADDITIVE = (
    "sessions",
    "session_seconds",
    "check_ins",
    "new_members",
    "cancelled_members",
    "alerts_raised",
    "alerts_resolved",
    "conversations",
    "positive",
    "neutral",
    "negative",
    "sentiment_sum",
    "follow_ups",
    "cost_usd",
)
# Figures of a whole week that do not add up over days (a member counts once in a week).
STATE = ("members_talked", "members_at_start", "members_at_end", "alerts_open")


@dataclass
class GymWeekData:
    """The raw material of a gym's report: 14 days (previous week, then this one) and lists."""

    days: dict[date, dict[str, Any]]
    state: dict[str, dict[str, int]]  # "current" / "previous" -> STATE figure -> value
    topics: list[dict[str, Any]]
    follow_ups: list[dict[str, Any]]
    at_risk: list[dict[str, Any]]


async def read_gym_week(conn: Any, gym_id: uuid.UUID, week: Week, list_limit: int) -> GymWeekData:
    prev = week.previous
    lo, mid, hi = week.instant(prev.start), week.instant(week.start), week.instant(week.end)
    tz = week.timezone
    days: dict[date, dict[str, Any]] = {
        d: dict.fromkeys(ADDITIVE, 0) for d in [*prev.days, *week.days]
    }
    for d in days.values():
        d["cost_usd"] = Decimal(0)
        d["sentiment_sum"] = 0.0

    def add(rows: list[Any]) -> None:
        for row in rows:
            day = days.get(row["day"])
            if day is not None:
                for key, value in row.items():
                    if key != "day" and value is not None:
                        day[key] += value

    window = (gym_id, lo, hi, tz)
    add(
        await conn.fetch(
            "SELECT (ended_at AT TIME ZONE $4)::date AS day, count(*) AS sessions, "
            "coalesce(sum(extract(epoch FROM ended_at - started_at)), 0)::float8 "
            "AS session_seconds, sum(cost_usd) AS cost_usd FROM sessions "
            "WHERE gym_id = $1 AND ended_at >= $2 AND ended_at < $3 GROUP BY 1",
            *window,
        )
    )
    add(
        await conn.fetch(
            "SELECT (checked_in_at AT TIME ZONE $4)::date AS day, count(*) AS check_ins "
            "FROM check_ins WHERE gym_id = $1 AND checked_in_at >= $2 AND checked_in_at < $3 "
            "GROUP BY 1",
            *window,
        )
    )
    add(
        await conn.fetch(
            "SELECT (ended_at AT TIME ZONE $4)::date AS day, count(*) AS conversations, "
            "count(*) FILTER (WHERE sentiment_label = 'positive') AS positive, "
            "count(*) FILTER (WHERE sentiment_label = 'neutral') AS neutral, "
            "count(*) FILTER (WHERE sentiment_label = 'negative') AS negative, "
            "sum(sentiment_score) AS sentiment_sum, "
            "sum(cardinality(follow_ups))::bigint AS follow_ups, sum(cost_usd) AS cost_usd "
            "FROM summaries WHERE gym_id = $1 AND ended_at >= $2 AND ended_at < $3 GROUP BY 1",
            *window,
        )
    )
    add(
        await conn.fetch(
            "SELECT (raised_at AT TIME ZONE $4)::date AS day, count(*) AS alerts_raised "
            "FROM alerts WHERE gym_id = $1 AND raised_at >= $2 AND raised_at < $3 GROUP BY 1",
            *window,
        )
    )
    add(
        await conn.fetch(
            "SELECT (resolved_at AT TIME ZONE $4)::date AS day, count(*) AS alerts_resolved "
            "FROM alerts WHERE gym_id = $1 AND resolved_at >= $2 AND resolved_at < $3 "
            "GROUP BY 1",
            *window,
        )
    )
    # A member's dates are already local dates. A cancelled member without a date is taken as
    # cancelled on the day the registry last changed it.
    cancelled_on = (
        "coalesce(cancelled_at, CASE WHEN status = 'cancelled' "
        "THEN (updated_at AT TIME ZONE $2::text)::date END)"
    )
    member_days = (prev.start, week.start, week.end)
    add(
        await conn.fetch(
            "SELECT joined_at AS day, count(*) AS new_members FROM members "
            "WHERE gym_id = $1 AND joined_at >= $2 AND joined_at < $3 GROUP BY 1",
            gym_id,
            member_days[0],
            member_days[2],
        )
    )
    add(
        await conn.fetch(
            f"SELECT {cancelled_on} AS day, count(*) AS cancelled_members FROM members "
            f"WHERE gym_id = $1 AND {cancelled_on} >= $3 AND {cancelled_on} < $4 GROUP BY 1",
            gym_id,
            tz,
            member_days[0],
            member_days[2],
        )
    )
    # Members at an instant: joined before that local midnight and not cancelled before it.
    at = (
        "count(*) FILTER (WHERE (joined_at IS NULL OR joined_at < {d}) "
        f"AND ({cancelled_on} IS NULL OR {cancelled_on} >= {{d}}))"
    )
    counts = await conn.fetchrow(
        f"SELECT {at.format(d='$3')} AS a, {at.format(d='$4')} AS b, {at.format(d='$5')} AS c "
        "FROM members WHERE gym_id = $1",
        gym_id,
        tz,
        *member_days,
    )
    talked = await conn.fetchrow(
        "SELECT count(DISTINCT member_id) FILTER (WHERE ended_at < $3) AS previous, "
        "count(DISTINCT member_id) FILTER (WHERE ended_at >= $3) AS current FROM sessions "
        "WHERE gym_id = $1 AND ended_at >= $2 AND ended_at < $4 AND member_id IS NOT NULL",
        gym_id,
        lo,
        mid,
        hi,
    )
    open_alerts = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE raised_at < $2 AND coalesce(resolved_at, 'infinity') "
        ">= $2) AS previous, count(*) FILTER (WHERE raised_at < $3 AND "
        "coalesce(resolved_at, 'infinity') >= $3) AS current FROM alerts WHERE gym_id = $1",
        gym_id,
        mid,
        hi,
    )
    state = {
        "previous": {
            "members_talked": talked["previous"],
            "members_at_start": counts["a"],
            "members_at_end": counts["b"],
            "alerts_open": open_alerts["previous"],
        },
        "current": {
            "members_talked": talked["current"],
            "members_at_start": counts["b"],
            "members_at_end": counts["c"],
            "alerts_open": open_alerts["current"],
        },
    }
    topics = await conn.fetch(
        "SELECT lower(t) AS topic, count(*) FILTER (WHERE ended_at >= $3) AS count, "
        "count(*) FILTER (WHERE ended_at < $3) AS previous "
        "FROM summaries, unnest(topics) AS t "
        "WHERE gym_id = $1 AND ended_at >= $2 AND ended_at < $4 GROUP BY 1 "
        "HAVING count(*) FILTER (WHERE ended_at >= $3) > 0 ORDER BY 2 DESC, 1 LIMIT 5",
        gym_id,
        lo,
        mid,
        hi,
    )
    follow_ups = await conn.fetch(
        "SELECT to_char(ended_at AT TIME ZONE $4, 'YYYY-MM-DD HH24:MI') AS at, f AS text "
        "FROM summaries, unnest(follow_ups) WITH ORDINALITY AS u(f, n) "
        "WHERE gym_id = $1 AND ended_at >= $2 AND ended_at < $3 "
        "ORDER BY ended_at, session_id, n LIMIT $5",
        gym_id,
        mid,
        hi,
        tz,
        list_limit,
    )
    at_risk = await conn.fetch(
        "SELECT a.member_id::text AS member_id, m.first_name, round(a.risk::numeric, 3)::float8 "
        "AS risk, a.band, to_char(a.raised_at AT TIME ZONE $3, 'YYYY-MM-DD') AS raised_on "
        "FROM alerts a LEFT JOIN members m USING (member_id) "
        "WHERE a.gym_id = $1 AND a.raised_at < $2 AND coalesce(a.resolved_at, 'infinity') >= $2 "
        "ORDER BY a.risk DESC NULLS LAST, a.member_id LIMIT $4",
        gym_id,
        hi,
        tz,
        list_limit,
    )
    return GymWeekData(
        days=days,
        state=state,
        topics=[dict(r) for r in topics],
        follow_ups=[dict(r) for r in follow_ups],
        at_risk=[dict(r) for r in at_risk],
    )
