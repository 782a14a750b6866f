"""The operator API answers bad input with a 4xx and a message, and keeps gyms apart."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from churn_world import ADMIN, Churn
from sqlalchemy import text

from churn_engine.projection import project_member_upserted
from jarvis_common.events.catalogue import MemberUpserted

GYM, OTHER_GYM = uuid.UUID(int=101), uuid.UUID(int=202)
SOMEONE = uuid.UUID(int=303)


async def a_member(churn: Churn, gym: uuid.UUID = GYM) -> uuid.UUID:
    member = uuid.uuid4()
    await churn.apply(
        project_member_upserted,
        [MemberUpserted(member_id=member, gym_id=gym, updated_at=datetime.now(UTC))],
    )
    return member


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/scores"),
        ("get", "/alerts"),
        ("get", "/thresholds"),
        ("put", "/thresholds"),
        ("post", f"/members/{SOMEONE}/snooze"),
        ("get", f"/members/{SOMEONE}/scores"),
        ("post", f"/alerts/{SOMEONE}/resolve"),
    ],
)
async def test_every_route_needs_the_operator_token(api, method: str, path: str) -> None:
    response = await api.request(method, f"/api/v1/gyms/{GYM}{path}", json={})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "body",
    [{"amber": 0.6, "red": 0.3}, {"amber": 0.3, "red": 1.0}, {"amber": 0, "red": 0.5}, {}],
)
async def test_thresholds_must_be_ordered_probabilities(api, body: dict) -> None:
    response = await api.put(f"/api/v1/gyms/{GYM}/thresholds", json=body, headers=ADMIN)
    assert response.status_code == 422
    current = await api.get(f"/api/v1/gyms/{GYM}/thresholds", headers=ADMIN)
    assert current.json() == {"gym_id": str(GYM), "source": "default", "amber": 0.3, "red": 0.6}


async def test_snooze_refuses_the_past_far_futures_and_other_gyms_members(
    churn: Churn, api
) -> None:
    member = await a_member(churn)
    url = f"/api/v1/gyms/{GYM}/members/{member}/snooze"
    past = await api.post(url, json={"until": "2020-01-01"}, headers=ADMIN)
    assert (past.status_code, past.json()["error"]["code"]) == (422, "invalid_until")
    far = (date.today() + timedelta(days=400)).isoformat()
    assert (await api.post(url, json={"until": far}, headers=ADMIN)).status_code == 422
    assert (await api.post(url, json={"until": "soon"}, headers=ADMIN)).status_code == 422
    elsewhere = await api.post(
        f"/api/v1/gyms/{OTHER_GYM}/members/{member}/snooze",
        json={"until": date.today().isoformat()},
        headers=ADMIN,
    )
    assert elsewhere.status_code == 404
    rows = await churn.fetch("SELECT count(*) AS n FROM snoozes")
    assert rows[0]["n"] == 0
    ok = await api.post(url, json={"until": date.today().isoformat()}, headers=ADMIN)
    assert ok.status_code == 200 and ok.json()["resolved_alerts"] == 0


async def test_an_operator_resolves_an_alert_of_their_gym_only(churn: Churn, api) -> None:
    member = await a_member(churn)
    alert = uuid.uuid4()
    async with churn.app.db.unit_of_work() as uow:
        await uow.session.execute(
            text(
                "INSERT INTO alerts (alert_id, member_id, gym_id, risk, band, reasons, "
                "model_version, raised_at, scored_as_of) VALUES (:a, :m, :g, 0.9, 'red', "
                "CAST(:r AS jsonb), 'default-1', now(), now())"
            ),
            {"a": alert, "m": member, "g": GYM, "r": json.dumps([{"code": "x", "value": 1}])},
        )
    other = await api.post(f"/api/v1/gyms/{OTHER_GYM}/alerts/{alert}/resolve", headers=ADMIN)
    assert other.status_code == 404
    done = await api.post(f"/api/v1/gyms/{GYM}/alerts/{alert}/resolve", headers=ADMIN)
    assert done.status_code == 200 and done.json()["resolution"] == "manual"
    again = await api.post(f"/api/v1/gyms/{GYM}/alerts/{alert}/resolve", headers=ADMIN)
    assert again.json()["resolved_at"] == done.json()["resolved_at"]
    events = await churn.fetch("SELECT payload FROM outbox WHERE topic = 'churn.alert.resolved'")
    assert [json.loads(e["payload"])["data"]["resolution"] for e in events] == ["manual"]
    listed = await api.get(f"/api/v1/gyms/{GYM}/alerts?status=resolved", headers=ADMIN)
    assert [a["alert_id"] for a in listed.json()] == [str(alert)]
    assert (
        await api.get(f"/api/v1/gyms/{OTHER_GYM}/alerts?status=all", headers=ADMIN)
    ).json() == []


async def test_garbage_ids_and_queries_are_422(api) -> None:
    assert (await api.get("/api/v1/gyms/nope/scores", headers=ADMIN)).status_code == 422
    bad_band = await api.get(f"/api/v1/gyms/{GYM}/scores?band=purple", headers=ADMIN)
    assert bad_band.status_code == 422
    backwards = await api.get(
        f"/api/v1/gyms/{GYM}/members/{uuid.uuid4()}/scores?from=2026-05-01&to=2026-04-01",
        headers=ADMIN,
    )
    assert backwards.status_code == 422
    too_early = await api.get(
        f"/api/v1/gyms/{GYM}/members/{uuid.uuid4()}/scores?to=0001-01-05", headers=ADMIN
    )
    assert (too_early.status_code, too_early.json()["error"]["code"]) == (422, "invalid_range")
