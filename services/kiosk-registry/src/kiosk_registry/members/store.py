"""The writes and queries: set-based member upserts, check-in inserts, their events."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select, text

from jarvis_common.db import UnitOfWork
from jarvis_common.events.catalogue import MemberCheckedIn, MemberUpserted
from kiosk_registry.members.limits import CHECK_IN_CLOCK_SKEW
from kiosk_registry.members.models import (
    IMPORT_COLUMNS,
    CheckIn,
    CheckInIn,
    FieldError,
    Member,
    MemberFields,
    MemberRow,
    RowError,
)
from kiosk_registry.tables import check_ins, members

# Nullable columns: null clears them. The others treat null as "not given".
_NOT_NULL = frozenset({"language", "status"})
_COLUMN_TYPES = {name: ("date" if name.endswith("_at") else "text") for name in IMPORT_COLUMNS}

MEMBER_COLUMNS = [members.c[name] for name in Member.model_fields]


# --- members -----------------------------------------------------------------------------------


def members_of_gym(gym_id: uuid.UUID) -> Select[Any]:
    """The gym's members; the caller has checked the gym is visible."""
    return select(*MEMBER_COLUMNS).where(members.c.gym_id == gym_id)


async def _member_by_ref(
    uow: UnitOfWork, gym_id: uuid.UUID, external_ref: str, *, lock: bool = False
) -> Member | None:
    statement = members_of_gym(gym_id).where(members.c.external_ref == external_ref)
    if lock:
        statement = statement.with_for_update()
    row = (await uow.session.execute(statement)).mappings().one_or_none()
    return Member.model_validate(dict(row)) if row else None


def _given_columns(row: MemberRow) -> tuple[str, ...]:
    """The columns this row sets, in a fixed order (external_ref aside)."""
    given = row.model_fields_set
    return tuple(
        name
        for name in MemberFields.model_fields
        if name in given and not (name in _NOT_NULL and getattr(row, name) is None)
    )


def _upsert_sql(columns: tuple[str, ...]) -> str:
    names = ", ".join(("external_ref", *columns))
    arrays = ", ".join(
        f"CAST(:{name} AS {_COLUMN_TYPES[name]}[])" for name in ("external_ref", *columns)
    )
    if columns:
        changes = ", ".join(f"{name} = EXCLUDED.{name}" for name in columns)
        mine = ", ".join(f"m.{name}" for name in columns)
        theirs = ", ".join(f"EXCLUDED.{name}" for name in columns)
        # updated_at is the time of writing (not of the transaction's start) and always moves
        # forward, so consumers keeping "the latest updated_at" keep the committed state.
        on_conflict = (
            f"DO UPDATE SET {changes}, updated_at = GREATEST(clock_timestamp(), "
            "m.updated_at + interval '1 microsecond') "
            f"WHERE ROW({mine}) IS DISTINCT FROM ROW({theirs})"
        )
    else:
        on_conflict = "DO NOTHING"
    returning = ", ".join(f"m.{name}" for name in Member.model_fields)
    # Rows are written in external_ref order, so two concurrent imports lock in one order.
    return (
        f"INSERT INTO {members.fullname} AS m (id, gym_id, {names}, updated_at) "
        f"SELECT gen_random_uuid(), CAST(:gym_id AS uuid), {names}, clock_timestamp() "
        f"FROM unnest({arrays}) AS input({names}) ORDER BY external_ref "
        f"ON CONFLICT (gym_id, external_ref) {on_conflict} "
        f"RETURNING {returning}, (m.xmax = 0) AS created"
    )


@dataclass
class _Upserted:
    changed: list[dict[str, Any]]  # the member's columns, and `created`
    unchanged: int


async def _upsert(uow: UnitOfWork, gym: Any, rows: Sequence[MemberRow]) -> _Upserted:
    """Write the rows (external_refs are distinct), publish each change; a few statements."""
    groups: dict[tuple[str, ...], list[MemberRow]] = {}
    for row in rows:
        groups.setdefault(_given_columns(row), []).append(row)
    changed: list[dict[str, Any]] = []
    for columns, group in groups.items():
        params: dict[str, Any] = {"gym_id": gym["id"]}
        for name in ("external_ref", *columns):
            params[name] = [getattr(row, name) for row in group]
        result = await uow.session.execute(text(_upsert_sql(columns)), params)
        changed.extend(dict(record) for record in result.mappings())
    for record in changed:
        uow.publish(_member_event(record), gym_id=gym["id"], franchise_id=gym["franchise_id"])
    return _Upserted(changed, len(rows) - len(changed))


def _member_event(record: dict[str, Any]) -> MemberUpserted:
    # No last name, e-mail or phone: consumers need the contract, not the contact details.
    return MemberUpserted(
        member_id=record["id"],
        gym_id=record["gym_id"],
        first_name=record["first_name"],
        language=record["language"],
        status=record["status"],
        contract_type=record["contract_type"],
        joined_at=record["joined_at"],
        contract_ends_at=record["contract_ends_at"],
        cancelled_at=record["cancelled_at"],
        updated_at=record["updated_at"],
    )


# --- check-ins ---------------------------------------------------------------------------------


@dataclass
class _CheckInsWritten:
    created: list[CheckIn]
    duplicates: int
    errors: list[RowError]


def _aware(moment: datetime, zone: ZoneInfo) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


async def _record_check_ins(
    uow: UnitOfWork, gym: Any, rows: Sequence[tuple[int, CheckInIn]]
) -> _CheckInsWritten:
    """Resolve the members, refuse future times, insert the rest once; a few statements."""
    gym_id = gym["id"]
    refs = sorted({r.external_ref for _, r in rows if r.external_ref is not None})
    ids = sorted({r.member_id for _, r in rows if r.member_id is not None})
    by_ref: dict[str, uuid.UUID] = {}
    known_ids: set[uuid.UUID] = set()
    if refs or ids:
        found = await uow.session.execute(
            select(members.c.id, members.c.external_ref).where(
                members.c.gym_id == gym_id,
                members.c.external_ref.in_(refs) | members.c.id.in_(ids),
            )
        )
        for member_id, ref in found:
            by_ref[ref] = member_id
            known_ids.add(member_id)
    zone = ZoneInfo(gym["timezone"])
    latest = datetime.now(UTC) + CHECK_IN_CLOCK_SKEW
    errors: list[RowError] = []
    wanted: dict[tuple[uuid.UUID, datetime], str | None] = {}
    duplicates = 0
    for number, row in rows:
        member_id = by_ref.get(row.external_ref) if row.external_ref else row.member_id
        at = _aware(row.checked_in_at, zone)
        problem = None
        if member_id is None or member_id not in known_ids:
            who = row.external_ref if row.external_ref else row.member_id
            field_name = "external_ref" if row.external_ref else "member_id"
            problem = FieldError(
                field=field_name, code="unknown_member", message=f"no member {who} in this gym"
            )
        elif at > latest:
            problem = FieldError(
                field="checked_in_at",
                code="in_the_future",
                message=f"{at.isoformat()} is in the future",
            )
        if problem is not None:
            errors.append(RowError(row=number, external_ref=row.external_ref, errors=[problem]))
            continue
        assert member_id is not None
        if (member_id, at) in wanted:
            duplicates += 1
            continue
        wanted[(member_id, at)] = row.group_class
    created: list[CheckIn] = []
    if wanted:
        keys = sorted(wanted)
        inserted = await uow.session.execute(
            text(
                f"INSERT INTO {check_ins.fullname} (member_id, gym_id, checked_in_at, group_class) "
                "SELECT member_id, CAST(:gym_id AS uuid), checked_in_at, group_class "
                "FROM unnest(CAST(:member_ids AS uuid[]), CAST(:times AS timestamptz[]), "
                "CAST(:classes AS text[])) AS input(member_id, checked_in_at, group_class) "
                "ON CONFLICT (member_id, checked_in_at) DO NOTHING "
                "RETURNING id, member_id, gym_id, checked_in_at, group_class"
            ),
            {
                "gym_id": gym_id,
                "member_ids": [k[0] for k in keys],
                "times": [k[1] for k in keys],
                "classes": [wanted[k] for k in keys],
            },
        )
        created = [CheckIn.model_validate(dict(r)) for r in inserted.mappings()]
        duplicates += len(wanted) - len(created)
    for check_in in created:
        uow.publish(
            MemberCheckedIn(
                member_id=check_in.member_id,
                gym_id=check_in.gym_id,
                checked_in_at=check_in.checked_in_at,
                group_class=check_in.group_class,
            ),
            gym_id=gym_id,
            franchise_id=gym["franchise_id"],
        )
    return _CheckInsWritten(created, duplicates, errors)
