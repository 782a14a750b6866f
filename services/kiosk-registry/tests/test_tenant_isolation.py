"""Tenant isolation, checked on every route of the API as it stands (read from its OpenAPI).

For every operation, as every role: with its own tenant's ids it is served (or refused for its
role, never "not found"); with another tenant's ids it is 404, never 403, and nothing changes;
lists and aggregates never contain another tenant's ids. A route added without a sample request
here fails the test, so isolation is checked for it too.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from registry_world import World
from sqlalchemy import insert

from jarvis_common.events import new_event
from jarvis_common.events.catalogue import SessionClosed, SummaryCreated
from jarvis_common.service import ServiceApp
from kiosk_registry.read_models import project_session_closed, project_summary_created
from kiosk_registry.tables import members

# Routes anyone may call: they carry no tenant data, or authenticate a kiosk, not a user.
PUBLIC = {
    "POST /api/v1/auth/login",
    "GET /api/v1/.well-known/jwks.json",
    "POST /api/v1/provisioning/claim",
    "POST /api/v1/kiosk-auth/token",
    "POST /api/v1/kiosk-auth/rotate",
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
}

# A valid request body (and query) per mutating route, so that validation never hides what the
# route does with another tenant's ids. `{...}` placeholders are filled from the tenant.
SAMPLES: dict[str, dict[str, Any]] = {
    "POST /api/v1/franchises": {"json": {"name": "New franchise"}},
    "POST /api/v1/gyms": {"json": {"name": "New gym", "franchise_id": "{franchise_id}"}},
    "PATCH /api/v1/gyms/{gym_id}": {"json": {"name": "Renamed"}},
    "POST /api/v1/users": {
        "json": {
            "email": "{unique}@jarvis-gym.fr",
            "password": "a long enough password",
            "role": "gym_manager",
            "gym_id": "{gym_id}",
        }
    },
    "PATCH /api/v1/users/{user_id}": {"json": {"full_name": "Renamed"}},
    "PUT /api/v1/users/{user_id}/scope": {"json": {"role": "gym_manager", "gym_id": "{gym_id}"}},
    "POST /api/v1/gyms/{gym_id}/kiosks": {"json": {"name": "Front desk"}},
    "PATCH /api/v1/kiosks/{kiosk_id}/config": {"json": {"config_version": 1, "persona": "Coach"}},
    "GET /api/v1/gyms/{gym_id}/usage": {"params": {"from": "2026-01-01", "to": "2026-12-31"}},
    "POST /api/v1/kiosks/{kiosk_id}/provisioning-code": {},
    "POST /api/v1/kiosks/{kiosk_id}/revoke": {"json": {"reason": "test"}},
    "PUT /api/v1/gyms/{gym_id}/members/{external_ref}": {"json": {"first_name": "Léa"}},
    "POST /api/v1/gyms/{gym_id}/members/import": {"json": [{"external_ref": "imp-{unique}"}]},
    "POST /api/v1/gyms/{gym_id}/check-ins/import": {
        "json": [{"external_ref": "{external_ref}", "checked_in_at": "{now}"}]
    },
    "POST /api/v1/gyms/{gym_id}/check-ins": {
        "json": {"external_ref": "{external_ref}", "checked_in_at": "{now}"}
    },
    "POST /api/v1/gyms/{gym_id}/members/{member_id}/churn-snooze": {
        "json": {"until": "2099-01-01"}
    },
}

ROLES_OF_TENANT_A = ("owner_a", "manager_a1")
# Whose foreign tenant is b: a franchise owner, a franchise's gym manager, an independent gym's.
FOREIGN_FOR = {"owner_a": "b", "manager_a1": "b", "manager_i1": "b"}


def operations(registry: ServiceApp) -> list[tuple[str, str]]:
    spec = registry.http.openapi()
    return sorted(
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    )


class Tenants:
    """Ids of everything that belongs to tenant a (franchise A, gym a1) and b (B, b1)."""

    def __init__(self, world: World):
        self.world = world
        self.ids: dict[str, dict[str, str]] = {"a": {}, "b": {}}

    async def build(self, registry: ServiceApp) -> Tenants:
        w = self.world
        for t in ("a", "b"):
            gym = w.ids[f"gym_{t}1"]
            kiosk = await w.create(f"/api/v1/gyms/{gym}/kiosks", {"name": f"Kiosk {t}"})
            member_id, session_id = uuid.uuid4(), uuid.uuid4()
            ended = datetime.now(UTC)
            async with registry.db.unit_of_work() as uow:
                await uow.session.execute(
                    insert(members).values(
                        id=member_id, gym_id=gym, external_ref=f"ref-{t}", first_name=f"M{t}"
                    )
                )
                closed = SessionClosed(
                    session_id=session_id,
                    kiosk_id=kiosk["id"],
                    gym_id=gym,
                    started_at=ended - timedelta(minutes=2),
                    ended_at=ended,
                    end_reason="kiosk_ended",
                )
                await project_session_closed(new_event(closed, source="test"), uow)
                summary = SummaryCreated(
                    session_id=session_id,
                    kiosk_id=kiosk["id"],
                    gym_id=gym,
                    summary=f"secret of {t}",
                )
                await project_summary_created(new_event(summary, source="test"), uow)
            self.ids[t] = {
                "franchise_id": str(w.ids[f"franchise_{t}"]),
                "gym_id": str(gym),
                "kiosk_id": kiosk["id"],
                "user_id": str(w.ids[f"user_manager_{t}1"]),
                "member_id": str(member_id),
                "external_ref": f"ref-{t}",
                "session_id": str(session_id),
            }
        return self

    def fill(self, template: Any, tenant: str) -> Any:
        if isinstance(template, dict):
            return {k: self.fill(v, tenant) for k, v in template.items()}
        if isinstance(template, list):
            return [self.fill(v, tenant) for v in template]
        if isinstance(template, str):
            values = {
                **self.ids[tenant],
                "unique": uuid.uuid4().hex[:10],
                "now": datetime.now(UTC).isoformat(),
            }
            return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)
        return template

    def foreign_markers(self, tenant: str) -> set[str]:
        return {v for k, v in self.ids[tenant].items() if k != "external_ref"}


@pytest.fixture
async def tenants(world: World, registry: ServiceApp) -> Tenants:
    return await Tenants(world).build(registry)


def test_every_route_has_a_sample_or_is_public(registry: ServiceApp) -> None:
    missing = [
        f"{method} {path}"
        for method, path in operations(registry)
        if method != "GET" and f"{method} {path}" not in PUBLIC | SAMPLES.keys()
    ]
    assert missing == [], "add a sample request for these routes to SAMPLES"


async def _call(
    world: World, tenants: Tenants, who: str, method: str, path: str, tenant: str
) -> Any:
    sample = SAMPLES.get(f"{method} {path}", {})
    url = tenants.fill(path, tenant)
    kwargs = {k: tenants.fill(v, tenant) for k, v in sample.items()}
    return await world.api.request(method, url, headers=world.as_(who), **kwargs)


async def test_another_tenants_resources_are_404_and_unchanged(
    world: World, tenants: Tenants, registry: ServiceApp
) -> None:
    checked = 0
    for method, path in operations(registry):
        if f"{method} {path}" in PUBLIC or not re.search(r"\{\w+\}", path):
            continue
        for who in FOREIGN_FOR:
            before = await _snapshot(world, tenants, "b")
            response = await _call(world, tenants, who, method, path, FOREIGN_FOR[who])
            assert response.status_code == 404, (who, method, path, response.text)
            assert await _snapshot(world, tenants, "b") == before, (who, method, path)
            checked += 1
    assert checked >= 30


async def test_own_tenants_resources_are_never_404(
    world: World, tenants: Tenants, registry: ServiceApp
) -> None:
    for method, path in operations(registry):
        if f"{method} {path}" in PUBLIC:
            continue
        for who in ROLES_OF_TENANT_A:
            response = await _call(world, tenants, who, method, path, "a")
            assert response.status_code != 404, (who, method, path, response.text)
            assert response.status_code < 500, (who, method, path, response.text)


async def test_lists_and_aggregates_leave_other_tenants_out(
    world: World, tenants: Tenants, registry: ServiceApp
) -> None:
    foreign = tenants.foreign_markers("b") | {"secret of b"}
    listed = 0
    for method, path in operations(registry):
        if method != "GET" or f"{method} {path}" in PUBLIC:
            continue
        for who in ROLES_OF_TENANT_A:
            response = await _call(world, tenants, who, method, path, "a")
            if response.status_code != 200:
                continue
            leaked = sorted(marker for marker in foreign if marker in response.text)
            assert leaked == [], (who, path, leaked)
            listed += 1
    assert listed >= 10
    # The super admin does see tenant b: the check above is not vacuous.
    everyone = await world.api.get("/api/v1/kiosks?limit=500", headers=world.as_("admin"))
    assert tenants.ids["b"]["kiosk_id"] in everyone.text


async def _snapshot(world: World, tenants: Tenants, tenant: str) -> dict[str, Any]:
    """What tenant b's owner sees of their own things: it must not change under a's calls."""
    ids = tenants.ids[tenant]
    h = world.as_("admin")
    api = world.api
    return {
        "gym": (await api.get(f"/api/v1/gyms/{ids['gym_id']}", headers=h)).json(),
        "kiosk": (await api.get(f"/api/v1/kiosks/{ids['kiosk_id']}", headers=h)).json(),
        "user": (await api.get(f"/api/v1/users/{ids['user_id']}", headers=h)).json(),
        "kiosks": (await api.get(f"/api/v1/kiosks?gym_id={ids['gym_id']}", headers=h)).json()[
            "total"
        ],
        "users": (await api.get("/api/v1/users?limit=500", headers=h)).json()["total"],
    }


GARBAGE_IDS = [
    "not-a-uuid",
    "00000000-0000-0000-0000-000000000000",
    "x%00y",
    "%27%20OR%201=1",
    "1" * 300,
]
GARBAGE_BODIES = [b"{", b"[]", b"123", b'{"name": null}', b'{"config_version": "x"}', b"\xff\xfe"]


async def test_garbage_input_is_a_4xx_never_a_500(
    world: World, tenants: Tenants, registry: ServiceApp
) -> None:
    """Every route, with malformed ids and bodies: answered with a 4xx and a JSON message."""
    calls = 0
    for method, path in operations(registry):
        if not path.startswith("/api/"):
            continue  # /healthz, /readyz, /metrics: no input, and readyz is 503 by design here
        for garbage_id in GARBAGE_IDS:
            url = re.sub(r"\{\w+(:path)?\}", garbage_id, path)
            bodies = GARBAGE_BODIES if method in {"POST", "PUT", "PATCH"} else [None]
            for body in bodies:
                headers = {**world.as_("admin"), "content-type": "application/json"}
                response = await world.api.request(method, url, content=body, headers=headers)
                assert 400 <= response.status_code < 500 or (
                    response.status_code == 200 and method == "GET" and "{" not in path
                ), (method, url, body, response.status_code, response.text[:200])
                assert response.json() is not None
                calls += 1
    assert calls > 200
