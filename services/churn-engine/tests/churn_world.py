"""churn-engine test support: the service from its own composition root, and a `churn` helper
that feeds it a synthetic population through its real handlers and reads back what it decided."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from churn_engine.bootstrap import bootstrap
from churn_engine.projection import (
    project_member_checked_in,
    project_member_upserted,
    project_summary_created,
)
from churn_engine.reasons import from_row
from churn_engine.settings import Settings
from churn_engine.synthetic import Population
from churn_engine.ticks import score_as_of
from jarvis_common.events import EventData, new_event
from jarvis_common.events.catalogue import (
    ChurnSignal,
    MemberCheckedIn,
    MemberUpserted,
    SummaryCreated,
)
from jarvis_common.service import ServiceApp
from jarvis_common.settings import PlatformSettings

ADMIN = {"authorization": "Bearer test-admin-token"}
TZ = "Europe/Paris"


class Churn:
    def __init__(self, app: ServiceApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def apply(self, handler: Any, items: list[EventData], batch: int = 1000) -> None:
        for lo in range(0, len(items), batch):
            async with self.app.db.unit_of_work() as uow:
                await handler([new_event(d, source="test") for d in items[lo : lo + batch]], uow)

    async def load(self, population: Population) -> None:
        """The population as the registry and summarizer would have published it."""
        await self.apply(project_member_upserted, member_events(population))
        await self.apply(project_member_checked_in, check_in_events(population))
        await self.apply(project_summary_created, summary_events(population))

    async def score(self, as_of: datetime) -> dict[str, Any]:
        async with self.app.db.unit_of_work() as uow:
            return (await score_as_of(uow, as_of, TZ, self.settings)).as_json()

    async def scores(self, day: Any) -> dict[uuid.UUID, dict[str, Any]]:
        async with self.app.db.unit_of_work() as uow:
            rows = await (await uow.driver_connection()).fetch(
                "SELECT * FROM risk_scores WHERE day = $1", day
            )
        return {
            r["member_id"]: {
                "risk": r["risk"],
                "band": r["band"],
                "reasons": from_row(r),
                "model_version": r["model_version"],
                "gym_id": r["gym_id"],
                "member_id": r["member_id"],
            }
            for r in rows
        }

    async def fetch(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        async with self.app.db.unit_of_work() as uow:
            rows = await uow.session.execute(text(sql), params)
            return [dict(r) for r in rows.mappings()]


def member_events(population: Population) -> list[EventData]:
    events: list[EventData] = []
    for i, member_id in enumerate(population.member_ids()):
        joined = population.start + timedelta(days=int(population.joined_day[i]))
        end = population.contract_end_day[i]
        common = {
            "member_id": member_id,
            "gym_id": population.gym_ids[population.gym_index[i]],
            "contract_type": population.contract[i],
            "joined_at": joined.date(),
            "contract_ends_at": None if end != end else population.day(end),
        }
        events.append(MemberUpserted(**common, updated_at=joined))
        cancel = population.cancel_day[i]
        if cancel == cancel and cancel < population.days:
            at = population.start + timedelta(days=float(cancel))
            events.append(
                MemberUpserted(**common, status="cancelled", cancelled_at=at.date(), updated_at=at)
            )
    return events


def check_in_events(population: Population) -> list[EventData]:
    ids = population.member_ids()
    events: list[EventData] = []
    for members, at, group in population.check_ins():
        for m, t, g in zip(members.tolist(), at.tolist(), group.tolist(), strict=True):
            events.append(
                MemberCheckedIn(
                    member_id=ids[m],
                    gym_id=population.gym_ids[population.gym_index[m]],
                    checked_in_at=datetime.fromtimestamp(t, UTC),
                    group_class="yoga" if g else None,
                )
            )
    return events


def summary_events(population: Population) -> list[EventData]:
    ids = population.member_ids()
    events: list[EventData] = []
    for i, day in enumerate(population.intent_day.tolist()):
        if day == day and day < population.days:
            events.append(
                said_intent_to_cancel(
                    ids[i],
                    population.gym_ids[population.gym_index[i]],
                    population.start + timedelta(days=day, hours=12),
                )
            )
    return events


def said_intent_to_cancel(member: uuid.UUID, gym: uuid.UUID, at: datetime) -> SummaryCreated:
    return SummaryCreated(
        session_id=uuid.uuid4(),
        kiosk_id=uuid.UUID(int=1),
        gym_id=gym,
        member_id=member,
        summary="Wants to cancel.",
        sentiment_label="negative",
        sentiment_score=-0.7,
        churn_signals=(ChurnSignal(kind="intent_to_cancel", evidence="I want to stop"),),
        session_ended_at=at,
    )


@pytest.fixture
def churn_settings() -> Settings:
    return Settings(_env_file=None)


@pytest.fixture
async def engine(
    platform_settings: PlatformSettings, churn_settings: Settings
) -> AsyncIterator[ServiceApp]:
    """The service, not started: handlers are called directly, the HTTP API works."""
    app = bootstrap(platform_settings, churn_settings)
    yield app
    await app.db.dispose()


@pytest.fixture
def churn(engine: ServiceApp, churn_settings: Settings) -> Churn:
    return Churn(engine, churn_settings)


@pytest.fixture
async def api(engine: ServiceApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=engine.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://churn") as client:
        yield client
