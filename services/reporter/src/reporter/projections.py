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


async def _insert(
    uow: UnitOfWork, table: str, columns: Sequence[Column], rows: Sequence[Any], conflict: str
) -> None:
    arrays = ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind, _ in columns)
    names = ", ".join(name for name, _, _ in columns)
    await uow.session.execute(
        text(f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {conflict}"),
        {name: [get(row) for row in rows] for name, _, get in columns},
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
        # Arrays of arrays do not unnest row by row, so the lists travel as JSON text.
        ("manager_emails", "jsonb", lambda g: _json(g.manager_emails)),
        ("franchise_owner_emails", "jsonb", lambda g: _json(g.franchise_owner_emails)),
        ("updated_at", "timestamptz", _attr("updated_at")),
    ]
    arrays = ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind, _ in columns)
    await uow.session.execute(
        text(
            "INSERT INTO gyms (gym_id, franchise_id, franchise_name, name, timezone, language, "
            "manager_emails, franchise_owner_emails, updated_at) "
            "SELECT g, f, fn, n, tz, lang, "
            "ARRAY(SELECT jsonb_array_elements_text(me)), "
            "ARRAY(SELECT jsonb_array_elements_text(fo)), u "
            f"FROM unnest({arrays}) AS x(g, f, fn, n, tz, lang, me, fo, u) "
            "ON CONFLICT (gym_id) DO UPDATE SET franchise_id = excluded.franchise_id, "
            "franchise_name = excluded.franchise_name, name = excluded.name, "
            "timezone = excluded.timezone, language = excluded.language, "
            "manager_emails = excluded.manager_emails, "
            "franchise_owner_emails = excluded.franchise_owner_emails, "
            "updated_at = excluded.updated_at WHERE excluded.updated_at > gyms.updated_at"
        ),
        {name: [get(g) for g in gyms] for name, _, get in columns},
    )


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
    updates = ", ".join(f"{n} = excluded.{n}" for n, _, _ in columns[1:])
    await _insert(
        uow,
        "members",
        columns,
        members,
        f"ON CONFLICT (member_id) DO UPDATE SET {updates} "
        "WHERE excluded.updated_at > members.updated_at",
    )


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
        ("topics", "jsonb", lambda e: _json(e.data.topics)),
        ("follow_ups", "jsonb", lambda e: _json(e.data.follow_ups)),
        ("cost_usd", "numeric", lambda e: e.data.cost_usd),
    ]
    arrays = ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind, _ in columns)
    await uow.session.execute(
        text(
            "INSERT INTO summaries (session_id, gym_id, member_id, ended_at, sentiment_label, "
            "sentiment_score, topics, follow_ups, cost_usd) "
            "SELECT s, g, m, e, l, sc, ARRAY(SELECT jsonb_array_elements_text(t)), "
            "ARRAY(SELECT jsonb_array_elements_text(f)), c "
            f"FROM unnest({arrays}) AS x(s, g, m, e, l, sc, t, f, c) ON CONFLICT DO NOTHING"
        ),
        {name: [get(e) for e in events] for name, _, get in columns},
    )


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
