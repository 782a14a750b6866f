"""reporter test support: the service from its own composition root, a real SMTP server
(aiosmtpd) on loopback that keeps what it receives, and builders for a gym's week of events."""

from __future__ import annotations

import asyncio
import email
import email.policy
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text

from jarvis_common.devrun.kafka import free_port
from jarvis_common.events import EventData, new_event
from jarvis_common.events.catalogue import (
    ChurnAlertRaised,
    ChurnAlertResolved,
    GymUpserted,
    MemberCheckedIn,
    MemberUpserted,
    ScheduleTicked,
    SessionClosed,
    SummaryCreated,
)
from jarvis_common.service import ServiceApp
from jarvis_common.settings import PlatformSettings
from reporter import projections
from reporter.bootstrap import bootstrap
from reporter.settings import Settings
from reporter.worker import ReportWorker

ADMIN = {"authorization": "Bearer test-admin-token"}
PARIS = "Europe/Paris"
# ISO week 2026-W47: Monday 16 to Sunday 22 November 2026; the tick is Monday 23 at 08:00.
WEEK_START = date(2026, 11, 16)
TICK_SLOT = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo(PARIS))

HANDLERS = {
    GymUpserted: projections.project_gym_upserted,
    MemberUpserted: projections.project_member_upserted,
    MemberCheckedIn: projections.project_member_checked_in,
    SessionClosed: projections.project_session_closed,
    SummaryCreated: projections.project_summary_created,
    ChurnAlertRaised: projections.project_churn_alert_raised,
    ChurnAlertResolved: projections.project_churn_alert_resolved,
}


class Inbox:
    """What the SMTP server accepted: (envelope recipients, parsed message)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def to(self, recipient: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if recipient in rcpts]


@dataclass
class Smtp:
    port: int
    inbox: Inbox
    controller: Controller

    def stop(self) -> None:
        self.controller.stop()

    def start(self) -> None:
        """A server again on the same port (a stopped controller cannot be restarted)."""
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    inbox = Inbox()
    port = free_port()
    server = Smtp(port, inbox, Controller(inbox, hostname="127.0.0.1", port=port))
    server.controller.start()
    try:
        yield server
    finally:
        server.controller.stop()


@pytest.fixture
def reporter_settings(smtp: Smtp) -> Settings:
    return Settings(
        _env_file=None,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_from="JARVIS <reports@jarvis.test>",
        worker_poll_interval_s=0.05,
        job_retry_delay_s=0.0,
        render_processes=0,
    )


@pytest.fixture
async def reporter(
    platform_settings: PlatformSettings, reporter_settings: Settings
) -> AsyncIterator[ServiceApp]:
    """The service, not started: handlers and the worker are driven by the test."""
    app = bootstrap(platform_settings, reporter_settings, start_worker=False)
    yield app
    await worker_of(app).close()
    await app.db.dispose()


@pytest.fixture
async def api(reporter: ServiceApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=reporter.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporter") as client:
        yield client


def worker_of(app: ServiceApp) -> ReportWorker:
    return app.http.state.report_worker


async def apply(app: ServiceApp, items: list[EventData], time: datetime | None = None) -> None:
    """Feed events through the real projection handlers, grouped by type, in the given order."""
    by_type: dict[type, list[EventData]] = {}
    for item in items:
        by_type.setdefault(type(item), []).append(item)
    for kind, group in by_type.items():
        async with app.db.unit_of_work() as uow:
            events = [new_event(d, source="test") for d in group]
            if time is not None:
                events = [e.model_copy(update={"time": time}) for e in events]
            await HANDLERS[kind](events, uow)


async def fetch(app: ServiceApp, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with app.db.unit_of_work() as uow:
        return [dict(r) for r in (await uow.session.execute(text(sql), params)).mappings()]


def weekly_tick(slot: datetime = TICK_SLOT, tick_id: str | None = None) -> ScheduleTicked:
    return ScheduleTicked(
        tick_id=tick_id or f"weekly_report@{slot.isoformat()}",
        job="weekly_report",
        slot=slot,
        timezone=PARIS,
    )


def local(day: date, hour: int, minute: int = 0, tz: str = PARIS) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(tz))


@dataclass
class GymWeek:
    """A gym and a week of activity whose figures the tests know in advance."""

    gym_id: uuid.UUID = field(default_factory=uuid.uuid4)
    franchise_id: uuid.UUID | None = None
    name: str = "Salle Étoile"
    timezone: str = PARIS
    language: str = "fr"
    managers: tuple[str, ...] = ("manager@gym.test",)
    owners: tuple[str, ...] = ()
    events: list[EventData] = field(default_factory=list)

    def gym(self, updated_at: datetime | None = None, **changes: Any) -> GymUpserted:
        fields: dict[str, Any] = {
            "gym_id": self.gym_id,
            "franchise_id": self.franchise_id,
            "franchise_name": "Fitness Réseau" if self.franchise_id else None,
            "name": self.name,
            "timezone": self.timezone,
            "language": self.language,
            "manager_emails": self.managers,
            "franchise_owner_emails": self.owners,
            "updated_at": updated_at or datetime(2026, 1, 1, tzinfo=UTC),
        }
        return GymUpserted(**{**fields, **changes})

    def member(self, joined: date, cancelled: date | None = None, **kw: Any) -> uuid.UUID:
        member_id = uuid.uuid4()
        self.events.append(
            MemberUpserted(
                member_id=member_id,
                gym_id=self.gym_id,
                first_name=kw.get("first_name", "Zoé"),
                status="cancelled" if cancelled else "active",
                joined_at=joined,
                cancelled_at=cancelled,
                updated_at=datetime.combine(cancelled or joined, datetime.min.time(), UTC),
            )
        )
        return member_id

    def session(
        self,
        at: datetime,
        seconds: int,
        member: uuid.UUID | None = None,
        cost: str = "0.10",
        topics: tuple[str, ...] = (),
        sentiment: tuple[str, float] = ("neutral", 0.0),
        follow_ups: tuple[str, ...] = (),
        summary_cost: str = "0.01",
    ) -> None:
        session_id = uuid.uuid4()
        kiosk = uuid.UUID(int=7)
        self.events.append(
            SessionClosed(
                session_id=session_id,
                kiosk_id=kiosk,
                gym_id=self.gym_id,
                member_id=member,
                started_at=at - timedelta(seconds=seconds),
                ended_at=at,
                end_reason="kiosk_ended",
                cost_usd=Decimal(cost),
            )
        )
        self.events.append(
            SummaryCreated(
                session_id=session_id,
                kiosk_id=kiosk,
                gym_id=self.gym_id,
                member_id=member,
                summary="…",
                sentiment_label=sentiment[0],  # type: ignore[arg-type]
                sentiment_score=sentiment[1],
                topics=topics,
                follow_ups=follow_ups,
                cost_usd=Decimal(summary_cost),
                session_ended_at=at,
            )
        )

    def check_in(self, member: uuid.UUID, at: datetime) -> None:
        self.events.append(MemberCheckedIn(member_id=member, gym_id=self.gym_id, checked_in_at=at))

    def alert(
        self, member: uuid.UUID, raised: datetime, resolved: datetime | None = None, risk=0.8
    ) -> uuid.UUID:
        alert_id = uuid.uuid4()
        self.events.append(
            ChurnAlertRaised(
                alert_id=alert_id,
                member_id=member,
                gym_id=self.gym_id,
                risk=risk,
                band="red",
                model_version="test",
                raised_at=raised,
            )
        )
        if resolved is not None:
            self.events.append(
                ChurnAlertResolved(
                    alert_id=alert_id,
                    member_id=member,
                    gym_id=self.gym_id,
                    resolution="checked_in",
                    resolved_at=resolved,
                )
            )
        return alert_id


async def until(condition: Any, timeout: float = 30.0) -> Any:
    from jarvis_common.testing.waiting import wait_for

    return await wait_for(condition, timeout=timeout)


__all__ = ["asyncio"]
