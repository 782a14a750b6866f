"""The fleet: kiosks per gym, configuration with optimistic locking, announced to the gateway."""

import asyncio

from registry_world import World, outbox_events

from jarvis_common.service import ServiceApp
from kiosk_registry.auth import Principal
from kiosk_registry.kiosks import KioskConfigPatch, update_config


async def test_a_gym_has_several_kiosks_with_the_plan_defaults(world: World) -> None:
    gym = world.ids["gym_a1"]
    first = await world.create(f"/api/v1/gyms/{gym}/kiosks", {"name": "Entrance"}, "manager_a1")
    second = await world.create(
        f"/api/v1/gyms/{gym}/kiosks", {"name": "Cardio", "slug": "cardio-floor"}, "manager_a1"
    )
    assert first["status"] == second["status"] == "provisioning"
    assert first["voice_model"] == "alloy"
    assert first["openai_model"] == "gpt-4o-mini-realtime-preview-2024-12-17"
    assert first["config_version"] == 1 and first["slug"] != second["slug"]
    listed = await world.api.get(f"/api/v1/kiosks?gym_id={gym}", headers=world.as_("owner_a"))
    assert listed.json()["total"] == 2
    taken = await world.api.post(
        f"/api/v1/gyms/{gym}/kiosks",
        headers=world.as_("admin"),
        json={"name": "again", "slug": "cardio-floor"},
    )
    bad = await world.api.post(
        f"/api/v1/gyms/{gym}/kiosks",
        headers=world.as_("admin"),
        json={"name": "x", "slug": "Not A Slug"},
    )
    assert (taken.status_code, bad.status_code) == (409, 422)


async def test_a_config_change_is_versioned_and_announced(
    world: World, registry: ServiceApp
) -> None:
    kiosk = await world.create(f"/api/v1/gyms/{world.ids['gym_a1']}/kiosks", {"name": "Desk"})
    changed = await world.api.patch(
        f"/api/v1/kiosks/{kiosk['id']}/config",
        headers=world.as_("manager_a1"),
        json={
            "config_version": 1,
            "voice_model": "verse",
            "persona": "Coach Max",
            "limits": {
                "idle_timeout_s": 45,
                "max_duration_s": 600,
                "max_concurrent_sessions": 3,
                "session_budget_usd": "0.50",
            },
        },
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["config_version"] == 2
    stale = await world.api.patch(
        f"/api/v1/kiosks/{kiosk['id']}/config",
        headers=world.as_("owner_a"),
        json={"config_version": 1, "persona": "Other"},
    )
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "stale_config_version"

    [event] = await outbox_events(registry, "kiosk.config_changed")
    assert event["key"] == kiosk["id"]
    config = event["data"]["config"]
    assert event["data"]["config_version"] == 2
    assert (config["voice_model"], config["persona"], config["idle_timeout_s"]) == (
        "verse",
        "Coach Max",
        45,
    )
    assert config["gym_name"] == "Gym a1" and config["language"] == "fr"


async def test_of_two_concurrent_changes_on_one_version_exactly_one_wins(
    world: World, registry: ServiceApp
) -> None:
    kiosk = await world.create(f"/api/v1/gyms/{world.ids['gym_a1']}/kiosks", {"name": "Race"})
    admin = Principal(
        world.ids["user_owner_a"],
        "owner_a@jarvis-gym.fr",
        "franchise_owner",
        world.ids["franchise_a"],
        None,
    )

    async def change(persona: str) -> str:
        try:
            async with registry.db.unit_of_work() as uow:
                await update_config(
                    uow, admin, kiosk["id"], KioskConfigPatch(config_version=1, persona=persona)
                )
            return "ok"
        except Exception as exc:
            return type(exc).__name__

    results = await asyncio.gather(change("A"), change("B"))
    assert sorted(results) == ["Conflict", "ok"]
    assert len(await outbox_events(registry, "kiosk.config_changed")) == 1


async def test_changing_the_gym_information_reconfigures_its_kiosks(
    world: World, registry: ServiceApp
) -> None:
    gym = world.ids["gym_a1"]
    kiosk = await world.create(f"/api/v1/gyms/{gym}/kiosks", {"name": "Desk"})
    patched = await world.api.patch(
        f"/api/v1/gyms/{gym}",
        headers=world.as_("manager_a1"),
        json={"info": {"opening_hours": {"sat": "09:00-19:00"}, "prices": {"monthly": "29.90"}}},
    )
    assert patched.status_code == 200
    [event] = await outbox_events(registry, "kiosk.config_changed")
    assert event["key"] == kiosk["id"]
    assert event["data"]["config"]["gym_info"]["opening_hours"] == {"sat": "09:00-19:00"}
    current = await world.api.get(f"/api/v1/kiosks/{kiosk['id']}", headers=world.as_("admin"))
    assert current.json()["config_version"] == event["data"]["config_version"] == 2
