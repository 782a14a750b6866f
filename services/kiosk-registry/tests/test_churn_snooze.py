"""Gym staff snooze a member's churn alerts through the registry: scoped, validated, published."""

import uuid
from datetime import date, timedelta

from registry_world import World, outbox_events

from jarvis_common.service import ServiceApp


async def snoozes(app: ServiceApp) -> list[dict]:
    return await outbox_events(app, "member.churn_snoozed")


async def member_of(world: World, gym: str) -> uuid.UUID:
    response = await world.api.put(
        f"/api/v1/gyms/{world.ids[gym]}/members/ext-{gym}",
        json={"first_name": "Lou", "status": "active"},
        headers=world.as_("admin"),
    )
    assert response.status_code in (200, 201), response.text
    return uuid.UUID(response.json()["id"])


async def test_a_gym_manager_snoozes_a_member_of_their_gym(
    registry: ServiceApp, world: World
) -> None:
    member = await member_of(world, "gym_a1")
    until = (date.today() + timedelta(days=14)).isoformat()
    path = f"/api/v1/gyms/{world.ids['gym_a1']}/members/{member}/churn-snooze"
    accepted = await world.api.post(path, json={"until": until}, headers=world.as_("manager_a1"))
    assert accepted.status_code == 202, accepted.text
    (event,) = await snoozes(registry)
    assert event["data"]["member_id"] == str(member) and event["data"]["until"] == until
    assert event["data"]["snoozed_by"] == str(world.ids["user_manager_a1"])
    assert event["franchise_id"] == str(world.ids["franchise_a"])


async def test_snoozing_is_scoped_and_validated(registry: ServiceApp, world: World) -> None:
    member = await member_of(world, "gym_a1")
    path = f"/api/v1/gyms/{world.ids['gym_a1']}/members/{member}/churn-snooze"
    soon = (date.today() + timedelta(days=3)).isoformat()
    other = await world.api.post(path, json={"until": soon}, headers=world.as_("manager_b1"))
    assert other.status_code == 404  # another gym's member does not exist for them
    past = await world.api.post(path, json={"until": "2020-01-01"}, headers=world.as_("manager_a1"))
    assert past.status_code == 422 and past.json()["error"]["code"] == "invalid_until"
    unknown = await world.api.post(
        f"/api/v1/gyms/{world.ids['gym_a1']}/members/{uuid.uuid4()}/churn-snooze",
        json={"until": soon},
        headers=world.as_("owner_a"),
    )
    assert unknown.status_code == 404
    assert await snoozes(registry) == []  # nothing published for refused requests
