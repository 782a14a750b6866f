"""Kiosk heartbeats, the one status function, and offline alerts.

## The status function

`kiosk_status()` is the only place that decides a kiosk's status; the heartbeat consumer and the
sweeper both call it, and the SQL they run only pre-selects the rows it must look at.

- revoked (`revoked_at` set) → `offline`, whatever it last reported: its credentials are dead,
  it can no longer reach the platform, and heartbeats for it are ignored. No offline alert is
  raised for it: revoking is deliberate, nothing to repair.
- not provisioned (`provisioned_at` null) → `provisioning`.
- provisioned: its last sign of life is its last heartbeat, or, before the first one, the claim
  itself (`provisioned_at`: the kiosk just talked to us). Older than the *online window*
  (`online_multiple * heartbeat_interval_s + online_buffer_s`) → `offline`. Within it: before the
  first heartbeat → still `provisioning`; afterwards → `error` if the last heartbeat reported
  `error`, otherwise `online`. A `degraded` kiosk is `online`: it still serves members; the
  degradation is visible in its `last_error` and `hardware_info`. The window is what prevents
  flapping: one or two lost heartbeats do not take a kiosk offline.

The registry keeps no separate column for the status the kiosk last reported: while the kiosk is
in its window the stored `error` status *is* that report, and out of the window the report no
longer matters (`reported_status()`).

## Heartbeats (`kiosk.heartbeat`, one batch handler)

Applied with a handful of set-based statements per consumed batch, whatever its size (asyncpg
directly, on the unit of work's connection and inside its transaction: no per-row SQLAlchemy
processing on this path): lock the batch's kiosks (one `SELECT … FOR UPDATE`, in id order, so
two batches cannot deadlock), decide in Python with the status function, write every accepted
heartbeat with one `UPDATE … FROM unnest(…)`, resolve the open offline alerts of kiosks that came
back with one `UPDATE alerts`, and record one `kiosk.status_changed` per kiosk whose status
changed (their franchise is looked up only for those). In the steady state (kiosks staying
online) that is four statements per batch and nothing published.

- The time of a heartbeat is its `received_at`, stamped by the session gateway, not the kiosk's
  own `sent_at`. The online window is compared with the registry's clock; gateway servers are
  NTP-synchronised with it, kiosks in gyms often are not (a kiosk an hour fast would otherwise
  stay "online" for an hour after dying, one an hour slow would never be online). It is also
  clamped to the database's `now()`, so a gateway clock running ahead cannot keep a dead kiosk
  online nor make later heartbeats look old.
- Only the newest heartbeat of each kiosk in a batch counts, and only if it is strictly newer
  than `last_heartbeat`: a late, out-of-order heartbeat (a retried event, a replay) moves nothing
  back and does not overwrite `hardware_info` / `last_error` with older facts. The same event
  twice is deduplicated by the inbox; two events with the same time are one heartbeat. The
  handler is idempotent on its own (a heartbeat already applied is never strictly newer), so it
  would stay correct if the inbox stopped recording heartbeat ids (see the benchmark).
- `hardware_info` is merged (`||`, top-level keys replaced), so a heartbeat that sends only what
  changed keeps what the claim recorded; `last_error` is replaced (a healthy heartbeat clears it).
- Heartbeats for unknown or revoked kiosks are ignored: counted
  (`…_kiosk_heartbeats_total{outcome}`) and logged once per batch, never an error, so they never
  send a batch to the retry topic or the DLQ.
- A heartbeat that brings the kiosk back (its new status is not `offline`) resolves its open
  `kiosk_offline` alert and clears `offline_alerted_at`. A heartbeat that is newer but already
  outside the window (consumer lag after an outage) moves `last_heartbeat` but leaves the kiosk
  offline and its alert open.

## The sweeper (`watch_kiosk_status`, a background task of every replica)

Every `status_sweep_interval_s`: (1) kiosks whose window expired (or that were revoked) are set
`offline` and a `kiosk.status_changed` is published for each; (2) kiosks offline for longer than
`offline_alert_after_s` (counted from the moment they went offline: last sign of life + window)
that have not been alerted get exactly one `kiosk_offline` alert and `offline_alerted_at`.

Several replicas run it at once. Each step takes its rows with `FOR UPDATE SKIP LOCKED`, so two
sweepers never work on the same kiosk at the same time, and a row committed by the other one is
re-checked under the lock (`offline_alerted_at IS NULL`, `status <> 'offline'`) and dropped. The
unique partial index `uq_alerts_open_kiosk_offline` is the last line: the insert is `ON CONFLICT
DO NOTHING`, so even a sweeper that bypassed the lock could not open a second alert. The
heartbeat consumer locks its kiosks with a plain `FOR UPDATE`; the sweeper skips those and sees
them on its next round. Database errors are logged and the loop carries on.

Status changes are not written to the audit log: they are not a person's change, and a fleet
of thousands of kiosks would flood it. `kiosk.status_changed` is their record.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from prometheus_client import Counter
from pydantic_core import to_json
from sqlalchemy import text

from jarvis_common.db import UnitOfWork
from jarvis_common.events import Envelope
from jarvis_common.events.catalogue import KioskHeartbeatReceived, KioskStatusChanged
from jarvis_common.messaging.handlers import EventHandlers
from kiosk_registry.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from jarvis_common.service import ServiceApp

log = logging.getLogger(__name__)

handlers = EventHandlers()

KioskStatus = Literal["provisioning", "online", "offline", "error"]
Reported = Literal["ok", "degraded", "error"]

# How many kiosks one sweeper transaction takes at most; a round repeats until fewer are left.
SWEEP_BATCH = 1000
MAX_ERROR_CHARS = 2000


# --- the one status function ------------------------------------------------------------------


@dataclass(frozen=True)
class StatusRules:
    heartbeat_interval_s: float
    online_multiple: float
    online_buffer_s: float
    offline_alert_after_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> StatusRules:
        return cls(
            heartbeat_interval_s=settings.heartbeat_interval_s,
            online_multiple=settings.online_multiple,
            online_buffer_s=settings.online_buffer_s,
            offline_alert_after_s=settings.offline_alert_after_s,
        )

    @cached_property
    def online_window(self) -> timedelta:
        """A kiosk is online while its last heartbeat is at most this old."""
        return timedelta(
            seconds=self.online_multiple * self.heartbeat_interval_s + self.online_buffer_s
        )

    @property
    def alert_after(self) -> timedelta:
        return timedelta(seconds=self.offline_alert_after_s)


def kiosk_status(
    *,
    now: datetime,
    provisioned_at: datetime | None,
    revoked_at: datetime | None,
    last_heartbeat: datetime | None,
    reported: Reported | None,
    rules: StatusRules,
) -> KioskStatus:
    """The status of a kiosk at `now`; the rules are in this module's docstring."""
    if revoked_at is not None:
        return "offline"
    if provisioned_at is None:
        return "provisioning"
    last_seen = last_heartbeat if last_heartbeat is not None else provisioned_at
    if now - last_seen > rules.online_window:
        return "offline"
    if last_heartbeat is None:
        return "provisioning"
    return "error" if reported == "error" else "online"


def offline_since(
    provisioned_at: datetime | None, last_heartbeat: datetime | None, rules: StatusRules
) -> datetime | None:
    """When a provisioned kiosk went (or will go) offline: last sign of life + the window."""
    last_seen = last_heartbeat if last_heartbeat is not None else provisioned_at
    return None if last_seen is None else last_seen + rules.online_window


def offline_alert_due(
    *,
    now: datetime,
    provisioned_at: datetime | None,
    revoked_at: datetime | None,
    last_heartbeat: datetime | None,
    offline_alerted_at: datetime | None,
    rules: StatusRules,
) -> bool:
    """A provisioned, unrevoked kiosk offline for longer than the debounce, not yet alerted."""
    if revoked_at is not None or provisioned_at is None or offline_alerted_at is not None:
        return False
    since = offline_since(provisioned_at, last_heartbeat, rules)
    return since is not None and now - since > rules.alert_after


def reported_status(stored_status: str) -> Reported:
    """What the kiosk last reported, as far as it still matters (see the module docstring)."""
    return "error" if stored_status == "error" else "ok"


# --- per-app context: the rules and the metrics ------------------------------------------------


@dataclass
class FleetMetrics:
    heartbeats: Counter
    status_changes: Counter
    alerts: Counter
    sweep_failures: Counter

    @classmethod
    def register(cls, app: ServiceApp) -> FleetMetrics:
        p, r = app.metrics.prefix, app.metrics.registry
        return cls(
            heartbeats=Counter(
                f"{p}_kiosk_heartbeats_total",
                "Kiosk heartbeats consumed, by outcome (applied, late, superseded, "
                "unknown_kiosk, revoked_kiosk).",
                ["outcome"],
                registry=r,
            ),
            status_changes=Counter(
                f"{p}_kiosk_status_changes_total",
                "kiosk.status_changed published, by new status and by whom (heartbeat, sweeper).",
                ["status", "by"],
                registry=r,
            ),
            alerts=Counter(
                f"{p}_kiosk_offline_alerts_total",
                "Kiosk offline alerts, by action (raised, resolved).",
                ["action"],
                registry=r,
            ),
            sweep_failures=Counter(
                f"{p}_kiosk_status_sweep_failures_total",
                "Status sweeps that failed (database unreachable...); the next one retries.",
                registry=r,
            ),
        )


@dataclass
class FleetContext:
    rules: StatusRules
    metrics: FleetMetrics | None = None
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str, n: int = 1) -> None:
        if not n:
            return
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + n
        if self.metrics is not None:
            self.metrics.heartbeats.labels(outcome).inc(n)


# Handlers receive only (events, uow): the context is found through the app's engine, which the
# unit of work's session is bound to. `configure(app)` registers it; the sweeper does so before
# anything else, synchronously, as soon as the app starts.
_contexts: weakref.WeakKeyDictionary[AsyncEngine, FleetContext] = weakref.WeakKeyDictionary()
_fallback: FleetContext | None = None


def configure(app: ServiceApp) -> FleetContext:
    """Register the registry's status rules and fleet metrics for `app` (idempotent)."""
    context = _contexts.get(app.db.engine)
    if context is None:
        settings: Settings = app.http.state.registry.settings
        context = FleetContext(StatusRules.from_settings(settings), FleetMetrics.register(app))
        _contexts[app.db.engine] = context
    return context


def context_for(uow: UnitOfWork) -> FleetContext:
    global _fallback
    context = _contexts.get(uow.session.bind)  # type: ignore[arg-type]
    if context is not None:
        return context
    if _fallback is None:
        # Only reachable if a handler runs before the app's sweeper started; in production the
        # registry's settings come from this same environment, so the rules are the same.
        log.warning("fleet status not configured for this app: using the environment's settings")
        _fallback = FleetContext(StatusRules.from_settings(Settings()))
    return _fallback


# --- heartbeats ---------------------------------------------------------------------------------

# The heartbeat path runs for every heartbeat of the fleet (20,000/s is 600,000 kiosks at a 30 s
# interval), so it talks to asyncpg directly, on the unit of work's own connection and inside its
# transaction: no per-row SQLAlchemy result processing. Every statement is one per batch.

_LOCK_KIOSKS = """
    SELECT id, gym_id, status, provisioned_at, revoked_at, last_heartbeat, offline_alerted_at
    FROM kiosks
    WHERE id = ANY($1::uuid[])
    ORDER BY id
    FOR UPDATE
"""

_APPLY_HEARTBEATS = """
    UPDATE kiosks AS k SET
        last_heartbeat = u.at,
        hardware_info = CASE WHEN u.hardware_info = '{}' THEN k.hardware_info
                             ELSE k.hardware_info || CAST(u.hardware_info AS jsonb) END,
        last_error = u.last_error,
        status = u.status,
        offline_alerted_at = CASE WHEN u.back THEN NULL ELSE k.offline_alerted_at END
    FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::boolean[])
         AS u(id, at, hardware_info, last_error, status, back)
    WHERE k.id = u.id
"""

_RESOLVE_ALERTS = """
    UPDATE alerts SET
        status = 'resolved',
        resolved_at = clock_timestamp(),
        details = details || jsonb_build_object('resolved_by', 'heartbeat')
    WHERE kind = 'kiosk_offline' AND status = 'open' AND kiosk_id = ANY($1::uuid[])
"""

_FRANCHISES = "SELECT id, franchise_id FROM gyms WHERE id = ANY($1::uuid[])"


@dataclass(frozen=True)
class _Change:
    row: Any
    status: KioskStatus
    last_heartbeat: datetime | None


# Applying a heartbeat twice changes nothing (last_heartbeat only moves forward), so their
# ids are not recorded in processed_events: at fleet scale that would be billions of rows a day.
@handlers.on_batch(KioskHeartbeatReceived, name="apply_kiosk_heartbeats", record_processed=False)
async def apply_heartbeats(events: list[Envelope[Any]], uow: UnitOfWork) -> None:
    context = context_for(uow)
    newest: dict[uuid.UUID, KioskHeartbeatReceived] = {}
    for event in events:
        beat: KioskHeartbeatReceived = event.data
        seen = newest.get(beat.kiosk_id)
        if seen is None or beat.received_at >= seen.received_at:
            newest[beat.kiosk_id] = beat
    context.count("superseded", len(events) - len(newest))

    db = await uow.driver_connection()
    # Locked in id order (no deadlock with another batch); the sweeper skips locked kiosks.
    rows = {row["id"]: row for row in await db.fetch(_LOCK_KIOSKS, list(newest))}
    # The registry's clock (the database's, shared by every replica), read once the rows are ours.
    now: datetime = await db.fetchval("SELECT clock_timestamp()")
    ids: list[uuid.UUID] = []
    ats: list[datetime] = []
    hardware: list[str] = []
    errors: list[str | None] = []
    statuses: list[str] = []
    back: list[bool] = []
    resolved: list[uuid.UUID] = []
    changes: list[_Change] = []
    unknown = revoked = late = 0
    rules = context.rules
    for kiosk_id, beat in newest.items():
        row = rows.get(kiosk_id)
        if row is None:
            unknown += 1
            continue
        if row["revoked_at"] is not None:
            revoked += 1
            continue
        at = min(beat.received_at, now)
        last = row["last_heartbeat"]
        if last is not None and at <= last:
            late += 1
            continue
        status = kiosk_status(
            now=now,
            provisioned_at=row["provisioned_at"],
            revoked_at=None,
            last_heartbeat=at,
            reported=beat.status,
            rules=rules,
        )
        came_back = status != "offline" and row["offline_alerted_at"] is not None
        ids.append(kiosk_id)
        ats.append(at)
        hardware.append(_json(beat.hardware_info))
        errors.append(_clean_text(beat.last_error))
        statuses.append(status)
        back.append(came_back)
        if came_back:
            resolved.append(kiosk_id)
        if status != row["status"]:
            changes.append(_Change(row, status, at))
    if ids:
        await db.execute(_APPLY_HEARTBEATS, ids, ats, hardware, errors, statuses, back)
    if resolved:
        await db.execute(_RESOLVE_ALERTS, resolved)
        if context.metrics is not None:
            context.metrics.alerts.labels("resolved").inc(len(resolved))
    if changes:
        gym_ids = list({change.row["gym_id"] for change in changes})
        franchise_of = dict(list(await db.fetch(_FRANCHISES, gym_ids)))
        for change in changes:
            _publish_change(
                uow,
                context,
                kiosk_id=change.row["id"],
                gym_id=change.row["gym_id"],
                franchise_id=franchise_of.get(change.row["gym_id"]),
                previous=change.row["status"],
                status=change.status,
                now=now,
                last_heartbeat=change.last_heartbeat,
                by="heartbeat",
            )
    context.count("applied", len(ids))
    context.count("late", late)
    context.count("unknown_kiosk", unknown)
    context.count("revoked_kiosk", revoked)
    if unknown or revoked:
        log.warning(
            "ignored heartbeats of %d unknown and %d revoked kiosk(s) in a batch of %d",
            unknown,
            revoked,
            len(events),
        )


def _publish_change(
    uow: UnitOfWork,
    context: FleetContext,
    *,
    kiosk_id: uuid.UUID,
    gym_id: uuid.UUID,
    franchise_id: uuid.UUID | None,
    previous: str,
    status: KioskStatus,
    now: datetime,
    last_heartbeat: datetime | None,
    by: str,
) -> None:
    uow.publish(
        KioskStatusChanged(
            kiosk_id=kiosk_id,
            gym_id=gym_id,
            status=status,
            previous_status=previous,  # type: ignore[arg-type]
            changed_at=now,
            last_heartbeat=last_heartbeat,
        ),
        gym_id=gym_id,
        franchise_id=franchise_id,
    )
    if context.metrics is not None:
        context.metrics.status_changes.labels(status, by).inc()


def _json(value: dict[str, Any]) -> str:
    if not value:
        return "{}"
    raw = to_json(value).decode()
    # PostgreSQL's jsonb refuses \u0000; one odd value must not fail the whole batch.
    return raw.replace("\\u0000", "") if "\\u0000" in raw else raw


def _clean_text(value: str | None) -> str | None:
    if value is None:
        return None
    return value.replace("\x00", "")[:MAX_ERROR_CHARS]


# --- the sweeper --------------------------------------------------------------------------------

_EXPIRED = text(
    """
    SELECT k.id, k.gym_id, g.franchise_id, k.status, k.provisioned_at, k.revoked_at,
           k.last_heartbeat, clock_timestamp() AS now
    FROM kiosks k JOIN gyms g ON g.id = k.gym_id
    WHERE k.status <> 'offline'
      AND (k.revoked_at IS NOT NULL
           OR (k.provisioned_at IS NOT NULL
               AND coalesce(k.last_heartbeat, k.provisioned_at)
                   < clock_timestamp() - make_interval(secs => :window_s)))
    ORDER BY k.id
    LIMIT :limit
    FOR UPDATE OF k SKIP LOCKED
    """
)

_SET_STATUS = text(
    """
    UPDATE kiosks AS k SET status = u.status
    FROM unnest(CAST(:ids AS uuid[]), CAST(:statuses AS text[])) AS u(id, status)
    WHERE k.id = u.id
    """
)

_ALERT_DUE = text(
    """
    SELECT k.id, k.gym_id, k.name, k.slug, k.provisioned_at, k.revoked_at, k.last_heartbeat,
           k.offline_alerted_at, clock_timestamp() AS now
    FROM kiosks k
    WHERE k.status = 'offline'
      AND k.offline_alerted_at IS NULL
      AND k.revoked_at IS NULL
      AND k.provisioned_at IS NOT NULL
      AND coalesce(k.last_heartbeat, k.provisioned_at)
          < clock_timestamp() - make_interval(secs => :after_s)
    ORDER BY k.id
    LIMIT :limit
    FOR UPDATE OF k SKIP LOCKED
    """
)

_RAISE_ALERTS = text(
    """
    INSERT INTO alerts (id, gym_id, kind, kiosk_id, status, title, details)
    SELECT gen_random_uuid(), a.gym_id, 'kiosk_offline', a.kiosk_id, 'open', a.title,
           CAST(a.details AS jsonb)
    FROM unnest(CAST(:gym_ids AS uuid[]), CAST(:kiosk_ids AS uuid[]), CAST(:titles AS text[]),
                CAST(:details AS text[])) AS a(gym_id, kiosk_id, title, details)
    ON CONFLICT (kiosk_id) WHERE kind = 'kiosk_offline' AND status = 'open' DO NOTHING
    RETURNING kiosk_id
    """
)

_MARK_ALERTED = text(
    "UPDATE kiosks SET offline_alerted_at = :now WHERE id = ANY(CAST(:ids AS uuid[]))"
)


@dataclass
class SweepResult:
    offline: int = 0
    alerts_raised: int = 0


async def sweep(app: ServiceApp) -> SweepResult:
    """One round: silent kiosks go offline, long-offline kiosks get their one alert.

    Each step works in transactions of at most `SWEEP_BATCH` kiosks and repeats while it finds a
    full batch to act on. The SQL selects exactly the rows the status function will act on (it
    is re-checked in Python, which has the last word), so a step cannot spin on the same rows.
    """
    context = configure(app)
    result = SweepResult()
    while True:
        n, changed = await _sweep_expired(app, context)
        result.offline += changed
        if n < SWEEP_BATCH or changed < n:
            break
    while True:
        n, alerted, raised = await _sweep_alerts(app, context)
        result.alerts_raised += raised
        if n < SWEEP_BATCH or alerted < n:
            break
    return result


async def _sweep_expired(app: ServiceApp, context: FleetContext) -> tuple[int, int]:
    rules = context.rules
    async with app.db.unit_of_work() as uow:
        rows = list(
            await uow.session.execute(
                _EXPIRED,
                {"window_s": rules.online_window.total_seconds(), "limit": SWEEP_BATCH},
            )
        )
        ids: list[uuid.UUID] = []
        statuses: list[str] = []
        for row in rows:
            status = kiosk_status(
                now=row.now,
                provisioned_at=row.provisioned_at,
                revoked_at=row.revoked_at,
                last_heartbeat=row.last_heartbeat,
                reported=reported_status(row.status),
                rules=rules,
            )
            if status == row.status:
                continue
            ids.append(row.id)
            statuses.append(status)
            _publish_change(
                uow,
                context,
                kiosk_id=row.id,
                gym_id=row.gym_id,
                franchise_id=row.franchise_id,
                previous=row.status,
                status=status,
                now=row.now,
                last_heartbeat=row.last_heartbeat,
                by="sweeper",
            )
        if ids:
            await uow.session.execute(_SET_STATUS, {"ids": ids, "statuses": statuses})
    return len(rows), len(ids)


async def _sweep_alerts(app: ServiceApp, context: FleetContext) -> tuple[int, int, int]:
    """Returns (rows looked at, kiosks marked alerted, alerts actually inserted)."""
    rules = context.rules
    after_s = (rules.online_window + rules.alert_after).total_seconds()
    async with app.db.unit_of_work() as uow:
        rows = list(
            await uow.session.execute(_ALERT_DUE, {"after_s": after_s, "limit": SWEEP_BATCH})
        )
        due = [
            row
            for row in rows
            if offline_alert_due(
                now=row.now,
                provisioned_at=row.provisioned_at,
                revoked_at=row.revoked_at,
                last_heartbeat=row.last_heartbeat,
                offline_alerted_at=row.offline_alerted_at,
                rules=rules,
            )
        ]
        if not due:
            return len(rows), 0, 0
        now = due[0].now
        details = []
        for row in due:
            since = offline_since(row.provisioned_at, row.last_heartbeat, rules) or row.now
            details.append(
                json.dumps(
                    {
                        "kiosk_id": str(row.id),
                        "slug": row.slug,
                        "name": row.name,
                        "last_heartbeat": _iso(row.last_heartbeat),
                        "offline_since": _iso(since),
                        "offline_for_s": round((row.now - since).total_seconds()),
                        "alert_after_s": rules.offline_alert_after_s,
                    }
                )
            )
        raised = await uow.session.execute(
            _RAISE_ALERTS,
            {
                "gym_ids": [row.gym_id for row in due],
                "kiosk_ids": [row.id for row in due],
                "titles": [f"Kiosk {row.name} is offline" for row in due],
                "details": details,
            },
        )
        n_raised = len(list(raised))
        # Also when the insert met an alert already open: that alert stands for this outage.
        await uow.session.execute(_MARK_ALERTED, {"ids": [row.id for row in due], "now": now})
    if n_raised:
        log.warning(
            "%d kiosk(s) offline for more than %ss: alerts raised",
            n_raised,
            rules.offline_alert_after_s,
        )
        if context.metrics is not None:
            context.metrics.alerts.labels("raised").inc(n_raised)
    return len(rows), len(due), n_raised


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def watch_kiosk_status(app: ServiceApp) -> None:
    """Background task: sweep every `status_sweep_interval_s` until cancelled."""
    context = configure(app)  # before the first await: handlers find the rules from the start
    settings: Settings = app.http.state.registry.settings
    interval = settings.status_sweep_interval_s
    log.info(
        "kiosk status sweeper: online window %ss, offline alert after %ss, every %ss",
        context.rules.online_window.total_seconds(),
        context.rules.offline_alert_after_s,
        interval,
    )
    while True:
        try:
            await sweep(app)
        except asyncio.CancelledError:
            raise
        except Exception:
            if context.metrics is not None:
                context.metrics.sweep_failures.inc()
            log.warning("kiosk status sweep failed; retrying next round", exc_info=True)
        await asyncio.sleep(interval)
