"""Accounts and tenants: login, roles, who may create what."""

import httpx
from registry_world import PASSWORD, World, hash_password


async def test_login_gives_a_token_that_says_who_i_am(world: World) -> None:
    me = await world.api.get("/api/v1/me", headers=world.as_("owner_a"))
    assert me.status_code == 200
    assert (me.json()["role"], me.json()["franchise_id"]) == (
        "franchise_owner",
        str(world.ids["franchise_a"]),
    )


async def test_wrong_password_unknown_email_and_bad_tokens_are_401(world: World) -> None:
    api = world.api
    wrong = await api.post(
        "/api/v1/auth/login", json={"email": "owner_a@jarvis-gym.fr", "password": "nope-nope-nope"}
    )
    unknown = await api.post(
        "/api/v1/auth/login", json={"email": "ghost@jarvis-gym.fr", "password": PASSWORD}
    )
    garbage = await api.get("/api/v1/me", headers={"authorization": "Bearer garbage"})
    missing = await api.get("/api/v1/me")
    assert [r.status_code for r in (wrong, unknown, garbage, missing)] == [401] * 4
    assert wrong.json() == unknown.json()  # no hint which part was wrong


async def test_a_deactivated_account_is_refused_at_once(world: World) -> None:
    user = world.ids["user_manager_a1"]
    off = await world.api.patch(
        f"/api/v1/users/{user}", json={"active": False}, headers=world.as_("admin")
    )
    assert off.status_code == 200
    assert (await world.api.get("/api/v1/me", headers=world.as_("manager_a1"))).status_code == 401


async def test_only_super_admins_create_franchises_and_owners(world: World) -> None:
    api = world.api
    franchise = await api.post(
        "/api/v1/franchises", json={"name": "X"}, headers=world.as_("owner_a")
    )
    owner = await api.post(
        "/api/v1/users",
        headers=world.as_("owner_a"),
        json={
            "email": "x@jarvis-gym.fr",
            "password": PASSWORD,
            "role": "franchise_owner",
            "franchise_id": str(world.ids["franchise_a"]),
        },
    )
    assert (franchise.status_code, owner.status_code) == (403, 403)


async def test_a_franchise_owner_creates_gyms_and_managers_in_their_franchise_only(
    world: World,
) -> None:
    api = world.api
    gym = await api.post("/api/v1/gyms", json={"name": "A2"}, headers=world.as_("owner_a"))
    assert gym.status_code == 201
    assert gym.json()["franchise_id"] == str(world.ids["franchise_a"])
    foreign_gym = await api.post(
        "/api/v1/gyms",
        headers=world.as_("owner_a"),
        json={"name": "sneaky", "franchise_id": str(world.ids["franchise_b"])},
    )
    foreign_manager = await api.post(
        "/api/v1/users",
        headers=world.as_("owner_a"),
        json={
            "email": "m@jarvis-gym.fr",
            "password": PASSWORD,
            "role": "gym_manager",
            "gym_id": str(world.ids["gym_b1"]),
        },
    )
    assert (foreign_gym.status_code, foreign_manager.status_code) == (404, 404)


async def test_bad_input_is_a_4xx_with_a_message(world: World) -> None:
    api = world.api
    cases = [
        ("/api/v1/gyms", {"name": "tz", "timezone": "Mars/Olympus"}),
        ("/api/v1/gyms", {"name": ""}),
        ("/api/v1/users", {"email": "not-an-email", "password": PASSWORD, "role": "super_admin"}),
        (
            "/api/v1/users",
            {"email": "short@jarvis-gym.fr", "password": "short", "role": "super_admin"},
        ),
        (
            "/api/v1/users",
            {"email": "s@jarvis-gym.fr", "password": PASSWORD, "role": "gym_manager"},
        ),
    ]
    for path, body in cases:
        response = await api.post(path, json=body, headers=world.as_("admin"))
        assert response.status_code == 422, (body, response.text)
        assert response.json()
    duplicate = await api.post(
        "/api/v1/users",
        headers=world.as_("admin"),
        json={
            "email": "OWNER_A@jarvis-gym.fr",
            "password": PASSWORD,
            "role": "franchise_owner",
            "franchise_id": str(world.ids["franchise_a"]),
        },
    )
    assert duplicate.status_code == 409


async def test_a_patch_cannot_change_a_role_or_a_tenant(world: World) -> None:
    user = world.ids["user_manager_a1"]
    for body in ({"role": "super_admin"}, {"gym_id": str(world.ids["gym_b1"])}):
        response = await world.api.patch(
            f"/api/v1/users/{user}", json=body, headers=world.as_("admin")
        )
        assert response.status_code == 422
    me = await world.api.get("/api/v1/me", headers=world.as_("manager_a1"))
    assert (me.json()["role"], me.json()["gym_id"]) == ("gym_manager", str(world.ids["gym_a1"]))


async def test_changes_are_audited_with_before_and_after(world: World) -> None:
    gym = world.ids["gym_a1"]
    patched = await world.api.patch(
        f"/api/v1/gyms/{gym}", json={"name": "Renamed"}, headers=world.as_("manager_a1")
    )
    assert patched.status_code == 200
    log = await world.api.get("/api/v1/audit-log", headers=world.as_("owner_a"))
    entry = next(e for e in log.json()["items"] if e["action"] == "gym.updated")
    assert entry["before"]["name"] == "Gym a1" and entry["after"]["name"] == "Renamed"
    assert entry["actor_id"] == str(world.ids["user_manager_a1"])
    assert entry["franchise_id"] == str(world.ids["franchise_a"])
    # Nothing secret is ever copied into the log.
    full = await world.api.get("/api/v1/audit-log?limit=500", headers=world.as_("admin"))
    assert "password" not in full.text
    # Another franchise's owner does not see it.
    other = await world.api.get("/api/v1/audit-log?limit=500", headers=world.as_("owner_b"))
    assert all(e["franchise_id"] != str(world.ids["franchise_a"]) for e in other.json()["items"])


async def test_lists_are_paginated(world: World, api: httpx.AsyncClient) -> None:
    page = await api.get("/api/v1/gyms?limit=2&offset=1", headers=world.as_("admin"))
    assert page.status_code == 200
    body = page.json()
    assert (body["total"], body["limit"], body["offset"], len(body["items"])) == (3, 2, 1, 2)
    assert (await api.get("/api/v1/gyms?limit=0", headers=world.as_("admin"))).status_code == 422


async def test_a_migrated_manager_belongs_to_the_franchise_of_their_gym(
    world: World, registry
) -> None:
    """Legacy data may say franchise B beside a gym of franchise A: the gym decides."""
    import uuid

    from sqlalchemy import insert

    from kiosk_registry.tables import users

    odd = uuid.uuid4()
    async with registry.db.unit_of_work() as uow:
        await uow.session.execute(
            insert(users).values(
                id=odd,
                email="legacy@jarvis-gym.fr",
                role="gym_manager",
                franchise_id=world.ids["franchise_b"],
                gym_id=world.ids["gym_a1"],
            )
        )
    seen_by_b = await world.api.get(f"/api/v1/users/{odd}", headers=world.as_("owner_b"))
    reset_by_b = await world.api.patch(
        f"/api/v1/users/{odd}", json={"password": PASSWORD * 2}, headers=world.as_("owner_b")
    )
    seen_by_a = await world.api.get(f"/api/v1/users/{odd}", headers=world.as_("owner_a"))
    assert (seen_by_b.status_code, reset_by_b.status_code, seen_by_a.status_code) == (404, 404, 200)


async def test_case_twins_from_legacy_data_cannot_log_in_and_no_new_twin_is_created(
    world: World, registry
) -> None:
    import uuid

    from sqlalchemy import insert

    from kiosk_registry.tables import users

    async with registry.db.unit_of_work() as uow:
        for email in ("Twin@jarvis-gym.fr", "twin@jarvis-gym.fr"):
            await uow.session.execute(
                insert(users).values(
                    id=uuid.uuid4(),
                    email=email,
                    role="super_admin",
                    password_hash=hash_password(registry),
                )
            )
    login = await world.api.post(
        "/api/v1/auth/login", json={"email": "twin@jarvis-gym.fr", "password": PASSWORD}
    )
    assert login.status_code == 401
    again = await world.api.post(
        "/api/v1/users",
        headers=world.as_("admin"),
        json={"email": "TWIN@jarvis-gym.fr", "password": PASSWORD, "role": "super_admin"},
    )
    assert again.status_code == 409


async def test_values_the_database_refuses_are_a_422_not_a_500(world: World) -> None:
    response = await world.api.post(
        "/api/v1/gyms", json={"name": "a\u0000b"}, headers=world.as_("admin")
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_value"
    gyms = await world.api.get("/api/v1/gyms?limit=500", headers=world.as_("admin"))
    assert all("\u0000" not in g["name"] for g in gyms.json()["items"])


async def test_gym_information_is_bounded(world: World) -> None:
    huge = {"info": {"prices": "x" * (70 * 1024)}}
    response = await world.api.patch(
        f"/api/v1/gyms/{world.ids['gym_a1']}", json=huge, headers=world.as_("manager_a1")
    )
    assert response.status_code == 422


async def test_a_super_admin_repairs_a_legacy_account_and_no_one_else_can(
    world: World, registry
) -> None:
    import uuid

    from sqlalchemy import insert, text

    from kiosk_registry.tables import users

    broken = uuid.uuid4()
    check = await _constraint(registry, "ck_users_role_scope")
    async with registry.db.unit_of_work() as uow:
        # A gym manager with no gym, as migration 0003 can leave one (the legacy access pointed
        # nowhere): the role check was added NOT VALID, so such rows predate it.
        await uow.session.execute(
            text("ALTER TABLE registry.users DROP CONSTRAINT ck_users_role_scope")
        )
        await uow.session.execute(
            insert(users).values(
                id=broken,
                email="lost@jarvis-gym.fr",
                role="gym_manager",
                gym_id=None,
                password_hash=hash_password(registry),
            )
        )
        await uow.session.execute(
            text(f"ALTER TABLE registry.users ADD CONSTRAINT ck_users_role_scope {check} NOT VALID")
        )
    lost = await world.login("lost@jarvis-gym.fr")
    assert (await world.api.get("/api/v1/me", headers=lost)).status_code == 401
    patched = await world.api.patch(
        f"/api/v1/users/{broken}", json={"full_name": "x"}, headers=world.as_("admin")
    )
    assert patched.status_code == 409

    scope = {"role": "gym_manager", "gym_id": str(world.ids["gym_a1"])}
    by_owner = await world.api.put(
        f"/api/v1/users/{world.ids['user_manager_a1']}/scope",
        json={"role": "super_admin"},
        headers=world.as_("owner_a"),
    )
    assert by_owner.status_code == 403  # a role is never raised by anyone but a super admin
    repaired = await world.api.put(
        f"/api/v1/users/{broken}/scope", json=scope, headers=world.as_("admin")
    )
    assert repaired.status_code == 200, repaired.text
    assert repaired.json()["franchise_id"] == str(world.ids["franchise_a"])
    me = await world.api.get("/api/v1/me", headers=lost)
    assert (me.status_code, me.json()["gym_id"]) == (200, str(world.ids["gym_a1"]))


async def _constraint(registry, name: str) -> str:
    from sqlalchemy import text

    async with registry.db.session() as session:
        definition = await session.scalar(
            text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :n"),
            {"n": name},
        )
    return definition.removesuffix(" NOT VALID")
