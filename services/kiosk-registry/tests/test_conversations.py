"""The conversations read model: built from events in any order, read per gym."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from jarvis_common.events import new_event
from jarvis_common.events.catalogue import SessionClosed, SummaryCreated
from jarvis_common.service import ServiceApp
from jarvis_common.settings import PlatformSettings
from kiosk_registry.bootstrap import bootstrap
from kiosk_registry.conversations import project_session_closed, project_summary_created

AUTH = {"authorization": "Bearer test-admin-token"}
GYM, KIOSK = uuid.uuid4(), uuid.uuid4()


@pytest.fixture
async def registry(platform_settings: PlatformSettings) -> AsyncIterator[ServiceApp]:
    app = bootstrap(platform_settings)
    yield app
    await app.db.dispose()


@pytest.fixture
async def api(registry: ServiceApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=registry.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
        yield client


def closed(session_id: uuid.UUID) -> SessionClosed:
    ended = datetime.now(UTC)
    return SessionClosed(
        session_id=session_id,
        kiosk_id=KIOSK,
        gym_id=GYM,
        started_at=ended - timedelta(minutes=4),
        ended_at=ended,
        end_reason="idle_timeout",
    )


def summarised(session_id: uuid.UUID) -> SummaryCreated:
    return SummaryCreated(
        session_id=session_id,
        kiosk_id=KIOSK,
        gym_id=GYM,
        summary="Asked about prices.",
        sentiment_label="neutral",
    )


@pytest.mark.parametrize("summary_first", [False, True], ids=["closed-first", "summary-first"])
async def test_projection_is_complete_whichever_event_arrives_first(
    registry: ServiceApp, api: httpx.AsyncClient, summary_first: bool
) -> None:
    session_id = uuid.uuid4()
    steps = [
        (project_session_closed, closed(session_id)),
        (project_summary_created, summarised(session_id)),
    ]
    for project, data in reversed(steps) if summary_first else steps:
        async with registry.db.unit_of_work() as uow:
            await project(new_event(data, source="test"), uow)

    response = await api.get(f"/api/v1/gyms/{GYM}/conversations/{session_id}", headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert (body["summary"], body["end_reason"]) == ("Asked about prices.", "idle_timeout")

    listed = await api.get(f"/api/v1/gyms/{GYM}/conversations", headers=AUTH)
    assert [c["session_id"] for c in listed.json()] == [str(session_id)]


async def test_a_gym_never_sees_another_gyms_conversations(
    registry: ServiceApp, api: httpx.AsyncClient
) -> None:
    session_id = uuid.uuid4()
    async with registry.db.unit_of_work() as uow:
        await project_session_closed(new_event(closed(session_id), source="test"), uow)
    other_gym = uuid.uuid4()

    one = await api.get(f"/api/v1/gyms/{other_gym}/conversations/{session_id}", headers=AUTH)
    listed = await api.get(f"/api/v1/gyms/{other_gym}/conversations", headers=AUTH)

    assert one.status_code == 404
    assert listed.json() == []


async def test_bad_requests_are_4xx_with_a_message(api: httpx.AsyncClient) -> None:
    assert (await api.get(f"/api/v1/gyms/{GYM}/conversations")).status_code == 401
    bad_id = await api.get("/api/v1/gyms/not-a-uuid/conversations", headers=AUTH)
    too_many = await api.get(f"/api/v1/gyms/{GYM}/conversations?limit=100000", headers=AUTH)
    assert (bad_id.status_code, too_many.status_code) == (422, 422)
