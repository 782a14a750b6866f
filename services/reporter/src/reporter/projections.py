"""The report projections, from other services' events, so a report never queries them.

Every handler is set-based (one call per consumed batch) and converges whatever the order or the
number of deliveries: facts are keyed by their natural id (session, member and instant, alert)
and inserted once; a gym or a member is replaced only by a newer `updated_at`; an alert's raised
and resolved halves fill their own columns, whichever arrives first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from sqlalchemy import text

from jarvis_common.db import UnitOfWork
from jarvis_common.errors import PermanentError
from jarvis_common.events import Envelope
from jarvis_common.events.catalogue import (
    ChurnAlertRaised,
    ChurnAlertResolved,
    GymUpserted,
    MemberCheckedIn,
    MemberUpserted,
    SessionClosed,
    SummaryCreated,
)
from jarvis_common.messaging.handlers import EventHandlers

handlers = EventHandlers()

Column = tuple[str, str, Callable[[Any], Any]]
# A column of kind TEXTS gets a list of strings: arrays of arrays do not unnest row by row, so
# each list travels as JSON text and is turned back into an array in SQL.
TEXTS = "text[]"


async def _insert(
    uow: UnitOfWork, table: str, columns: Sequence[Column], rows: Sequence[Any], conflict: str
) -> None:
    names = ", ".join(name for name, _, _ in columns)
    arrays = ", ".join(
        f"CAST(:{name} AS {'jsonb' if kind == TEXTS else kind}[])" for name, kind, _ in columns
    )
    values = ", ".join(
        f"ARRAY(SELECT jsonb_array_elements_text({name}))" if kind == TEXTS else name
        for name, kind, _ in columns
    )
    await uow.session.execute(
        text(
            f"INSERT INTO {table} ({names}) SELECT {values} "
            f"FROM unnest({arrays}) AS x({names}) {conflict}"
        ),
        {
            name: [_json(get(row)) if kind == TEXTS else get(row) for row in rows]
            for name, kind, get in columns
        },
    )


def _replace_if_newer(table: str, columns: Sequence[Column]) -> str:
    """The conflict clause of a projection keyed by its first column and versioned by
    `updated_at`: a redelivered or late event never overwrites a newer state."""
    updates = ", ".join(f"{name} = excluded.{name}" for name, _, _ in columns[1:])
    return (
        f"ON CONFLICT ({columns[0][0]}) DO UPDATE SET {updates} "
        f"WHERE excluded.updated_at > {table}.updated_at"
    )


def _newest(items: list[Any], key: Callable[[Any], Any], version: Callable[[Any], Any]) -> list:
    # ON CONFLICT DO UPDATE may not touch a row twice in one statement: keep one per key.
    best: dict[Any, Any] = {}
    for item in items:
        current = best.get(key(item))
        if current is None or version(item) > version(current):
            best[key(item)] = item
    return list(best.values())


def _attr(name: str) -> Callable[[Any], Any]:
    return lambda item: getattr(item, name)


@handlers.on_batch(GymUpserted, name="project_gym_upserted")
async def project_gym_upserted(events: list[Envelope[Any]], uow: UnitOfWork) -> None:
    gyms = _newest([e.data for e in events], _attr("gym_id"), _attr("updated_at"))
    for gym in gyms:
        # An unknown zone would break every weekly run (weeks are cut in SQL with it): refuse
        # the event (the batch is replayed one by one, so only this one goes to the DLQ).
        if gym.timezone not in _zones():
            raise PermanentError(f"gym {gym.gym_id}: unknown time zone {gym.timezone!r}")
    columns: list[Column] = [
        ("gym_id", "uuid", _attr("gym_id")),
        ("franchise_id", "uuid", _attr("franchise_id")),
        ("franchise_name", "text", _attr("franchise_name")),
        ("name", "text", _attr("name")),
        ("timezone", "text", _attr("timezone")),
        ("language", "text", _attr("language")),
        ("manager_emails", TEXTS, _attr("manager_emails")),
        ("franchise_owner_emails", TEXTS, _attr("franchise_owner_emails")),
        ("updated_at", "timestamptz", _attr("updated_at")),
    ]
    await _insert(uow, "gyms", columns, gyms, _replace_if_newer("gyms", columns))


@handlers.on_batch(MemberUpserted, name="project_member_upserted")
async def project_member_upserted(events: list[Envelope[Any]], uow: UnitOfWork) -> None:
    members = _newest([e.data for e in events], _attr("member_id"), _attr("updated_at"))
    columns: list[Column] = [
        ("member_id", "uuid", _attr("member_id")),
        ("gym_id", "uuid", _attr("gym_id")),
        ("first_name", "text", _attr("first_name")),
        ("status", "text", _attr("status")),
        ("joined_at", "date", _attr("joined_at")),
        ("cancelled_at", "date", _attr("cancelled_at")),
        ("updated_at", "timestamptz", _attr("updated_at")),
    ]
    await _insert(uow, "members", columns, members, _replace_if_newer("members", columns))


@handlers.on_batch(MemberCheckedIn, name="project_member_checked_in", record_processed=False)
async def project_member_checked_in(events: list[Envelope[Any]], uow: UnitOfWork) -> None:
    # Idempotent by its key, so the inbox need not remember millions of check-in ids.
    columns: list[Column] = [
        ("member_id", "uuid", _attr("member_id")),
        ("checked_in_at", "timestamptz", _attr("checked_in_at")),
        ("gym_id", "uuid", _attr("gym_id")),
    ]
    await _insert(uow, "check_ins", columns, [e.data for e in events], "ON CONFLICT DO NOTHING")


@handlers.on_batch(SessionClosed, name="project_session_closed")
async def project_session_closed(events: list[Envelope[Any]], uow: UnitOfWork) -> None:
    columns: list[Column] = [
        ("session_id", "uuid", _attr("session_id")),
        ("gym_id", "uuid", _attr("gym_id")),
        ("member_id", "uuid", _attr("member_id")),
        ("started_at", "timestamptz", _attr("started_at")),
        ("ended_at", "timestamptz", _attr("ended_at")),
        ("cost_usd", "numeric", _attr("cost_usd")),
    ]
    await _insert(uow, "sessions", columns, [e.data for e in events], "ON CONFLICT DO NOTHING")


@handlers.on_batch(SummaryCreated, name="project_summary_created")
async def project_summary_created(events: list[Envelope[Any]], uow: UnitOfWork) -> None:
    columns: list[Column] = [
        ("session_id", "uuid", lambda e: e.data.session_id),
        ("gym_id", "uuid", lambda e: e.data.gym_id),
        ("member_id", "uuid", lambda e: e.data.member_id),
        # When the conversation happened; the envelope's time is when it was summarised.
        ("ended_at", "timestamptz", lambda e: e.data.session_ended_at or e.time),
        ("sentiment_label", "text", lambda e: e.data.sentiment_label),
        ("sentiment_score", "float8", lambda e: e.data.sentiment_score),
        ("topics", TEXTS, lambda e: e.data.topics),
        ("follow_ups", TEXTS, lambda e: e.data.follow_ups),
        ("cost_usd", "numeric", lambda e: e.data.cost_usd),
    ]
    await _insert(uow, "summaries", columns, events, "ON CONFLICT DO NOTHING")


@handlers.on_batch(ChurnAlertRaised, name="project_churn_alert_raised")
async def project_churn_alert_raised(events: list[Envelope[Any]], uow: UnitOfWork) -> None:
    alerts = _newest([e.data for e in events], _attr("alert_id"), _attr("raised_at"))
    columns: list[Column] = [
        ("alert_id", "uuid", _attr("alert_id")),
        ("gym_id", "uuid", _attr("gym_id")),
        ("member_id", "uuid", _attr("member_id")),
        ("risk", "float8", _attr("risk")),
        ("band", "text", _attr("band")),
        ("raised_at", "timestamptz", _attr("raised_at")),
    ]
    await _insert(
        uow,
        "alerts",
        columns,
        alerts,
        "ON CONFLICT (alert_id) DO UPDATE SET risk = excluded.risk, band = excluded.band, "
        "raised_at = excluded.raised_at",
    )


@handlers.on_batch(ChurnAlertResolved, name="project_churn_alert_resolved")
async def project_churn_alert_resolved(events: list[Envelope[Any]], uow: UnitOfWork) -> None:
    alerts = _newest([e.data for e in events], _attr("alert_id"), _attr("resolved_at"))
    columns: list[Column] = [
        ("alert_id", "uuid", _attr("alert_id")),
        ("gym_id", "uuid", _attr("gym_id")),
        ("member_id", "uuid", _attr("member_id")),
        ("resolved_at", "timestamptz", _attr("resolved_at")),
        ("resolution", "text", _attr("resolution")),
    ]
    await _insert(
        uow,
        "alerts",
        columns,
        alerts,
        "ON CONFLICT (alert_id) DO UPDATE SET resolved_at = excluded.resolved_at, "
        "resolution = excluded.resolution",
    )


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _json(items: Sequence[str]) -> str:
    return json.dumps(list(items))
