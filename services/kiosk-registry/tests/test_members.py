"""Members: single upsert, CSV/JSON imports with row-level errors, check-ins, their events.

Events are read from the registry's outbox (written in the request's transaction); no broker is
involved."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from registry_world import World, outbox_events
from sqlalchemy import func, select

from jarvis_common.service import ServiceApp
from kiosk_registry import members as members_module
from kiosk_registry.tables import check_ins, members

CSV = "text/csv"
JSON = "application/json"


def url(world: World, gym: str = "gym_a1", rest: str = "") -> str:
    return f"/api/v1/gyms/{world.ids[gym]}{rest}"


async def count(registry: ServiceApp, table: Any, *where: Any) -> int:
    async with registry.db.session() as session:
        return await session.scalar(select(func.count()).select_from(table).where(*where)) or 0


async def stored_members(registry: ServiceApp, gym_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    async with registry.db.session() as session:
        rows = await session.execute(select(members).where(members.c.gym_id == gym_id))
        return {row["external_ref"]: dict(row) for row in rows.mappings()}


async def post_file(
    world: World, body: str | bytes, content_type: str, who: str = "manager_a1", **kw: Any
) -> httpx.Response:
    return await world.api.post(
        url(world, kw.pop("gym", "gym_a1"), kw.pop("path", "/members/import")),
        content=body.encode() if isinstance(body, str) else body,
        headers={**world.as_(who), "content-type": content_type},
    )


def reconciled(report: dict[str, Any]) -> bool:
    return report["received"] == (
        report["created"] + report["updated"] + report["unchanged"] + report["failed"]
    )


def errors_by_row(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {e["row"]: e for e in report["errors"]}


# --- single upsert -----------------------------------------------------------------------------


async def test_single_upsert_creates_then_updates_then_changes_nothing(
    world: World, registry: ServiceApp
) -> None:
    api, path = world.api, url(world, rest="/members/A-1001")
    body = {
        "first_name": "Camille",
        "last_name": "Martin",
        "email": "Camille.Martin@Example.fr",
        "phone": "06 12 34 56 78",
        "joined_at": "2024-01-15",
        "contract_type": "annual",
    }
    created = await api.put(path, json=body, headers=world.as_("manager_a1"))
    assert created.status_code == 201, created.text
    member = created.json()
    assert (member["external_ref"], member["status"], member["language"]) == (
        "A-1001",
        "active",
        "fr",
    )
    assert member["email"] == "camille.martin@example.fr"
    upserted = await outbox_events(registry, "member.upserted")
    assert [e["key"] for e in upserted] == [member["id"]]
    assert upserted[0]["data"]["joined_at"] == "2024-01-15"
    assert upserted[0]["gym_id"] == str(world.ids["gym_a1"])
    assert upserted[0]["franchise_id"] == str(world.ids["franchise_a"])
    assert "example.fr" not in json.dumps(upserted[0]) and "Martin" not in json.dumps(upserted[0])

    again = await api.put(path, json=body, headers=world.as_("manager_a1"))
    assert again.status_code == 200
    assert again.json()["updated_at"] == member["updated_at"]
    assert len(await outbox_events(registry, "member.upserted")) == 1

    # Absent fields are kept; a status change is one more event.
    frozen = await api.put(path, json={"status": "FROZEN"}, headers=world.as_("owner_a"))
    assert frozen.status_code == 200
    assert frozen.json()["status"] == "frozen" and frozen.json()["first_name"] == "Camille"
    assert frozen.json()["updated_at"] > member["updated_at"]
    upserted = await outbox_events(registry, "member.upserted")
    assert [e["data"]["status"] for e in upserted] == ["active", "frozen"]
    assert {e["key"] for e in upserted} == {member["id"]}

    # null clears a field; null status keeps the status.
    cleared = await api.put(
        path, json={"phone": None, "status": None}, headers=world.as_("manager_a1")
    )
    assert (cleared.json()["phone"], cleared.json()["status"]) == (None, "frozen")

    got = await api.get(url(world, rest=f"/members/{member['id']}"), headers=world.as_("owner_a"))
    assert got.status_code == 200 and got.json()["phone"] is None
    listed = await api.get(
        url(world, rest="/members?status=frozen"), headers=world.as_("manager_a1")
    )
    assert [m["id"] for m in listed.json()["items"]] == [member["id"]]
    none_active = await api.get(
        url(world, rest="/members?status=active"), headers=world.as_("manager_a1")
    )
    assert none_active.json()["total"] == 0


async def test_an_external_ref_may_contain_a_slash(world: World) -> None:
    response = await world.api.put(
        url(world, rest="/members/2023%2F0042"), json={}, headers=world.as_("manager_a1")
    )
    assert response.status_code == 201, response.text
    assert response.json()["external_ref"] == "2023/0042"


async def test_a_bad_member_is_a_422_and_writes_nothing(world: World, registry: ServiceApp) -> None:
    bodies: list[dict[str, Any]] = [
        {"email": "not-an-email"},
        {"joined_at": "31/02/2024"},
        {"joined_at": "2024-13-01"},
        {"joined_at": 1700000000},
        {"joined_at": "1024-01-01"},
        {"status": "gone"},
        {"language": "french"},
        {"phone": "call me"},
        {"first_name": "x" * 101},
        {"nickname": "Cam"},
        {"joined_at": "2024-05-01", "contract_ends_at": "2024-04-30"},
    ]
    for body in bodies:
        response = await world.api.put(
            url(world, rest="/members/A-1"), json=body, headers=world.as_("manager_a1")
        )
        assert response.status_code == 422, (body, response.text)
        assert response.json()
    assert await count(registry, members) == 0
    assert await outbox_events(registry, "member.upserted") == []


# --- imports -----------------------------------------------------------------------------------

# Excel's "CSV UTF-8" in French: a BOM, `;`, CRLF, DD/MM/YYYY dates, a trailing empty row.
MIXED_CSV = (
    "\ufeffExternal Ref;First Name;last_name;email;status;joined_at;contract_ends_at\r\n"
    "A-1;Camille;Martin;camille@example.fr;active;15/01/2024;2025-01-14\r\n"  # row 2: good
    "A-2;Léo;Bernard;;FROZEN;2023-09-01;\r\n"  # row 3: good
    "A-3;Inès;Petit;ines@example.fr;active;31/02/2024;\r\n"  # row 4: bad date
    "A-4;Hugo;Durand;;gone;;\r\n"  # row 5: bad status
    ";Jade;Leroy;jade@example.fr;active;;\r\n"  # row 6: no external_ref
    "A-6;Louis;Moreau;louis@;active;;\r\n"  # row 7: bad e-mail
    "A-7;Emma;Simon;;active;;\r\n"  # row 8: duplicated below
    "\r\n"  # row 9: blank, not a row
    "A-7;Emma;Simon;emma@example.fr;cancelled;;\r\n"  # row 10: duplicate
    '"A-8";"Chloé, dite ""Clo""";Laurent;;active;01/03/2022;\r\n'  # row 11: good, quoted
    "A-9;Too;Many;cells;active;;;extra\r\n"  # row 12: ragged
    ";;;;;;\r\n"  # row 13: empty cells, not a row
)


async def test_csv_import_keeps_good_rows_and_reports_each_bad_one(
    world: World, registry: ServiceApp
) -> None:
    response = await post_file(world, MIXED_CSV, "text/csv; charset=utf-8")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["format"] == "csv"
    assert (report["received"], report["created"], report["updated"], report["unchanged"]) == (
        10,
        3,
        0,
        0,
    )
    assert report["failed"] == 7 and reconciled(report) and not report["errors_truncated"]
    errors = errors_by_row(report)
    assert sorted(errors) == [4, 5, 6, 7, 8, 10, 12]

    def fields(row: int) -> set[str | None]:
        return {e["field"] for e in errors[row]["errors"]}

    assert fields(4) == {"joined_at"} and "31/02/2024" in errors[4]["errors"][0]["message"]
    assert fields(5) == {"status"} and errors[5]["external_ref"] == "A-4"
    assert fields(6) == {"external_ref"} and errors[6]["external_ref"] is None
    assert fields(7) == {"email"}
    assert [e["code"] for e in errors[8]["errors"]] == ["duplicate_in_file"]
    assert [e["code"] for e in errors[10]["errors"]] == ["duplicate_in_file"]
    assert "8, 10" in errors[10]["errors"][0]["message"]
    assert [e["code"] for e in errors[12]["errors"]] == ["wrong_cell_count"]
    assert errors[12]["external_ref"] == "A-9"

    stored = await stored_members(registry, world.ids["gym_a1"])
    assert set(stored) == {"A-1", "A-2", "A-8"}
    assert str(stored["A-1"]["joined_at"]) == "2024-01-15"
    assert (stored["A-2"]["status"], stored["A-2"]["email"]) == ("frozen", None)
    assert stored["A-8"]["first_name"] == 'Chloé, dite "Clo"'
    upserted = await outbox_events(registry, "member.upserted")
    assert sorted(e["key"] for e in upserted) == sorted(str(m["id"]) for m in stored.values())


async def test_reimporting_the_same_file_changes_and_publishes_nothing(
    world: World, registry: ServiceApp
) -> None:
    first = (await post_file(world, MIXED_CSV, CSV)).json()
    published = await outbox_events(registry, "member.upserted")
    updated_at = {
        k: v["updated_at"] for k, v in (await stored_members(registry, world.ids["gym_a1"])).items()
    }

    second = (await post_file(world, MIXED_CSV, CSV)).json()
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, first["created"])
    assert second["failed"] == first["failed"] and reconciled(second)
    assert await outbox_events(registry, "member.upserted") == published
    after = {
        k: v["updated_at"] for k, v in (await stored_members(registry, world.ids["gym_a1"])).items()
    }
    assert after == updated_at

    # One changed row: one update, one event, keyed by that member.
    changed = MIXED_CSV.replace("A-2;Léo;Bernard;;FROZEN", "A-2;Léo;Bernard;;cancelled")
    third = (await post_file(world, changed, CSV)).json()
    assert (third["created"], third["updated"], third["unchanged"]) == (0, 1, 2)
    stored = await stored_members(registry, world.ids["gym_a1"])
    new_events = (await outbox_events(registry, "member.upserted"))[len(published) :]
    assert [(e["key"], e["data"]["status"]) for e in new_events] == [
        (str(stored["A-2"]["id"]), "cancelled")
    ]


async def test_json_import_and_absent_columns_keep_what_is_stored(
    world: World, registry: ServiceApp
) -> None:
    rows = [
        {"external_ref": "J-1", "first_name": "Nina", "status": "active", "email": "n@ex.fr"},
        {"external_ref": "J-2", "first_name": "Paul", "joined_at": "2024-02-29"},
        "not an object",
        {"external_ref": "J-4", "joined_at": 1700000000},
        {"external_ref": "J-5", "shoe_size": 42},
        {"first_name": "nobody"},
        {"external_ref": 1001, "first_name": "Numeric"},
    ]
    response = await post_file(world, json.dumps(rows), JSON, who="owner_a")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["format"], report["received"], report["created"], report["failed"]) == (
        "json",
        7,
        3,
        4,
    )
    assert reconciled(report)
    errors = errors_by_row(report)
    assert sorted(errors) == [2, 3, 4, 5]  # JSON rows are array indexes
    assert errors[2]["errors"][0]["code"] == "not_an_object"
    assert errors[3]["errors"][0]["field"] == "joined_at"
    assert errors[4]["errors"][0] == {
        "field": "shoe_size",
        "code": "extra_forbidden",
        "message": "unknown field",
    }
    assert errors[5]["errors"][0]["field"] == "external_ref"
    assert (await stored_members(registry, world.ids["gym_a1"]))["1001"]["first_name"] == "Numeric"

    # A CSV with `,` and only two columns changes the status and keeps names and e-mails.
    update = "external_ref,status\nJ-1,frozen\nJ-2,active\n"
    report = (await post_file(world, update, CSV)).json()
    assert (report["updated"], report["unchanged"]) == (1, 1)
    stored = await stored_members(registry, world.ids["gym_a1"])
    assert (stored["J-1"]["status"], stored["J-1"]["first_name"], stored["J-1"]["email"]) == (
        "frozen",
        "Nina",
        "n@ex.fr",
    )
    # JSON rows with different keys: each one sets only its own.
    mixed = [{"external_ref": "J-1", "first_name": "Nine"}, {"external_ref": "J-2", "phone": None}]
    report = (await post_file(world, json.dumps(mixed), JSON)).json()
    assert (report["updated"], report["unchanged"]) == (1, 1)
    stored = await stored_members(registry, world.ids["gym_a1"])
    assert (stored["J-1"]["first_name"], stored["J-1"]["status"]) == ("Nine", "frozen")


async def test_a_file_that_cannot_be_read_is_refused_whole(
    world: World, registry: ServiceApp
) -> None:
    big = "external_ref\n" + "x" * (members_module.MAX_IMPORT_BYTES + 1)
    many = "external_ref\n" + "".join(f"r{i}\n" for i in range(members_module.MAX_IMPORT_ROWS + 1))
    cases = [
        ("external_ref\nA-1\n", "text/plain", 415),
        ("external_ref\nA-1\n", "application/x-www-form-urlencoded", 415),
        ("", CSV, 422),
        ("", JSON, 422),
        ("[{", JSON, 422),
        ('{"external_ref": "A-1"}', JSON, 422),
        ("external_ref;emial\nA-1;a@b.fr\n", CSV, 422),  # unknown column
        ("first_name\nCamille\n", CSV, 422),  # no external_ref column
        ("external_ref;external_ref\nA-1;A-1\n", CSV, 422),
        ('external_ref;first_name\nA-1;"unterminated\n', CSV, 422),
        ("external_ref;first_name\nA-1;Z\xe9\n".encode("latin-1"), CSV, 422),
        (big, CSV, 413),
        (many, CSV, 413),
        (json.dumps([{"external_ref": f"r{i}"} for i in range(50_001)]), JSON, 413),
    ]
    for body, content_type, expected in cases:
        response = await post_file(world, body, content_type)
        assert response.status_code == expected, (body[:60], response.text)
        error = response.json()["error"]
        assert error["code"] and error["message"]

    # Without a Content-Length the body is cut off as it streams in.
    async def chunks() -> Any:
        for _ in range(11):
            yield b"x" * (1024 * 1024)

    streamed = await world.api.post(
        url(world, rest="/members/import"),
        content=chunks(),
        headers={**world.as_("manager_a1"), "content-type": CSV},
    )
    assert "content-length" not in streamed.request.headers
    assert streamed.status_code == 413, streamed.text
    assert await count(registry, members) == 0
    # Latin-1 is fine when the Content-Type says so.
    latin = "external_ref;first_name\nA-1;Z\xe9\n".encode("latin-1")
    response = await post_file(world, latin, "text/csv; charset=ISO-8859-1")
    assert response.status_code == 200 and response.json()["created"] == 1
    assert (await stored_members(registry, world.ids["gym_a1"]))["A-1"]["first_name"] == "Zé"
    assert await count(registry, members) == 1


async def test_an_import_is_one_transaction(
    world: World, registry: ServiceApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the process died here")

    # The failure comes after every member was written and every event recorded.
    monkeypatch.setattr(members_module, "record_change", crash)
    with pytest.raises(RuntimeError):
        await post_file(world, "external_ref\nA-1\nA-2\n", CSV)
    assert await count(registry, members) == 0
    assert await outbox_events(registry, "member.upserted") == []


# --- audit -------------------------------------------------------------------------------------


async def test_changes_are_audited_without_contact_details_and_within_the_tenant(
    world: World, registry: ServiceApp
) -> None:
    api = world.api
    await api.put(
        url(world, rest="/members/A-1"),
        json={"first_name": "Camille", "email": "camille@secret.fr", "phone": "0611223344"},
        headers=world.as_("manager_a1"),
    )
    await api.put(
        url(world, rest="/members/A-1"),
        json={"email": "camille2@secret.fr", "status": "frozen"},
        headers=world.as_("manager_a1"),
    )
    report = (await post_file(world, MIXED_CSV, CSV)).json()
    await post_file(world, MIXED_CSV, CSV)  # changes nothing: no audit entry

    log = (await api.get("/api/v1/audit-log?limit=500", headers=world.as_("owner_a"))).json()
    entries = [e for e in log["items"] if e["entity_type"] in ("member", "member_import")]
    assert [e["action"] for e in entries] == [
        "members.imported",
        "member.updated",
        "member.created",
    ]
    imported, updated, created = entries
    assert imported["entity_id"] == report["import_id"]
    assert (imported["after"]["created"], imported["after"]["updated"]) == (2, 1)
    assert imported["after"]["failed"] == report["failed"]
    assert updated["before"]["status"] == "active" and updated["after"]["status"] == "frozen"
    assert updated["after"]["contact_details_changed"] == ["email"]
    assert created["actor_id"] == str(world.ids["user_manager_a1"])
    assert all(e["gym_id"] == str(world.ids["gym_a1"]) for e in entries)
    everything = await api.get("/api/v1/audit-log?limit=500", headers=world.as_("admin"))
    assert "secret.fr" not in everything.text and "0611223344" not in everything.text
    # Other tenants do not see the gym's member entries at all.
    for who in ("owner_b", "manager_b1", "manager_i1"):
        other = await api.get("/api/v1/audit-log?limit=500", headers=world.as_(who))
        assert "Camille" not in other.text
        assert all(e["gym_id"] != str(world.ids["gym_a1"]) for e in other.json()["items"])


# --- check-ins ---------------------------------------------------------------------------------


async def _member(world: World, ref: str, gym: str = "gym_a1") -> str:
    response = await world.api.put(
        url(world, gym, f"/members/{ref}"), json={}, headers=world.as_("admin")
    )
    assert response.status_code == 201
    return response.json()["id"]


async def test_a_check_in_is_stored_and_published_once(world: World, registry: ServiceApp) -> None:
    api, path = world.api, url(world, rest="/check-ins")
    member_id = await _member(world, "A-1")
    at = "2024-05-01T18:30:00+02:00"
    first = await api.post(
        path,
        json={"external_ref": "A-1", "checked_in_at": at, "group_class": "Yoga"},
        headers=world.as_("manager_a1"),
    )
    assert first.status_code == 201, first.text
    check_in = first.json()
    assert check_in["member_id"] == member_id and check_in["group_class"] == "Yoga"
    # The same check-in again, by external_ref or by member id, in another offset: stored once.
    again = await api.post(
        path,
        json={"external_ref": "A-1", "checked_in_at": at},
        headers=world.as_("manager_a1"),
    )
    by_id = await api.post(
        path,
        json={"member_id": member_id, "checked_in_at": "2024-05-01T16:30:00Z"},
        headers=world.as_("owner_a"),
    )
    assert (again.status_code, by_id.status_code) == (200, 200)
    assert again.json()["id"] == by_id.json()["id"] == check_in["id"]
    assert await count(registry, check_ins) == 1
    published = await outbox_events(registry, "member.checked_in")
    assert [(e["key"], e["data"]["group_class"]) for e in published] == [(member_id, "Yoga")]
    assert published[0]["data"]["checked_in_at"].startswith("2024-05-01T16:30:00")

    listed = await api.get(
        url(world, rest=f"/members/{member_id}/check-ins"), headers=world.as_("manager_a1")
    )
    assert [c["id"] for c in listed.json()["items"]] == [check_in["id"]]


async def test_a_check_in_without_offset_is_in_the_gym_time_zone(
    world: World, registry: ServiceApp
) -> None:
    await _member(world, "L-1", gym="gym_i1")  # Europe/London
    response = await world.api.post(
        url(world, "gym_i1", "/check-ins"),
        json={"external_ref": "L-1", "checked_in_at": "2024-07-01T10:00:00"},
        headers=world.as_("manager_i1"),
    )
    assert response.status_code == 201, response.text
    assert datetime.fromisoformat(response.json()["checked_in_at"]) == datetime(
        2024, 7, 1, 9, 0, tzinfo=UTC
    )


async def test_a_bad_check_in_is_refused(world: World, registry: ServiceApp) -> None:
    api, path = world.api, url(world, rest="/check-ins")
    member_id = await _member(world, "A-1")
    foreign_member = await _member(world, "B-1", gym="gym_b1")
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    soon = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    cases = [
        ({"external_ref": "nobody", "checked_in_at": "2024-05-01T18:30:00Z"}, 404),
        ({"member_id": foreign_member, "checked_in_at": "2024-05-01T18:30:00Z"}, 404),
        ({"member_id": str(uuid.uuid4()), "checked_in_at": "2024-05-01T18:30:00Z"}, 404),
        ({"external_ref": "A-1", "checked_in_at": future}, 422),
        ({"external_ref": "A-1", "checked_in_at": "2024-05-01"}, 422),
        ({"external_ref": "A-1", "checked_in_at": "yesterday"}, 422),
        ({"external_ref": "A-1", "member_id": member_id, "checked_in_at": soon}, 422),
        ({"checked_in_at": soon}, 422),
    ]
    for body, expected in cases:
        response = await api.post(path, json=body, headers=world.as_("manager_a1"))
        assert response.status_code == expected, (body, response.text)
        assert response.json()
    assert await count(registry, check_ins) == 0
    # Within the clock-skew allowance is fine.
    ok = await api.post(
        path, json={"external_ref": "A-1", "checked_in_at": soon}, headers=world.as_("manager_a1")
    )
    assert ok.status_code == 201


async def test_bulk_check_ins_report_bad_rows_and_store_each_check_in_once(
    world: World, registry: ServiceApp
) -> None:
    api = world.api
    one = await _member(world, "A-1")
    two = await _member(world, "A-2")
    await _member(world, "B-1", gym="gym_b1")
    stored = await api.post(
        url(world, rest="/check-ins"),
        json={"external_ref": "A-2", "checked_in_at": "2024-05-02T07:00:00Z"},
        headers=world.as_("manager_a1"),
    )
    assert stored.status_code == 201
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    rows = [
        {
            "external_ref": "A-1",
            "checked_in_at": "2024-05-01T18:30:00+02:00",
            "group_class": "Yoga",
        },
        {"member_id": one, "checked_in_at": "2024-05-01T16:30:00Z"},  # the same one again
        {"external_ref": "A-1", "checked_in_at": "2024-05-03T18:30:00+02:00"},
        {"external_ref": "A-2", "checked_in_at": "2024-05-02T07:00:00Z"},  # already stored
        {"external_ref": "B-1", "checked_in_at": "2024-05-01T10:00:00Z"},  # another gym's
        {"external_ref": "A-1", "checked_in_at": future},
        {"external_ref": "A-1", "checked_in_at": "01/05/2024"},
        {"external_ref": "A-1"},
    ]
    response = await post_file(world, json.dumps(rows), JSON, path="/check-ins/import")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["received"], report["created"], report["duplicates"], report["failed"]) == (
        8,
        2,
        2,
        4,
    )
    errors = errors_by_row(report)
    assert {row: e["errors"][0]["code"] for row, e in errors.items()} == {
        4: "unknown_member",
        5: "in_the_future",
        6: "value_error",
        7: "missing",
    }
    assert await count(registry, check_ins, check_ins.c.member_id == one) == 2
    published = await outbox_events(registry, "member.checked_in")
    assert sorted(e["key"] for e in published) == sorted([two, one, one])

    # A French CSV export of the same check-ins: all already stored, nothing published.
    french = (
        "\ufeffexternal_ref;checked_in_at;group_class\r\n"
        "A-1;01/05/2024 18:30;Yoga\r\n"  # Europe/Paris, the gym's zone
        "A-1;03/05/2024 18:30:00;\r\n"
    )
    report = (await post_file(world, french, CSV, path="/check-ins/import")).json()
    assert (report["received"], report["created"], report["duplicates"]) == (2, 0, 2), report
    assert len(await outbox_events(registry, "member.checked_in")) == 3


# --- tenancy -----------------------------------------------------------------------------------


async def test_another_tenants_gym_and_members_are_404_everywhere(
    world: World, registry: ServiceApp
) -> None:
    api = world.api
    member_id = await _member(world, "A-1")
    check_in = {"external_ref": "A-1", "checked_in_at": "2024-05-01T18:30:00Z"}
    gym_a1 = url(world)
    for who in ("manager_b1", "owner_b", "manager_i1"):
        headers = world.as_(who)
        calls = [
            api.get(f"{gym_a1}/members", headers=headers),
            api.get(f"{gym_a1}/members/{member_id}", headers=headers),
            api.get(f"{gym_a1}/members/{member_id}/check-ins", headers=headers),
            api.put(f"{gym_a1}/members/A-1", json={"status": "cancelled"}, headers=headers),
            api.post(
                f"{gym_a1}/members/import",
                content=b"external_ref\nA-1\n",
                headers={**headers, "content-type": CSV},
            ),
            api.post(f"{gym_a1}/check-ins", json=check_in, headers=headers),
            api.post(
                f"{gym_a1}/check-ins/import",
                content=json.dumps([check_in]).encode(),
                headers={**headers, "content-type": JSON},
            ),
        ]
        for call in calls:
            response = await call
            assert response.status_code == 404, (who, response.request.url, response.text)
            assert response.json()["error"]["code"] == "not_found"
    # A member id from another gym is 404 even for someone who sees both gyms.
    gym_b1 = url(world, "gym_b1")
    for path in (f"{gym_b1}/members/{member_id}", f"{gym_b1}/members/{member_id}/check-ins"):
        assert (await api.get(path, headers=world.as_("admin"))).status_code == 404
    # Nothing changed, nothing was recorded.
    stored = await stored_members(registry, world.ids["gym_a1"])
    assert stored["A-1"]["status"] == "active"
    assert await count(registry, check_ins) == 0
    assert await stored_members(registry, world.ids["gym_b1"]) == {}
    own = await api.get(f"{gym_b1}/members", headers=world.as_("manager_b1"))
    assert own.status_code == 200 and own.json()["total"] == 0


async def test_concurrent_identical_requests_store_and_publish_once(
    world: World, registry: ServiceApp
) -> None:
    body = "external_ref;status\n" + "".join(f"C{i:05d};active\n" for i in range(2_000))
    first, second = await asyncio.gather(post_file(world, body, CSV), post_file(world, body, CSV))
    reports = [first.json(), second.json()]
    assert (first.status_code, second.status_code) == (200, 200)
    assert sorted((r["created"], r["unchanged"]) for r in reports) == [(0, 2_000), (2_000, 0)]
    assert len(await outbox_events(registry, "member.upserted")) == 2_000

    check_in = {"external_ref": "C00001", "checked_in_at": "2024-05-01T18:30:00Z"}
    responses = await asyncio.gather(
        *[
            world.api.post(url(world, rest="/check-ins"), json=check_in, headers=world.as_(who))
            for who in ("manager_a1", "owner_a")
        ]
    )
    assert sorted(r.status_code for r in responses) == [200, 201]
    assert responses[0].json()["id"] == responses[1].json()["id"]
    assert len(await outbox_events(registry, "member.checked_in")) == 1


# --- volume ------------------------------------------------------------------------------------


async def test_a_large_import_is_set_based(world: World, registry: ServiceApp) -> None:
    """20,000 rows: measured and printed (run with -s), not asserted."""
    rows = 20_000
    lines = ["external_ref;first_name;last_name;email;phone;status;contract_type;joined_at"]
    lines += [
        f"M{i:06d};Prénom{i};Nom{i};m{i}@example.fr;06 12 {i % 100:02d} 34 56;"
        f"{('active', 'frozen', 'cancelled')[i % 3]};annual;{1 + i % 28:02d}/0{1 + i % 9}/2023"
        for i in range(rows)
    ]
    body = "\r\n".join(lines) + "\r\n"

    started = time.perf_counter()
    response = await post_file(world, body, CSV)
    first_s = time.perf_counter() - started
    assert response.status_code == 200, response.text[:500]
    report = response.json()
    assert (report["created"], report["failed"]) == (rows, 0)
    assert await count(registry, members) == rows
    assert len(await outbox_events(registry, "member.upserted")) == rows

    started = time.perf_counter()
    again = (await post_file(world, body, CSV)).json()
    second_s = time.perf_counter() - started
    assert again["unchanged"] == rows
    assert len(await outbox_events(registry, "member.upserted")) == rows

    print(
        f"\nimport of {rows:,} rows ({len(body) / 1e6:.1f} MB): first {first_s:.2f} s "
        f"({rows / first_s:,.0f} rows/s, {rows} events), "
        f"re-import {second_s:.2f} s ({rows / second_s:,.0f} rows/s, 0 events)"
    )
