"""The member activity projection, from `member.upserted`, `member.checked_in`, `summary.created`.

Every handler is set-based (one call per consumed batch) and converges whatever the order or
the number of deliveries: member versions are keyed by (member, updated_at) and scoring reads
the newest one before T; check-ins by (member, instant); conversations by session; a gym's feed
start only moves earlier.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from churn_engine.alerts import resolve_on_check_ins
from jarvis_common.db import UnitOfWork
from jarvis_common.events import Envelope
from jarvis_common.events.catalogue import MemberCheckedIn, MemberUpserted, SummaryCreated
from jarvis_common.messaging.handlers import EventHandlers

handlers = EventHandlers()

_MEMBER_COLUMNS = (
    "member_id",
    "updated_at",
    "gym_id",
    "status",
    "contract_type",
    "joined_at",
    "contract_ends_at",
    "cancelled_at",
)
_MEMBER_TYPES = ("uuid", "timestamptz", "uuid", "text", "text", "date", "date", "date")


@handlers.on_batch(MemberUpserted, name="project_member_upserted")
async def project_member_upserted(events: list[Envelope[Any]], uow: UnitOfWork) -> None:
    members: list[MemberUpserted] = [e.data for e in events]
    typed = zip(_MEMBER_COLUMNS, _MEMBER_TYPES, strict=True)
    arrays = ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in typed)
    await uow.session.execute(
        text(
            f"INSERT INTO member_versions ({', '.join(_MEMBER_COLUMNS)}) "
            f"SELECT * FROM unnest({arrays}) ON CONFLICT DO NOTHING"
        ),
        {name: [getattr(m, name) for m in members] for name in _MEMBER_COLUMNS},
    )


# Applying a check-in twice changes nothing, so its id is not recorded in processed_events
# (check-ins are the busiest member topic): the row is keyed by (member, instant) and inserted
# ON CONFLICT DO NOTHING, a feed start only moves earlier, and only alerts still open are
# resolved, so a second delivery publishes no second churn.alert.resolved.
@handlers.on_batch(MemberCheckedIn, name="project_member_checked_in", record_processed=False)
async def project_member_checked_in(events: list[Envelope[Any]], uow: UnitOfWork) -> None:
    check_ins: list[MemberCheckedIn] = [e.data for e in events]
    params = {
        "members": [c.member_id for c in check_ins],
        "gyms": [c.gym_id for c in check_ins],
        "times": [c.checked_in_at for c in check_ins],
        "classes": [c.group_class is not None for c in check_ins],
    }
    await uow.session.execute(
        text(
            "INSERT INTO check_ins (member_id, checked_in_at, group_class) "
            "SELECT * FROM unnest(CAST(:members AS uuid[]), CAST(:times AS timestamptz[]), "
            "CAST(:classes AS boolean[])) ON CONFLICT DO NOTHING"
        ),
        params,
    )
    await uow.session.execute(
        text(
            "INSERT INTO gym_feeds (gym_id, first_check_in_at) "
            "SELECT gym_id, min(at) FROM unnest(CAST(:gyms AS uuid[]), "
            "CAST(:times AS timestamptz[])) AS i(gym_id, at) GROUP BY gym_id ORDER BY gym_id "
            "ON CONFLICT (gym_id) DO UPDATE SET first_check_in_at = "
            "least(gym_feeds.first_check_in_at, excluded.first_check_in_at) "
            "WHERE excluded.first_check_in_at < gym_feeds.first_check_in_at"
        ),
        params,
    )
    await resolve_on_check_ins(uow, params["members"], params["times"])


@handlers.on_batch(SummaryCreated, name="project_summary_created")
async def project_summary_created(events: list[Envelope[Any]], uow: UnitOfWork) -> None:
    # A conversation with no known member says nothing about anyone's churn risk.
    rows = [(e, e.data) for e in events if e.data.member_id is not None]
    if not rows:
        return
    kinds = [[signal.kind for signal in s.churn_signals] for _, s in rows]
    await uow.session.execute(
        text(
            "INSERT INTO conversations (session_id, member_id, gym_id, ended_at, "
            "sentiment_score, negative, intent_to_cancel, complaints, topics) "
            "SELECT s, m, g, e, sc, n, i, c, CAST(t AS jsonb) FROM unnest("
            "CAST(:sessions AS uuid[]), CAST(:members AS uuid[]), CAST(:gyms AS uuid[]), "
            "CAST(:ended AS timestamptz[]), CAST(:scores AS float8[]), "
            "CAST(:negative AS boolean[]), CAST(:intent AS smallint[]), "
            "CAST(:complaints AS smallint[]), CAST(:topics AS text[])) "
            "AS u(s, m, g, e, sc, n, i, c, t) ON CONFLICT DO NOTHING"
        ),
        {
            "sessions": [s.session_id for _, s in rows],
            "members": [s.member_id for _, s in rows],
            "gyms": [s.gym_id for _, s in rows],
            # When the conversation happened; the envelope's time is when it was summarised.
            "ended": [s.session_ended_at or e.time for e, s in rows],
            "scores": [s.sentiment_score for _, s in rows],
            "negative": [s.sentiment_label == "negative" for _, s in rows],
            "intent": [k.count("intent_to_cancel") for k in kinds],
            "complaints": [k.count("complaint") + k.count("price_concern") for k in kinds],
            "topics": [_json_list(s.topics) for _, s in rows],
        },
    )


def _json_list(items: tuple[str, ...]) -> str:
    import json

    return json.dumps(list(items))
