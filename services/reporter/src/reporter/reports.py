"""Generating a report: compute its content, store it, record who it goes to, announce it.

The content of (scope, subject, week) is recomputed from the projections each time; stored once
per week under a deterministic id. Generating again replaces the content only if it changed
(the revision goes up and `report.generated` is published again) and never adds a delivery for
a recipient who already has one, so nothing is sent twice.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text

from jarvis_common.db import UnitOfWork
from jarvis_common.errors import NotFound
from jarvis_common.events.catalogue import ReportGenerated
from reporter.content import franchise_content, gym_content, headline
from reporter.queries import read_gym_week
from reporter.settings import Settings
from reporter.weeks import Week

_NAMESPACE = uuid.UUID("0f6b6f1e-6a55-4a8e-9a43-5e2f1c9b7a10")


class NotReady(Exception):
    """A franchise roll-up waits for its gyms' reports of the week."""


@dataclass(frozen=True)
class Generated:
    report_id: uuid.UUID
    revision: int
    changed: bool  # new, or different from what was stored
    content: dict[str, Any]
    pending: list[tuple[str, str]]  # (recipient, Message-ID) not yet sent


def report_id(scope: str, subject_id: uuid.UUID, week_start: date) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"{scope}:{subject_id}:{week_start.isoformat()}")


def message_id(report: uuid.UUID, recipient: str) -> str:
    # Stable per (report, recipient): a resend after a crash carries the same Message-ID, so
    # mail systems that de-duplicate on it show it once.
    digest = hashlib.sha256(recipient.lower().encode()).hexdigest()[:16]
    return f"<{report}.{digest}@reporter.jarvis>"


async def load_gym(uow: UnitOfWork, gym_id: uuid.UUID) -> dict[str, Any]:
    gym = (
        (await uow.session.execute(text("SELECT * FROM gyms WHERE gym_id = :g"), {"g": gym_id}))
        .mappings()
        .one_or_none()
    )
    if gym is None:
        raise NotFound(f"gym {gym_id} is not known to the reporter (no gym.upserted yet)")
    return dict(gym)


async def generate_gym_report(
    uow: UnitOfWork,
    gym_id: uuid.UUID,
    week_start: date,
    settings: Settings,
    *,
    gym: dict[str, Any] | None = None,
) -> Generated:
    """`gym`: the gym's row, when the caller has just loaded it in this transaction."""
    if gym is None:
        gym = await load_gym(uow, gym_id)
    week = Week(week_start, gym["timezone"])
    data = await read_gym_week(await uow.driver_connection(), gym_id, week, settings.list_limit)
    content = gym_content(gym, week, data)
    recipients = list(gym["manager_emails"])
    if settings.gym_reports_to_franchise_owners:
        recipients += gym["franchise_owner_emails"]
    return await _store(
        uow,
        scope="gym",
        subject_id=gym_id,
        gym_id=gym_id,
        franchise_id=gym["franchise_id"],
        week=week,
        content=content,
        recipients=recipients,
    )


async def generate_franchise_report(
    uow: UnitOfWork, franchise_id: uuid.UUID, week_start: date, settings: Settings
) -> Generated:
    pending = await uow.session.scalar(
        text(
            "SELECT count(*) FROM report_jobs j JOIN gyms g ON g.gym_id = j.subject_id "
            "WHERE j.scope = 'gym' AND j.week_start = :w AND g.franchise_id = :f "
            "AND j.status NOT IN ('done', 'failed')"
        ),
        {"w": week_start, "f": franchise_id},
    )
    if pending:
        raise NotReady(f"{pending} gym reports of franchise {franchise_id} are not done yet")
    gyms = (
        (
            await uow.session.execute(
                text(
                    "SELECT g.name, g.language, g.franchise_name, g.franchise_owner_emails, "
                    "g.timezone, r.content FROM gyms g JOIN reports r ON r.scope = 'gym' "
                    "AND r.subject_id = g.gym_id AND r.week_start = :w "
                    "WHERE g.franchise_id = :f ORDER BY g.updated_at DESC, g.gym_id"
                ),
                {"w": week_start, "f": franchise_id},
            )
        )
        .mappings()
        .all()
    )
    if not gyms:
        raise NotFound(f"no gym report of franchise {franchise_id} for the week of {week_start}")
    newest = gyms[0]  # the most recently updated gym says what the franchise is called
    owners = sorted({email for g in gyms for email in g["franchise_owner_emails"]})
    franchise = {
        "id": str(franchise_id),
        "name": newest["franchise_name"],
        "language": newest["language"],
    }
    week = Week(week_start, newest["timezone"])
    content = franchise_content(franchise, week, [g["content"] for g in gyms], settings.list_limit)
    return await _store(
        uow,
        scope="franchise",
        subject_id=franchise_id,
        gym_id=None,
        franchise_id=franchise_id,
        week=week,
        content=content,
        recipients=owners,
    )


async def _store(
    uow: UnitOfWork,
    *,
    scope: str,
    subject_id: uuid.UUID,
    gym_id: uuid.UUID | None,
    franchise_id: uuid.UUID | None,
    week: Week,
    content: dict[str, Any],
    recipients: list[str],
) -> Generated:
    rid = report_id(scope, subject_id, week.start)
    now = datetime.now(UTC)
    row = (
        await uow.session.execute(
            text(
                "INSERT INTO reports (report_id, scope, subject_id, gym_id, franchise_id, "
                "iso_week, week_start, language, content, generated_at, updated_at) "
                "VALUES (:id, :scope, :subject, :gym, :franchise, :iso, :start, :lang, "
                "CAST(:content AS jsonb), :now, :now) "
                "ON CONFLICT (report_id) DO UPDATE SET content = excluded.content, "
                "language = excluded.language, revision = reports.revision + 1, "
                "updated_at = excluded.updated_at "
                "WHERE reports.content IS DISTINCT FROM excluded.content "
                "RETURNING revision"
            ),
            {
                "id": rid,
                "scope": scope,
                "subject": subject_id,
                "gym": gym_id,
                "franchise": franchise_id,
                "iso": week.iso,
                "start": week.start,
                "lang": content["language"],
                "content": json.dumps(content),
                "now": now,
            },
        )
    ).one_or_none()
    unique = sorted({r.strip().lower() for r in recipients if r.strip()})
    if unique:
        await uow.session.execute(
            text(
                "INSERT INTO deliveries (report_id, recipient, message_id) "
                "SELECT :id, r, m FROM unnest(CAST(:recipients AS text[]), "
                "CAST(:ids AS text[])) AS x(r, m) ON CONFLICT DO NOTHING"
            ),
            {"id": rid, "recipients": unique, "ids": [message_id(rid, r) for r in unique]},
        )
    pending = await pending_deliveries(uow, rid)
    if row is None:
        revision = await uow.session.scalar(
            text("SELECT revision FROM reports WHERE report_id = :id"), {"id": rid}
        )
        return Generated(rid, revision, False, content, pending)
    uow.publish(
        ReportGenerated(
            report_id=rid,
            scope=scope,  # type: ignore[arg-type]
            gym_id=gym_id,
            franchise_id=franchise_id,
            iso_week=week.iso,
            week_start=week.start,
            language=content["language"],
            generated_at=now,
            headline=headline(content),
        ),
        gym_id=gym_id,
        franchise_id=franchise_id,
    )
    return Generated(rid, row.revision, True, content, pending)


async def pending_deliveries(uow: UnitOfWork, rid: uuid.UUID) -> list[tuple[str, str]]:
    """(recipient, Message-ID) of every delivery of the report not sent yet."""
    return [
        (r.recipient, r.message_id)
        for r in await uow.session.execute(
            text(
                "SELECT recipient, message_id FROM deliveries "
                "WHERE report_id = :id AND status = 'pending' ORDER BY recipient"
            ),
            {"id": rid},
        )
    ]


async def stored_report(uow: UnitOfWork, rid: uuid.UUID) -> dict[str, Any]:
    row = (
        (
            await uow.session.execute(
                text("SELECT * FROM reports WHERE report_id = :id"), {"id": rid}
            )
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFound(f"report {rid} does not exist")
    return dict(row)
