"""The legacy migration (revisions 0002 and 0003) on real PostgreSQL.

Each test takes a fresh database down to revision 0001, fills it with the legacy fixture (every
kind of messy data, see legacy_fixture) and migrates it: counts reconciled before and after,
every case checked, the report checked row by row, then down again and back up.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import legacy_fixture as legacy
import pytest
from legacy_fixture import GYM, GYMS, USER, USERS

from jarvis_common.db.migrations import downgrade, upgrade
from jarvis_common.settings import plain_dsn
from kiosk_registry.bootstrap import SERVICE
from kiosk_registry.kiosks import SLUG

DEFAULT_MODEL = "gpt-4o-mini-realtime-preview-2024-12-17"


@dataclass
class LegacyDb:
    url: str
    conn: asyncpg.Connection

    def migrate(self, revision: str = "head") -> None:
        upgrade(SERVICE, self.url, revision)

    def revert(self, revision: str) -> None:
        downgrade(SERVICE, self.url, revision)

    async def kiosks(self) -> dict[str, asyncpg.Record]:
        rows = await self.conn.fetch("SELECT * FROM registry.kiosks")
        return {row["slug"]: row for row in rows}

    async def issues(self, revision: str) -> list[asyncpg.Record]:
        return await self.conn.fetch(
            "SELECT * FROM registry.legacy_migration_issues WHERE revision = $1 ORDER BY id",
            revision,
        )

    async def columns(self, table: str) -> set[str]:
        rows = await self.conn.fetch(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'registry' AND table_name = $1",
            table,
        )
        return {row["column_name"] for row in rows}


async def _connect(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(plain_dsn(url))
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    return conn


@pytest.fixture
async def legacy_db(database_url: str) -> AsyncIterator[LegacyDb]:
    downgrade(SERVICE, database_url, "0001")
    await legacy.load(database_url)
    conn = await _connect(database_url)
    try:
        yield LegacyDb(database_url, conn)
    finally:
        await conn.close()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _gym_created_at(label: str) -> datetime:
    return legacy.EPOCH + timedelta(minutes=GYMS.index(GYM[label]))


# --- 0002: kiosk_config → kiosks -------------------------------------------------------------


async def test_every_kiosk_entry_becomes_a_kiosk_or_a_report_row(
    legacy_db: LegacyDb, caplog: pytest.LogCaptureFixture
) -> None:
    entries = sum(legacy.kiosk_entries(gym.config) for gym in GYMS)
    configs = sum(1 for gym in GYMS if gym.config is not legacy.NULL and gym.config is not None)
    caplog.set_level(logging.INFO, logger="alembic")

    legacy_db.migrate("0002")

    kiosks = await legacy_db.kiosks()
    issues = await legacy_db.issues("0002")
    not_migrated = [i for i in issues if i["problem"] == "not_a_kiosk"]
    # Reconciliation: nothing vanished, nothing was invented.
    assert len(kiosks) + len(not_migrated) == entries
    assert len(kiosks) == sum(gym.kiosks for gym in GYMS)
    per_gym = Counter(k["gym_id"] for k in kiosks.values())
    for gym in GYMS:
        assert per_gym[gym.id] == gym.kiosks, gym.label
        reported = sorted(
            (
                (i["field"], i["problem"], i["entry_index"])
                for i in issues
                if i["entity_id"] == gym.id
            ),
            key=str,
        )
        assert reported == sorted(gym.problems, key=str), gym.label
    assert {i["entity_id"] for i in issues} <= {gym.id for gym in GYMS}
    assert all(i["entity"] == "gym" and i["detail"] for i in issues)
    # A report about a kiosk's field points at that kiosk, in the right gym.
    by_id = {k["id"]: k for k in kiosks.values()}
    for issue in issues:
        if issue["problem"] in ("not_a_kiosk", "empty", "double_encoded"):
            assert issue["kiosk_id"] is None
        else:
            assert by_id[issue["kiosk_id"]]["gym_id"] == issue["entity_id"], dict(issue)

    # Unique, well-formed slugs; unique codes.
    assert all(SLUG.match(slug) for slug in kiosks)
    codes = [k["provisioning_code"] for k in kiosks.values() if k["provisioning_code"]]
    assert len(codes) == len(set(codes))
    assert "kiosk_config" not in await legacy_db.columns("gyms")

    message = (
        f"legacy kiosk_config: {configs} gyms with a config, {entries} kiosk entries, "
        f"{len(kiosks)} kiosks created, {len(not_migrated)} entries not migrated"
    )
    assert message in caplog.messages
    assert "legacy kiosk_config: slug missing: 6 (see registry.legacy_migration_issues)" in (
        caplog.messages
    )


async def test_kiosk_fields_are_kept_repaired_or_defaulted(legacy_db: LegacyDb) -> None:
    legacy_db.migrate("0002")
    k = await legacy_db.kiosks()
    issues = await legacy_db.issues("0002")

    clean = GYM["clean object"].config
    paris = k["paris-nord"]
    assert paris["id"] == uuid.UUID(clean["id"])
    assert paris["gym_id"] == GYM["clean object"].id
    assert (paris["name"], paris["provisioning_code"], paris["status"]) == (
        "Accueil",
        "PN-1001",
        "online",
    )
    assert paris["last_heartbeat"] == _at(clean["last_heartbeat"])
    assert paris["created_at"] == _at(clean["created_at"])
    assert (paris["device_id"], paris["hardware_info"]) == ("dev-pn-1", clean["hardware_info"])
    assert (paris["voice_model"], paris["openai_model"], paris["location_in_gym"]) == (
        "verse",
        "gpt-4o-realtime-preview",
        "Entrance",
    )
    # The other legacy spellings.
    amiens = k["amiens"]
    assert amiens["id"] == legacy.uid("kiosk amiens")
    assert (amiens["provisioning_code"], amiens["device_id"], amiens["status"]) == (
        "AM-1",
        "dev-am",
        "offline",  # no status, a device: it has run before
    )
    assert (amiens["voice_model"], amiens["openai_model"], amiens["location_in_gym"]) == (
        "shimmer",
        "gpt-4o-realtime-preview",
        "Lobby",
    )
    assert amiens["last_heartbeat"] == _at("2024-12-31T23:00:00Z")
    assert amiens["hardware_info"] == {"screen": "10in"}

    # Slugs: derived from the gym name, de-duplicated around legacy slugs, normalised.
    assert k["salle-energie-bordeaux"]["gym_id"] == GYM["missing slug"].id
    assert k["fitness-club"]["gym_id"] == GYM["empty slug"].id
    assert k["fitness-club-2"]["gym_id"] == GYM["same name, null slug"].id
    assert k["coeur-de-ville"]["gym_id"] == GYM["unusable slug"].id
    assert k["lobby"]["gym_id"] == GYM["lobby first"].id
    assert k["lobby-2"]["gym_id"] == GYM["lobby-2 explicit"].id  # a legacy slug is kept
    assert k["lobby-3"]["gym_id"] == GYM["lobby again"].id  # skips the taken lobby-2
    assert k["lobby-4"]["gym_id"] == GYM["derived slug meets legacy ones"].id
    assert k["main-hall-1"]["gym_id"] == GYM["slug to normalize"].id
    assert k["perpignan"]["name"] == "Perpignan kiosk"

    # Provisioning codes: the oldest gym keeps a duplicate; numbers are codes; blanks are none.
    assert k["nantes"]["provisioning_code"] == "DUP-777"
    assert k["angers"]["provisioning_code"] is None
    assert (k["tours-1"]["provisioning_code"], k["tours-2"]["provisioning_code"]) == (
        "TOURS",
        None,
    )
    assert [k[f"poitiers-{n}"]["provisioning_code"] for n in (1, 2, 3, 4)] == [
        "123456",
        None,
        None,
        "PT-4",
    ]
    (angers,) = [i for i in issues if i["kiosk_id"] == k["angers"]["id"]]
    assert angers["raw"] == "DUP-777"
    assert "nantes" in angers["detail"]

    # Statuses: allowed values (any case) kept, others derived from the device id.
    assert [k[f"dijon-{n}"]["status"] for n in (1, 2, 3, 4, 5)] == [
        "provisioning",
        "online",
        "offline",
        "offline",
        "offline",
    ]

    # Heartbeats: ISO text and epoch seconds / milliseconds; anything else, or the future, null.
    may_first = _at("2024-05-01T10:00:00Z")
    assert [k[f"grenoble-{n}"]["last_heartbeat"] for n in range(1, 9)] == [
        None,
        may_first,
        may_first,
        None,
        None,
        None,
        None,
        may_first,
    ]

    assert [k[f"metz-{n}"]["hardware_info"] for n in (1, 2, 3, 4)] == [
        {"legacy_value": "raspberry pi 4"},
        {"model": "rpi4"},
        {"legacy_value": [1, 2]},
        None,
    ]
    assert [
        (k[f"lille-{n}"]["voice_model"], k[f"lille-{n}"]["openai_model"]) for n in (1, 2, 3)
    ] == [("alloy", DEFAULT_MODEL)] * 3
    assert (k["lille-4"]["voice_model"], k["lille-4"]["openai_model"]) == (
        "shimmer",
        "gpt-4o-realtime-preview",
    )
    assert [k[f"reims-{n}"]["name"] for n in (1, 2, 3)] == ["Reims kiosk 1", "17", "Reims kiosk 3"]
    assert k["brest"]["name"] == "Brest kiosk"

    # Ids: a valid legacy UUID is kept by its first claimant only.
    assert k["caen-1"]["id"] == legacy.KEPT_KIOSK_ID
    assert len({k[f"caen-{n}"]["id"] for n in (1, 2, 3)}) == 3

    assert (k["orleans-1"]["device_id"], k["orleans-2"]["device_id"]) == ("98765", None)
    assert k["orleans-2"]["status"] == "provisioning"
    assert k["nimes"]["location_in_gym"] is None
    assert k["pau-1"]["created_at"] == _gym_created_at("created_at")
    assert k["pau-2"]["created_at"] == datetime.fromtimestamp(1700000000, UTC)
    assert k["lyon-accueil"]["created_at"] == _gym_created_at("clean list")

    (unknown,) = [i for i in issues if i["kiosk_id"] == k["limoges"]["id"]]
    assert unknown["raw"] == {"wifi_password": "hunter2", "theme": "dark"}
    lost = sorted(
        (i["raw"] for i in issues if i["entity_id"] == GYM["mixed list"].id), key=json.dumps
    )
    assert lost == sorted(["garbage", 7, None, {}, []], key=json.dumps)
    assert {k["toulouse-a"]["provisioning_code"], k["toulouse-b"]["name"]} == {"TL-1", "Toulouse-B"}


# --- 0003: access columns → franchise_id / gym_id ---------------------------------------------


async def test_access_columns_are_carried_where_they_can_be(
    legacy_db: LegacyDb, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="alembic")
    legacy_db.migrate("0003")

    rows = {
        row["id"]: row
        for row in await legacy_db.conn.fetch("SELECT id, franchise_id, gym_id FROM registry.users")
    }
    assert len(rows) == len(USERS)
    issues = await legacy_db.issues("0003")
    for user in USERS:
        row = rows[user.id]
        assert (row["franchise_id"], row["gym_id"]) == (
            user.expect_franchise_id,
            user.expect_gym_id,
        ), user.label
        reported = sorted((i["field"], i["problem"]) for i in issues if i["entity_id"] == user.id)
        assert reported == sorted(user.problems), user.label
    assert all(i["entity"] == "user" and i["detail"] for i in issues)
    assert {"franchise_access", "gym_access"}.isdisjoint(await legacy_db.columns("users"))

    def raw(label: str, problem: str) -> list[Any]:
        return [
            i["raw"] for i in issues if i["entity_id"] == USER[label].id and i["problem"] == problem
        ]

    g1, g2 = legacy.G_ALPHA_1, legacy.G_ALPHA_2
    assert raw("first listed gym wins", "ambiguous") == [
        {"listed": [str(g2), str(g1)], "chosen": str(g2)}
    ]
    assert raw("gym already set", "not_carried") == [[str(g1)]]
    assert sorted(raw("mixed array", "invalid"), key=str) == [5, "junk"]
    assert raw("mixed array", "unknown_id") == [str(legacy.MISSING_GYM)]
    assert raw("dangling franchise_id", "dangling") == [str(legacy.MISSING_FRANCHISE)]
    assert raw("super admin", "not_applicable") == [[str(legacy.ALPHA)], [str(g1)]]
    assert (
        "legacy access columns: gym_access invalid: 5 (see registry.legacy_migration_issues)"
        in (caplog.messages)
    )
    with_access = sum(
        1 for u in USERS if u.franchise_access is not legacy.NULL or u.gym_access is not legacy.NULL
    )
    franchises = sum(1 for u in USERS if u.expect_franchise_id not in (None, u.franchise_id))
    gyms = sum(1 for u in USERS if u.expect_gym_id not in (None, u.gym_id))
    assert (franchises, gyms) == (6, 8)
    assert (
        f"legacy access columns: {len(USERS)} users, {with_access} with access values;"
        f" franchise_id filled for {franchises}, gym_id for {gyms}"
    ) in caplog.messages


# --- down and up again -------------------------------------------------------------------------


async def test_downgrade_gives_the_legacy_data_back_and_upgrade_is_repeatable(
    legacy_db: LegacyDb,
) -> None:
    legacy_db.migrate("0003")
    migrated = await legacy_db.kiosks()
    users = {
        row["id"]: row
        for row in await legacy_db.conn.fetch("SELECT id, franchise_id, gym_id FROM registry.users")
    }

    legacy_db.revert("0001")

    assert not await legacy_db.columns("kiosks")
    assert not await legacy_db.columns("legacy_migration_issues")
    configs = {
        row["id"]: row["kiosk_config"]
        for row in await legacy_db.conn.fetch("SELECT id, kiosk_config FROM registry.gyms")
    }
    for gym in GYMS:
        restored = configs[gym.id]
        original = json.loads(gym.config) if gym.label.startswith("double encoded") else gym.config
        if original is legacy.NULL or original is None:
            assert restored is None, gym.label
        elif gym.kiosks == 0:  # nothing was migrated: the config comes back as it was
            assert restored == original, gym.label
        elif gym.kiosks == 1 and isinstance(original, dict):
            assert isinstance(restored, dict), gym.label
            assert restored["slug"] == next(s for s, k in migrated.items() if k["gym_id"] == gym.id)
        else:
            assert isinstance(restored, list) and len(restored) == len(original), gym.label
            kiosk_items = [item for item in restored if isinstance(item, dict) and item]
            assert {item["slug"] for item in kiosk_items} == {
                s for s, k in migrated.items() if k["gym_id"] == gym.id
            }, gym.label

    # A clean legacy object comes back with the same values (timestamps in ISO form).
    paris = configs[GYM["clean object"].id]
    for key, value in GYM["clean object"].config.items():
        if key in ("last_heartbeat", "created_at"):
            assert _at(paris[key]) == _at(value)
        else:
            assert paris[key] == value, key
    assert configs[GYM["unknown keys"].id]["wifi_password"] == "hunter2"
    mixed = configs[GYM["mixed list"].id]
    assert sorted((item for item in mixed if item not in mixed[:2]), key=json.dumps) == sorted(
        ["garbage", 7, None, {}, []], key=json.dumps
    )

    # Users: the access columns are back, as arrays of the ids they were carried into.
    for row in await legacy_db.conn.fetch(
        "SELECT id, franchise_access, gym_access FROM registry.users"
    ):
        before = users[row["id"]]
        for access, column in (("franchise_access", "franchise_id"), ("gym_access", "gym_id")):
            expected = [str(before[column])] if before[column] else None
            assert row[access] == expected

    # Up again: the very same kiosks (ids, slugs, codes, every field).
    legacy_db.migrate("0003")
    again = await legacy_db.kiosks()
    assert {s: dict(k) for s, k in again.items()} == {s: dict(k) for s, k in migrated.items()}
    not_migrated = [i for i in await legacy_db.issues("0002") if i["problem"] == "not_a_kiosk"]
    assert len(not_migrated) == sum(legacy.kiosk_entries(gym.config) - gym.kiosks for gym in GYMS)


async def test_the_platform_revision_builds_on_the_migrated_data(legacy_db: LegacyDb) -> None:
    legacy_db.migrate("head")

    codes = {
        "paris-nord": "PN-1001",
        "lyon-accueil": "LY-1",
        "lyon-vestiaires": "LY-2",
        "marseille-prado": "MP-1",
        "toulouse-a": "TL-1",
        "salle-energie-bordeaux": "BX-1",
        "nantes": "DUP-777",
        "tours-1": "TOURS",
        "amiens": "AM-1",
        "poitiers-1": "123456",
        "poitiers-4": "PT-4",
    }
    kiosks = await legacy_db.kiosks()
    assert len(kiosks) == sum(gym.kiosks for gym in GYMS)
    for slug, kiosk in kiosks.items():
        code = codes.get(slug)
        expected = hashlib.sha256(code.encode()).hexdigest() if code else None
        assert kiosk["provisioning_code_hash"] == expected, slug
        assert kiosk["hardware_info"] is not None
    # The report outlives the migration.
    assert await legacy_db.issues("0002") and await legacy_db.issues("0003")

    # Because scopes were carried only where the role has them, these rows satisfy 0004's role
    # check and can still be updated.
    for label in ("super admin", "owner with a gym", "gym of the user's franchise wins"):
        await legacy_db.conn.execute(
            "UPDATE registry.users SET full_name = 'checked' WHERE id = $1", USER[label].id
        )

    legacy_db.revert("base")
    left = await legacy_db.conn.fetchval(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'registry'"
    )
    assert left == 1  # alembic_version


# --- volume -------------------------------------------------------------------------------------

GYMS_AT_SCALE = 20_000


async def test_tens_of_thousands_of_gyms_and_users(database_url: str) -> None:
    """Set-based, so volume costs seconds; the suffix loop only runs over clashing slugs."""
    downgrade(SERVICE, database_url, "0001")
    conn = await _connect(database_url)
    try:
        await conn.execute(
            f"""
            INSERT INTO registry.gyms (id, name, kiosk_config, created_at)
            SELECT gen_random_uuid(), 'Gym ' || (i % 50),
                   CASE i % 4
                   -- a list of two, with their own slugs and codes
                   WHEN 0 THEN jsonb_build_array(
                       jsonb_build_object('slug', 's-' || i || '-a', 'code', 'A' || i),
                       jsonb_build_object('slug', 's-' || i || '-b', 'code', 'B' || i))
                   -- one object; slugs and codes shared by groups of gyms
                   WHEN 1 THEN jsonb_build_object('slug', 'dup-' || (i / 40),
                                                  'provisioning_code', 'D' || (i / 20),
                                                  'status', 'weird', 'last_heartbeat', 'soon')
                   -- no slug: derived from one of 50 gym names, 100 gyms each
                   WHEN 2 THEN jsonb_build_object('name', 'Front desk')
                   ELSE to_jsonb('junk ' || i)
                   END,
                   timestamptz '2024-01-01' + i * interval '1 second'
            FROM generate_series(1, {GYMS_AT_SCALE}) AS i
            """
        )
        await conn.execute(
            """
            INSERT INTO registry.users (id, email, role, gym_access)
            SELECT gen_random_uuid(), 'u' || row_number() OVER () || '@x', 'gym_manager',
                   jsonb_build_array(id, 'junk')
            FROM registry.gyms
            """
        )
        started = time.perf_counter()
        upgrade(SERVICE, database_url, "0003")
        elapsed = time.perf_counter() - started

        quarter = GYMS_AT_SCALE // 4
        kiosks = await conn.fetchval("SELECT count(*) FROM registry.kiosks")
        assert kiosks == 4 * quarter  # 2 per list gym, 1 per object gym and per slug-less gym
        counts = dict(
            await conn.fetch(
                "SELECT field || ' ' || problem, count(*) FROM registry.legacy_migration_issues"
                " GROUP BY 1"
            )
        )
        assert counts["kiosk_config not_a_kiosk"] == quarter
        assert counts["slug missing"] == quarter
        assert counts["slug duplicate"] == quarter - quarter // 10  # groups of 10 gyms per slug
        assert counts["provisioning_code duplicate"] == quarter - quarter // 5
        assert counts["status invalid"] == counts["last_heartbeat invalid"] == quarter
        assert counts["gym_access invalid"] == GYMS_AT_SCALE
        assert await conn.fetchval("SELECT count(DISTINCT slug) FROM registry.kiosks") == kiosks
        assert await conn.fetchval("SELECT count(*) FROM registry.users WHERE gym_id IS NULL") == 0
        print(f"legacy migration of {GYMS_AT_SCALE} gyms and users: {elapsed:.1f} s")
    finally:
        await conn.close()
