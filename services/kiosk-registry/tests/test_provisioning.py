"""Provisioning codes, kiosk credentials, kiosk access tokens, rotation and revocation."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import time
import uuid
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from registry_world import CHEAP_PASSWORD_HASHING, World, outbox_events
from sqlalchemy import text

from jarvis_common.errors import Conflict
from jarvis_common.service import ServiceApp
from jarvis_common.testing.waiting import wait_for
from jarvis_common.tokens import (
    KIOSK_AUDIENCE,
    USER_AUDIENCE,
    InvalidToken,
    TokenVerifier,
    public_key_pem,
)
from kiosk_registry import provisioning
from kiosk_registry.settings import Settings

GRACE_S = 120
TOKEN_TTL_S = 300
CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{2}$")
CREDENTIAL = re.compile(r"^kc_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$")


@pytest.fixture
def registry_settings(signing_key: str) -> Settings:
    return Settings(
        _env_file=None,
        signing_key=signing_key,
        **CHEAP_PASSWORD_HASHING,
        credential_grace_s=GRACE_S,
        kiosk_token_ttl_s=TOKEN_TTL_S,
    )


# --- helpers -----------------------------------------------------------------------------------


async def rows(registry: ServiceApp, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with registry.db.engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(text(sql), params)).mappings()]


async def execute(registry: ServiceApp, sql: str, **params: Any) -> None:
    async with registry.db.engine.begin() as conn:
        await conn.execute(text(sql), params)


async def new_kiosk(world: World, gym: str = "gym_a1", who: str = "manager_a1") -> str:
    kiosk = await world.create(
        f"/api/v1/gyms/{world.ids[gym]}/kiosks", {"name": "Front desk"}, who=who
    )
    return kiosk["id"]


async def new_code(world: World, kiosk_id: str, who: str = "manager_a1") -> dict[str, Any]:
    response = await world.api.post(
        f"/api/v1/kiosks/{kiosk_id}/provisioning-code", headers=world.as_(who)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def claim(api: httpx.AsyncClient, code: str, device: str = "device-1") -> httpx.Response:
    return await api.post(
        "/api/v1/provisioning/claim",
        json={"code": code, "device_id": device, "hardware_info": {"cpu": "rk3588", "ram_gb": 8}},
    )


async def provisioned(world: World, gym: str = "gym_a1") -> tuple[str, str]:
    """A kiosk that has claimed its code: (kiosk id, credential)."""
    kiosk_id = await new_kiosk(world, gym, who="admin")
    claimed = await claim(world.api, (await new_code(world, kiosk_id, who="admin"))["code"])
    assert claimed.status_code == 201, claimed.text
    return kiosk_id, claimed.json()["credential"]


async def token(api: httpx.AsyncClient, credential: str) -> httpx.Response:
    return await api.post("/api/v1/kiosk-auth/token", json={"credential": credential})


async def rotate(api: httpx.AsyncClient, credential: str) -> httpx.Response:
    return await api.post("/api/v1/kiosk-auth/rotate", json={"credential": credential})


# --- the whole flow ----------------------------------------------------------------------------


async def test_a_kiosk_is_provisioned_authenticates_rotates_and_is_revoked(
    world: World, registry: ServiceApp, signing_key: str
) -> None:
    api = world.api
    kiosk_id = await new_kiosk(world)
    code = await new_code(world, kiosk_id)
    assert CODE.match(code["code"]), code
    assert code["kiosk_id"] == kiosk_id

    claimed = await claim(api, code["code"])
    assert claimed.status_code == 201, claimed.text
    body = claimed.json()
    assert (body["kiosk_id"], body["gym_id"]) == (kiosk_id, str(world.ids["gym_a1"]))
    first = body["credential"]
    assert CREDENTIAL.match(first)
    kiosk = (await api.get(f"/api/v1/kiosks/{kiosk_id}", headers=world.as_("manager_a1"))).json()
    assert (kiosk["device_id"], kiosk["hardware_info"], kiosk["status"]) == (
        "device-1",
        {"cpu": "rk3588", "ram_gb": 8},
        "provisioning",  # until its first heartbeat, as kiosk_status says
    )
    assert kiosk["provisioned_at"] is not None

    # The token verifies offline with the public key alone, for the kiosk audience only.
    issued = await token(api, first)
    assert issued.status_code == 200, issued.text
    assert (issued.json()["token_type"], issued.json()["expires_in"]) == ("bearer", TOKEN_TTL_S)
    verifier = TokenVerifier(public_key_pem(signing_key))
    claims = verifier.verify(issued.json()["access_token"], KIOSK_AUDIENCE)
    first_id = str(uuid.UUID(first[3:35]))
    assert (claims["sub"], claims["gym_id"], claims["franchise_id"], claims["cid"]) == (
        kiosk_id,
        str(world.ids["gym_a1"]),
        str(world.ids["franchise_a"]),
        first_id,
    )
    assert claims["exp"] - claims["iat"] == TOKEN_TTL_S
    with pytest.raises(InvalidToken):
        verifier.verify(issued.json()["access_token"], USER_AUDIENCE)
    as_user = await api.get(
        "/api/v1/me", headers={"authorization": f"Bearer {issued.json()['access_token']}"}
    )
    assert as_user.status_code == 401

    # Rotation: a new credential; the old one works through the grace period, then no more.
    rotated = await rotate(api, first)
    assert rotated.status_code == 201, rotated.text
    second = rotated.json()["credential"]
    assert CREDENTIAL.match(second) and second != first
    [old] = await rows(
        registry,
        "SELECT extract(epoch FROM expires_at - now()) AS left_s, revoked_at"
        " FROM registry.kiosk_credentials WHERE id = :id",
        id=first_id,
    )
    assert GRACE_S - 30 < old["left_s"] <= GRACE_S and old["revoked_at"] is None
    assert (await token(api, first)).status_code == 200
    new_claims = verifier.verify((await token(api, second)).json()["access_token"], KIOSK_AUDIENCE)
    assert new_claims["cid"] == str(uuid.UUID(second[3:35]))
    # Move time past the grace period rather than waiting for it.
    await execute(
        registry,
        "UPDATE registry.kiosk_credentials SET expires_at = now() - interval '1 second'"
        " WHERE id = :id",
        id=first_id,
    )
    assert (await token(api, first)).status_code == 401
    assert (await rotate(api, first)).status_code == 401
    assert (await token(api, second)).status_code == 200

    # Revocation: every credential dies at once.
    revoked = await api.post(
        f"/api/v1/kiosks/{kiosk_id}/revoke",
        json={"reason": "stolen"},
        headers=world.as_("manager_a1"),
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    assert (await token(api, second)).status_code == 401
    assert (await rotate(api, second)).status_code == 401
    live = await rows(
        registry,
        "SELECT id FROM registry.kiosk_credentials WHERE kiosk_id = :k AND revoked_at IS NULL",
        k=kiosk_id,
    )
    assert live == []

    # The gateway learns the kiosk, and then that it is revoked.
    [event] = await outbox_events(registry, "kiosk.provisioned", key=kiosk_id)
    assert (event["key"], event["subject"], event["gym_id"], event["franchise_id"]) == (
        kiosk_id,
        kiosk_id,
        str(world.ids["gym_a1"]),
        str(world.ids["franchise_a"]),
    )
    assert event["data"]["device_id"] == "device-1"
    assert event["data"]["config"]["gym_name"] == "Gym a1"
    assert event["data"]["config"]["voice_model"] == "alloy"
    [event] = await outbox_events(registry, "kiosk.revoked", key=kiosk_id)
    assert (event["key"], event["gym_id"], event["franchise_id"]) == (
        kiosk_id,
        str(world.ids["gym_a1"]),
        str(world.ids["franchise_a"]),
    )
    assert (event["data"]["kiosk_id"], event["data"]["reason"]) == (kiosk_id, "stolen")

    # Every change is in the audit log, with who made it.
    audit = await rows(
        registry,
        "SELECT action, actor_type, actor_id, gym_id, franchise_id FROM registry.audit_log"
        " WHERE action LIKE 'kiosk.%' AND action <> 'kiosk.created' ORDER BY id",
    )
    manager = str(world.ids["user_manager_a1"])
    assert [(a["action"], a["actor_type"], a["actor_id"]) for a in audit] == [
        ("kiosk.provisioning_code_created", "user", manager),
        ("kiosk.provisioned", "kiosk", kiosk_id),
        ("kiosk.credential_rotated", "kiosk", kiosk_id),
        ("kiosk.revoked", "user", manager),
    ]
    assert {(a["gym_id"], a["franchise_id"]) for a in audit} == {
        (world.ids["gym_a1"], world.ids["franchise_a"])
    }


# --- claiming ----------------------------------------------------------------------------------


async def test_unknown_codes_are_404_expired_410_used_409(
    world: World, registry: ServiceApp
) -> None:
    api = world.api
    unknown = await claim(api, "ABCD-EFGH-JK")
    garbage = await claim(api, "not a code at all!")
    assert (unknown.status_code, garbage.status_code) == (404, 404)
    assert unknown.json()["error"]["code"] == "provisioning_code_unknown"

    expiring = await new_kiosk(world)
    expired_code = (await new_code(world, expiring))["code"]
    await execute(
        registry,
        "UPDATE registry.kiosks SET provisioning_code_expires_at = now() - interval '1 second'"
        " WHERE id = :id",
        id=expiring,
    )
    expired = await claim(api, expired_code)
    assert expired.status_code == 410, expired.text
    assert expired.json()["error"]["code"] == "provisioning_code_expired"

    kiosk_id = await new_kiosk(world)
    code = (await new_code(world, kiosk_id))["code"]
    # Typed by a person: lower case, spaces for dashes.
    assert (await claim(api, code.lower().replace("-", " "))).status_code == 201
    used = await claim(api, code, device="device-2")
    assert used.status_code == 409, used.text
    assert used.json()["error"]["code"] == "provisioning_code_used"
    [kiosk] = await rows(
        registry, "SELECT device_id FROM registry.kiosks WHERE id = :id", id=kiosk_id
    )
    assert kiosk["device_id"] == "device-1"  # the refused claim changed nothing


def test_typed_codes_forgive_case_separators_and_look_alikes() -> None:
    assert provisioning.normalise_code(" abcd-0123 .z9") == "ABCD0123Z9"
    assert provisioning.normalise_code("ABCD-O1IL-ZZ") == "ABCD0111ZZ"
    assert provisioning.normalise_code("ABCD-EFGH-J") is None  # too short
    assert provisioning.normalise_code("ABCD-EFGH-JU") is None  # U is not in the alphabet
    codes = {provisioning.new_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(provisioning.normalise_code(provisioning.display_code(c)) == c for c in codes)


async def test_a_new_code_replaces_the_outstanding_one(world: World) -> None:
    kiosk_id = await new_kiosk(world)
    first = (await new_code(world, kiosk_id))["code"]
    second = (await new_code(world, kiosk_id, who="owner_a"))["code"]
    assert first != second
    assert (await claim(world.api, first)).status_code == 404
    assert (await claim(world.api, second)).status_code == 201


async def test_a_code_carried_over_from_the_legacy_schema_can_be_claimed(
    world: World, registry: ServiceApp
) -> None:
    kiosk_id = await new_kiosk(world)
    # Migration 0004 hashes a legacy code verbatim and gives it 24 h.
    await execute(
        registry,
        "UPDATE registry.kiosks SET provisioning_code_hash = :h,"
        " provisioning_code_expires_at = now() + interval '24 hours' WHERE id = :id",
        h=hashlib.sha256(b"legacy-kiosk-42").hexdigest(),
        id=kiosk_id,
    )
    claimed = await claim(world.api, "legacy-kiosk-42")
    assert claimed.status_code == 201, claimed.text
    assert claimed.json()["kiosk_id"] == kiosk_id


async def test_two_concurrent_claims_over_http_one_wins(world: World, registry: ServiceApp) -> None:
    kiosk_id = await new_kiosk(world)
    code = (await new_code(world, kiosk_id))["code"]
    first, second = await asyncio.gather(
        claim(world.api, code, device="device-a"), claim(world.api, code, device="device-b")
    )
    assert sorted([first.status_code, second.status_code]) == [201, 409]
    winner = "device-a" if first.status_code == 201 else "device-b"
    await _exactly_one_provisioning(registry, kiosk_id, winner)


async def test_a_claim_racing_an_uncommitted_claim_waits_and_gets_409(
    world: World, registry: ServiceApp
) -> None:
    """Deterministic interleaving: B claims while A's claim is applied but not yet committed."""
    kiosk_id = await new_kiosk(world)
    code = (await new_code(world, kiosk_id))["code"]

    async def claim_in_own_transaction(device: str) -> provisioning.Claimed:
        async with registry.db.unit_of_work() as uow:
            return await provisioning.claim(
                uow, provisioning.Claim(code=code, device_id=device, hardware_info={})
            )

    async def waiting_on_a_lock() -> bool:
        waiting = await rows(
            registry,
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock'",
        )
        return bool(waiting)

    async with registry.db.unit_of_work() as uow_a:
        await provisioning.claim(
            uow_a, provisioning.Claim(code=code, device_id="device-a", hardware_info={})
        )
        b = asyncio.create_task(claim_in_own_transaction("device-b"))
        await wait_for(lambda: b.done() or waiting_on_a_lock(), message="B to reach the row")
        assert not b.done(), "B finished while A held the row: the claim is not atomic"
    # A has committed; B re-checks the row and is refused.
    with pytest.raises(Conflict) as refused:
        await b
    assert refused.value.code == "provisioning_code_used"
    await _exactly_one_provisioning(registry, kiosk_id, "device-a")


async def _exactly_one_provisioning(registry: ServiceApp, kiosk_id: str, device: str) -> None:
    credentials = await rows(
        registry, "SELECT id FROM registry.kiosk_credentials WHERE kiosk_id = :k", k=kiosk_id
    )
    assert len(credentials) == 1
    events = await outbox_events(registry, "kiosk.provisioned", key=kiosk_id)
    assert [e["data"]["device_id"] for e in events] == [device]
    [kiosk] = await rows(
        registry, "SELECT device_id FROM registry.kiosks WHERE id = :id", id=kiosk_id
    )
    assert kiosk["device_id"] == device
    kiosks = await rows(registry, "SELECT id FROM registry.kiosks WHERE device_id LIKE 'device-%'")
    assert len(kiosks) == 1  # no second kiosk


async def test_a_new_device_claiming_a_new_code_retires_the_old_credential(world: World) -> None:
    kiosk_id, old = await provisioned(world)
    code = (await new_code(world, kiosk_id))["code"]
    replaced = await claim(world.api, code, device="device-2")
    assert replaced.status_code == 201
    assert (await token(world.api, old)).status_code == 401
    assert (await token(world.api, replaced.json()["credential"])).status_code == 200


# --- secrets at rest ---------------------------------------------------------------------------


async def test_codes_and_credentials_are_stored_only_as_hashes(
    world: World, registry: ServiceApp
) -> None:
    kiosk_id = await new_kiosk(world)
    code = (await new_code(world, kiosk_id))["code"]
    outstanding = (await new_code(world, await new_kiosk(world)))["code"]
    first = (await claim(world.api, code)).json()["credential"]
    second = (await rotate(world.api, first)).json()["credential"]
    assert (await token(world.api, second)).status_code == 200

    # What must be there: the hashes.
    normalised = code.replace("-", "")
    [kiosk] = await rows(
        registry, "SELECT provisioning_code_hash FROM registry.kiosks WHERE id = :id", id=kiosk_id
    )
    assert kiosk["provisioning_code_hash"] == hashlib.sha256(normalised.encode()).hexdigest()
    hashes = {
        r["secret_hash"]
        for r in await rows(registry, "SELECT secret_hash FROM registry.kiosk_credentials")
    }
    assert hashes == {hashlib.sha256(c[36:].encode()).hexdigest() for c in (first, second)}

    # What must not be anywhere: the secrets, in any table, the audit log and outbox included.
    secrets_ = {
        code,
        normalised,
        outstanding,
        outstanding.replace("-", ""),
        first,
        second,
        first[36:],
        second[36:],
    }
    tables = await rows(
        registry,
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = 'registry' AND table_type = 'BASE TABLE'",
    )
    assert {"kiosks", "kiosk_credentials", "audit_log", "outbox"} <= {
        t["table_name"] for t in tables
    }
    dump = []
    for table in tables:
        found = await rows(
            registry, f'SELECT t::text AS row FROM registry."{table["table_name"]}" t'
        )
        dump.extend(r["row"] for r in found)
    everything = "\n".join(dump)
    assert str(kiosk_id) in everything  # the search does see the rows
    for secret in secrets_:
        assert secret not in everything


# --- revocation --------------------------------------------------------------------------------


async def test_revoking_twice_changes_nothing_more_and_publishes_once(
    world: World, registry: ServiceApp
) -> None:
    kiosk_id, credential = await provisioned(world)
    # A code outstanding for a replacement device dies with the kiosk.
    outstanding = (await new_code(world, kiosk_id))["code"]
    first = await world.api.post(f"/api/v1/kiosks/{kiosk_id}/revoke", headers=world.as_("owner_a"))
    second = await world.api.post(
        f"/api/v1/kiosks/{kiosk_id}/revoke", json={"reason": "again"}, headers=world.as_("admin")
    )
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["revoked_at"] == second.json()["revoked_at"] is not None
    assert len(await outbox_events(registry, "kiosk.revoked", key=kiosk_id)) == 1
    audit = await rows(
        registry,
        "SELECT id FROM registry.audit_log WHERE action = 'kiosk.revoked' AND entity_id = :k",
        k=kiosk_id,
    )
    assert len(audit) == 1
    assert (await token(world.api, credential)).status_code == 401
    assert (await claim(world.api, outstanding)).status_code == 404
    again = await world.api.post(
        f"/api/v1/kiosks/{kiosk_id}/provisioning-code", headers=world.as_("manager_a1")
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "kiosk_revoked"


async def test_a_rotated_out_credential_cannot_rotate_again(
    world: World, registry: ServiceApp
) -> None:
    """Whoever holds a leaked, rotated-out credential must not mint a fresh one during its
    grace period (the kiosk would be locked out when the grace ends)."""
    _, old = await provisioned(world)
    current = (await rotate(world.api, old)).json()["credential"]
    again = await rotate(world.api, old)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "credential_superseded"
    credentials = await rows(registry, "SELECT id FROM registry.kiosk_credentials")
    assert len(credentials) == 2  # nothing was minted
    # The old one still works for tokens during its grace; the current one rotates.
    assert (await token(world.api, old)).status_code == 200
    assert (await rotate(world.api, current)).status_code == 201


# --- tenants and bad input ---------------------------------------------------------------------


async def test_another_tenants_kiosk_is_404_on_every_route(world: World) -> None:
    kiosk_id = await new_kiosk(world)
    for who in ("manager_b1", "owner_b", "manager_i1"):
        code = await world.api.post(
            f"/api/v1/kiosks/{kiosk_id}/provisioning-code", headers=world.as_(who)
        )
        revoke = await world.api.post(f"/api/v1/kiosks/{kiosk_id}/revoke", headers=world.as_(who))
        assert (code.status_code, revoke.status_code) == (404, 404), who
    for who in ("owner_a", "admin"):
        await new_code(world, kiosk_id, who=who)
    missing = await world.api.post(
        f"/api/v1/kiosks/{uuid.uuid4()}/provisioning-code", headers=world.as_("admin")
    )
    anonymous_code = await world.api.post(f"/api/v1/kiosks/{kiosk_id}/provisioning-code")
    anonymous_revoke = await world.api.post(f"/api/v1/kiosks/{kiosk_id}/revoke")
    assert (missing.status_code, anonymous_code.status_code, anonymous_revoke.status_code) == (
        404,
        401,
        401,
    )
    # Nothing the foreign tenants tried took effect.
    kiosk = (await world.api.get(f"/api/v1/kiosks/{kiosk_id}", headers=world.as_("admin"))).json()
    assert kiosk["revoked_at"] is None


async def test_bad_input_is_a_4xx_with_a_json_message(world: World) -> None:
    api = world.api
    kiosk_id, credential = await provisioned(world)
    wrong_secret = credential[:36] + ("A" if credential[36] != "A" else "B") + credential[37:]
    unknown_id = f"kc_{uuid.uuid4().hex}_{credential[36:]}"
    code = (await new_code(world, await new_kiosk(world)))["code"]
    cases = {
        "claim without device": (
            await api.post("/api/v1/provisioning/claim", json={"code": code}),
            422,
        ),
        "hardware_info not an object": (
            await api.post(
                "/api/v1/provisioning/claim",
                json={"code": code, "device_id": "d", "hardware_info": [1, 2]},
            ),
            422,
        ),
        "hardware_info too large": (
            await api.post(
                "/api/v1/provisioning/claim",
                json={"code": code, "device_id": "d", "hardware_info": {"x": "y" * 20_000}},
            ),
            422,
        ),
        "claim not json": (
            await api.post(
                "/api/v1/provisioning/claim",
                content=b"{nope",
                headers={"content-type": "application/json"},
            ),
            422,
        ),
        "token from garbage": (await token(api, "garbage"), 401),
        "token, unknown credential id": (await token(api, unknown_id), 401),
        "token, wrong secret": (await token(api, wrong_secret), 401),
        "token without body": (await api.post("/api/v1/kiosk-auth/token"), 422),
        "rotate with garbage": (await rotate(api, "kc_zz_zz"), 401),
        "revoke with unknown field": (
            await api.post(
                f"/api/v1/kiosks/{kiosk_id}/revoke",
                json={"why": "x"},
                headers=world.as_("admin"),
            ),
            422,
        ),
        "kiosk id not a uuid": (
            await api.post("/api/v1/kiosks/nope/provisioning-code", headers=world.as_("admin")),
            422,
        ),
    }
    for name, (response, expected) in cases.items():
        assert response.status_code == expected, (name, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/json"), name
    # None of the 401s says which part was wrong.
    assert len({cases[n][0].text for n in cases if cases[n][1] == 401}) == 1
    # The failed attempts did not hurt the real credential, nor claim the outstanding code.
    assert (await token(api, credential)).status_code == 200
    assert (await claim(api, code)).status_code == 201


async def test_the_published_public_key_verifies_kiosk_tokens(world: World) -> None:
    """What the gateway does: fetch the JWKS once, then verify every token offline."""
    _, credential = await provisioned(world)
    access = (await token(world.api, credential)).json()["access_token"]
    [key] = (await world.api.get("/api/v1/.well-known/jwks.json")).json()["keys"]
    assert (key["kty"], key["crv"], key["alg"]) == ("OKP", "Ed25519", "EdDSA")
    raw = base64.urlsafe_b64decode(key["x"] + "=" * (-len(key["x"]) % 4))
    pem = (
        Ed25519PublicKey.from_public_bytes(raw)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    claims = TokenVerifier(pem).verify(access, KIOSK_AUDIENCE)
    assert claims["exp"] > time.time()
    forged = access[:-4] + ("AAAA" if not access.endswith("AAAA") else "BBBB")
    with pytest.raises(InvalidToken):
        TokenVerifier(pem).verify(forged, KIOSK_AUDIENCE)


async def test_the_routes_are_in_the_openapi_document(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    for path in (
        "/api/v1/kiosks/{kiosk_id}/provisioning-code",
        "/api/v1/kiosks/{kiosk_id}/revoke",
        "/api/v1/provisioning/claim",
        "/api/v1/kiosk-auth/token",
        "/api/v1/kiosk-auth/rotate",
    ):
        assert "post" in document["paths"][path], path
