"""gym.upserted follows every change to a gym and to who receives its reports."""

import uuid

from registry_world import World, outbox_events
from sqlalchemy import update

from jarvis_common.service import ServiceApp
from kiosk_registry.gym_announcements import announce_unannounced_gyms
from kiosk_registry.tables import gyms


async def announcements(app: ServiceApp, gym_id: uuid.UUID) -> list[dict]:
    return [e["data"] for e in await outbox_events(app, "gym.upserted", key=str(gym_id))]


async def test_a_gym_and_its_recipients_are_announced_as_they_change(
    registry: ServiceApp, world: World
) -> None:
    gym_a1 = world.ids["gym_a1"]
    latest = (await announcements(registry, gym_a1))[-1]
    assert latest["name"] == "Gym a1" and latest["franchise_name"] == "Franchise A"
    assert latest["manager_emails"] == ["manager_a1@jarvis-gym.fr"]
    assert latest["franchise_owner_emails"] == ["owner_a@jarvis-gym.fr"]
    independent = (await announcements(registry, world.ids["gym_i1"]))[-1]
    assert (independent["timezone"], independent["language"]) == ("Europe/London", "en")
    assert independent["franchise_owner_emails"] == []

    renamed = await world.api.patch(
        f"/api/v1/gyms/{gym_a1}", json={"timezone": "America/Montreal"}, headers=world.as_("admin")
    )
    assert renamed.status_code == 200, renamed.text
    assert (await announcements(registry, gym_a1))[-1]["timezone"] == "America/Montreal"

    gone = await world.api.patch(
        f"/api/v1/users/{world.ids['user_manager_a1']}",
        json={"active": False},
        headers=world.as_("admin"),
    )
    assert gone.status_code == 200, gone.text
    assert (await announcements(registry, gym_a1))[-1]["manager_emails"] == []

    moved = await world.api.put(
        f"/api/v1/users/{world.ids['user_manager_b1']}/scope",
        json={"role": "gym_manager", "gym_id": str(gym_a1)},
        headers=world.as_("admin"),
    )
    assert moved.status_code == 200, moved.text
    assert (await announcements(registry, gym_a1))[-1]["manager_emails"] == [
        "manager_b1@jarvis-gym.fr"
    ]
    assert (await announcements(registry, world.ids["gym_b1"]))[-1]["manager_emails"] == []
    # another franchise's gyms are not touched by franchise A's changes
    assert all(
        a["franchise_id"] == str(world.ids["franchise_b"])
        for a in await announcements(registry, world.ids["gym_b1"])
    )


async def test_gyms_that_predate_the_event_are_announced_once_at_start(
    registry: ServiceApp, world: World
) -> None:
    async with registry.db.unit_of_work() as uow:
        await uow.session.execute(update(gyms).values(announced_at=None))
    before = len(await announcements(registry, world.ids["gym_b1"]))
    await announce_unannounced_gyms(registry)
    await announce_unannounced_gyms(registry)  # a second start announces nothing more
    assert len(await announcements(registry, world.ids["gym_b1"])) == before + 1
