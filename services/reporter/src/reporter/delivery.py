"""Sending a report to its recipients, each delivery recorded once per (report, recipient).

The delivery row exists before anything is sent (it is written with the report), the message
goes to the SMTP server, and only then is the row marked `sent`, in a transaction of its own
right after the server accepted it. The one window where a message can go twice is a crash
between the server's acceptance and that commit: the delivery is then still `pending` and is
sent again, with the same Message-ID. Without an SMTP host, deliveries are marked `skipped`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text

from jarvis_common.db import Database
from reporter.mailer import Mailer
from reporter.metrics import ReporterMetrics
from reporter.render.pool import Renderer
from reporter.reports import pending_deliveries

log = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """Some recipients could not be reached; their deliveries stay pending for a retry."""


async def deliver_report(
    db: Database,
    mailer: Mailer,
    renderer: Renderer,
    report_id: uuid.UUID,
    metrics: ReporterMetrics,
    prepared: tuple[dict[str, Any], list[tuple[str, str]]] | None = None,
    on_all_sent: Callable[[Any], Awaitable[None]] | None = None,
) -> dict[str, int]:
    """Send the report's pending deliveries. `prepared` (content, pending deliveries), when the
    caller has just generated the report, saves reading them back. `on_all_sent(uow)` runs in
    the transaction that marks the last delivery sent, when every one of them was sent (the
    worker closes its job there: one transaction per report less); the outcome then has
    `closed` = 1."""
    if prepared is None:
        async with db.unit_of_work() as uow:
            pending = await pending_deliveries(uow, report_id)
            content = await _content(uow, report_id) if pending else {}
    else:
        content, pending = prepared
    if not pending:
        return {}
    if not mailer.configured:
        async with db.unit_of_work() as uow:
            await uow.session.execute(
                text(
                    "UPDATE deliveries SET status = 'skipped', last_error = 'no SMTP host "
                    "configured' WHERE report_id = :id AND status = 'pending'"
                ),
                {"id": report_id},
            )
        metrics.deliveries.labels("skipped").inc(len(pending))
        log.warning(
            "report %s: no SMTP host configured (JARVIS_REPORTER_SMTP_HOST); %d deliveries "
            "recorded as skipped",
            report_id,
            len(pending),
        )
        return {"skipped": len(pending)}
    with metrics.render_seconds.time():
        messages = await renderer.messages(
            str(report_id), content, mailer.settings.smtp_from, pending
        )
    outcome = {"sent": 0, "failed": 0}
    last = len(pending) - 1
    for i, ((recipient, _), message) in enumerate(zip(pending, messages, strict=True)):
        try:
            await mailer.send(message, recipient)
        except Exception as exc:  # any SMTP or network failure: retried with the job
            outcome["failed"] += 1
            metrics.deliveries.labels("failed").inc()
            await _mark(db, report_id, recipient, error=repr(exc)[:500])
            log.warning("report %s to %s failed: %r", report_id, recipient, exc)
            continue
        close = on_all_sent if i == last and not outcome["failed"] else None
        await _mark(db, report_id, recipient, error=None, then=close)
        metrics.deliveries.labels("sent").inc()
        outcome["sent"] += 1
        if close is not None:
            outcome["closed"] = 1
    if outcome["failed"]:
        raise DeliveryFailed(f"{outcome['failed']} of {len(pending)} deliveries failed")
    return outcome


async def _content(uow: Any, report_id: uuid.UUID) -> dict[str, Any]:
    return await uow.session.scalar(
        text("SELECT content FROM reports WHERE report_id = :id"), {"id": report_id}
    )


async def _mark(
    db: Database,
    report_id: uuid.UUID,
    recipient: str,
    *,
    error: str | None,
    then: Callable[[Any], Awaitable[None]] | None = None,
) -> None:
    async with db.unit_of_work() as uow:
        if error is None:
            sql = "UPDATE deliveries SET status = 'sent', sent_at = now(), attempts = attempts + 1"
        else:
            sql = "UPDATE deliveries SET attempts = attempts + 1, last_error = :error"
        await uow.session.execute(
            text(f"{sql} WHERE report_id = :id AND recipient = :r AND status = 'pending'"),
            {"id": report_id, "r": recipient, **({"error": error} if error else {})},
        )
        if then is not None:
            await then(uow)
