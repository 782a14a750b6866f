"""Recording a closed session: the row and its event are written together, or not at all."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from jarvis_common.settings import PlatformSettings, plain_dsn
from session_gateway.bootstrap import bootstrap

AUTH = {"authorization": "Bearer test-admin-token"}


@pytest.fixture
async def api(platform_settings: PlatformSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = bootstrap(platform_settings)
    transport = httpx.ASGITransport(app=app.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client
    await app.db.dispose()


@pytest.fixture
async def db(platform_settings: PlatformSettings) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(plain_dsn(platform_settings.database_url))
    yield conn
    await conn.close()


def closed_session(**overrides: object) -> dict:
    ended = datetime.now(UTC)
    body = {
        "session_id": str(uuid.uuid4()),
        "kiosk_id": str(uuid.uuid4()),
        "gym_id": str(uuid.uuid4()),
        "started_at": (ended - timedelta(minutes=2)).isoformat(),
        "ended_at": ended.isoformat(),
        "end_reason": "idle_timeout",
        "transcript": [{"item_id": "a", "role": "user", "text": "Bonjour"}],
        "usage": {"audio_input": 120, "audio_output": 300},
        "cost_usd": "0.0123",
    }
    return body | overrides


async def test_session_row_and_outbox_row_are_written_together(api, db) -> None:
    body = closed_session()
    response = await api.post("/api/v1/sessions", json=body, headers=AUTH)

    assert response.status_code == 201, response.text
    session_id = uuid.UUID(body["session_id"])
    row = await db.fetchrow("SELECT * FROM gateway.sessions WHERE id = $1", session_id)
    assert row["end_reason"] == "idle_timeout"
    outbox = await db.fetch("SELECT topic, key, payload FROM gateway.outbox")
    assert [(o["topic"], o["key"]) for o in outbox] == [("session.closed", str(session_id))]
    assert '"cost_usd":"0.0123"' in outbox[0]["payload"]


async def test_recording_the_same_session_twice_is_a_conflict(api, db) -> None:
    body = closed_session()
    assert (await api.post("/api/v1/sessions", json=body, headers=AUTH)).status_code == 201
    again = await api.post("/api/v1/sessions", json=body, headers=AUTH)

    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    assert await db.fetchval("SELECT count(*) FROM gateway.outbox") == 1


@pytest.mark.parametrize(
    "overrides",
    [
        {"ended_at": "2020-01-01T00:00:00Z"},  # before it started
        {"end_reason": "bored"},
        {"kiosk_id": "not-a-uuid"},
        {"cost_usd": "-1"},
        {"unexpected": True},
    ],
    ids=["ends-before-start", "unknown-reason", "bad-kiosk-id", "negative-cost", "unknown-field"],
)
async def test_bad_input_is_refused_and_nothing_is_written(api, db, overrides) -> None:
    response = await api.post("/api/v1/sessions", json=closed_session(**overrides), headers=AUTH)

    assert response.status_code == 422
    assert await db.fetchval("SELECT count(*) FROM gateway.sessions") == 0
    assert await db.fetchval("SELECT count(*) FROM gateway.outbox") == 0


async def test_without_the_operator_token_nothing_is_recorded(api, db) -> None:
    missing = await api.post("/api/v1/sessions", json=closed_session())
    wrong = await api.post(
        "/api/v1/sessions", json=closed_session(), headers={"authorization": "Bearer nope"}
    )

    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert await db.fetchval("SELECT count(*) FROM gateway.sessions") == 0
