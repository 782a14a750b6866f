"""Gym members and their check-ins: single upsert, bulk import (CSV or JSON), check-ins.

Members are keyed by the gym's own member number, `external_ref` (unique per gym). One pydantic
model (`MemberRow`) validates a member whether it comes from the single upsert or from a row of
an import, so both accept exactly the same values.

Field presence: a field that is absent (a JSON key not sent, a CSV column not in the header)
leaves the stored value as it is; a field sent as null (or an empty CSV cell) clears it. The two
non-nullable fields, `language` and `status`, treat null as absent: they keep their value, and a
new member gets the default (`fr`, `active`).

Imports are set-based: the rows are parsed and validated in a worker thread, then every good row
is written by one `INSERT … SELECT FROM unnest(…) ON CONFLICT DO UPDATE … WHERE <something
changed>` per distinct set of fields (a CSV file is one set), all in the request's transaction.
The statement tells apart created, updated and unchanged members, so `member.upserted` is
published only for members that really changed: re-importing a file publishes nothing.

A member whose `external_ref` appears on several rows of one file is not imported: every one of
those rows is reported as an error. The order of rows in an export carries no meaning, so
picking one of two contradicting rows (say an old cancelled contract and a new active one) would
send a guess to the churn engine.

Check-ins are facts, stored once per (member, time): sending one again is harmless and publishes
nothing. A time without a UTC offset is read in the gym's time zone. See docs/member-import.md.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import Select, select

from jarvis_common.db import UnitOfWork
from jarvis_common.errors import AppError, NotFound
from kiosk_registry.audit import record_change
from kiosk_registry.auth import Principal
from kiosk_registry.members.errors import InvalidImport, PayloadTooLarge, UnsupportedMediaType
from kiosk_registry.members.limits import (
    CHECK_IN_CLOCK_SKEW,
    CSV_MEDIA_TYPES,
    JSON_MEDIA_TYPES,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ROWS,
    MAX_LISTED_ERRORS,
)
from kiosk_registry.members.models import (
    CHECK_IN_COLUMNS,
    IMPORT_COLUMNS,
    CheckIn,
    CheckInIn,
    CheckInReport,
    FieldError,
    ImportReport,
    Member,
    MemberFields,
    MemberRow,
    Outcome,
    RowError,
)
from kiosk_registry.members.parsing import _Parsed, import_format, parse_import
from kiosk_registry.members.store import (
    MEMBER_COLUMNS,
    _aware,
    _member_by_ref,
    _record_check_ins,
    _upsert,
    members_of_gym,
)
from kiosk_registry.members.validation import (
    _field_errors,
    _Validated,
    validate_check_in_rows,
    validate_member_rows,
)
from kiosk_registry.members.values import (
    Day,
    Email,
    ExternalRef,
    GroupClass,
    Language,
    MemberStatus,
    Name,
    Phone,
    Status,
)
from kiosk_registry.tables import check_ins, members
from kiosk_registry.tenancy import visible_gym

__all__ = [
    "CHECK_IN_CLOCK_SKEW",
    "CHECK_IN_COLUMNS",
    "CSV_MEDIA_TYPES",
    "IMPORT_COLUMNS",
    "JSON_MEDIA_TYPES",
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_ROWS",
    "MAX_LISTED_ERRORS",
    "MEMBER_COLUMNS",
    "BodyReader",
    "CheckIn",
    "CheckInIn",
    "CheckInReport",
    "Day",
    "Email",
    "ExternalRef",
    "FieldError",
    "GroupClass",
    "ImportReport",
    "InvalidImport",
    "Language",
    "Member",
    "MemberFields",
    "MemberRow",
    "MemberStatus",
    "Name",
    "Outcome",
    "PayloadTooLarge",
    "Phone",
    "RowError",
    "Status",
    "UnsupportedMediaType",
    "get_member",
    "import_check_ins",
    "import_format",
    "import_members",
    "member_check_ins",
    "members_of_gym",
    "parse_import",
    "record_check_in",
    "upsert_member",
    "validate_check_in_rows",
    "validate_member_rows",
]

# --- members -----------------------------------------------------------------------------------


async def get_member(
    uow: UnitOfWork, principal: Principal, gym_id: uuid.UUID, member_id: uuid.UUID
) -> Member:
    await visible_gym(uow, principal, gym_id)
    row = (
        (await uow.session.execute(members_of_gym(gym_id).where(members.c.id == member_id)))
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFound(f"no member {member_id} in gym {gym_id}")
    return Member.model_validate(dict(row))


# Contact details are never copied into the audit log; it records that they changed.
_AUDIT_HIDDEN = ("email", "phone")


def _audit_view(member: Member | None, changed: Iterable[str] = ()) -> dict[str, Any] | None:
    if member is None:
        return None
    view = member.model_dump(mode="json", exclude=set(_AUDIT_HIDDEN))
    hidden = sorted(set(changed) & set(_AUDIT_HIDDEN))
    if hidden:
        view["contact_details_changed"] = hidden
    return view


async def upsert_member(
    uow: UnitOfWork,
    principal: Principal,
    gym_id: uuid.UUID,
    external_ref: str,
    body: MemberFields,
) -> tuple[Member, Outcome]:
    gym = await visible_gym(uow, principal, gym_id)
    try:
        row = MemberRow.model_validate(
            {**body.model_dump(exclude_unset=True), "external_ref": external_ref}
        )
    except ValidationError as exc:
        message = "; ".join(f"{e.field}: {e.message}" for e in _field_errors(exc))
        raise AppError(message, code="invalid_member", status_code=422) from exc
    before = await _member_by_ref(uow, gym_id, row.external_ref, lock=True)
    result = await _upsert(uow, gym, [row])
    if not result.changed:
        # Nothing to write. (`before` is None only if a concurrent request just created this
        # very member with the same data.)
        member = before or await _member_by_ref(uow, gym_id, row.external_ref)
        assert member is not None
        return member, "unchanged"
    record = result.changed[0]
    created = record.pop("created")
    member = Member.model_validate(record)
    changed_fields = [
        name
        for name in MemberFields.model_fields
        if before is None or getattr(before, name) != getattr(member, name)
    ]
    await record_change(
        uow,
        principal.actor,
        "member.created" if created else "member.updated",
        "member",
        member.id,
        gym_id=gym_id,
        franchise_id=gym["franchise_id"],
        before=_audit_view(before, changed_fields),
        after=_audit_view(member, changed_fields),
    )
    return member, "created" if created else "updated"


BodyReader = Callable[[], Awaitable[bytes]]


async def import_members(
    uow: UnitOfWork,
    principal: Principal,
    gym_id: uuid.UUID,
    content_type: str | None,
    read_body: BodyReader,
) -> ImportReport:
    """Upsert every good row of a CSV or JSON file in this transaction; report the others."""
    gym = await visible_gym(uow, principal, gym_id)
    import_format(content_type)  # 415 before reading the body
    body = await read_body()

    def parse_and_validate() -> tuple[_Parsed, _Validated]:
        parsed = parse_import(body, content_type, IMPORT_COLUMNS, required="external_ref")
        return parsed, validate_member_rows(parsed.rows)

    parsed, validated = await asyncio.to_thread(parse_and_validate)
    upserted = await _upsert(uow, gym, [model for _, model in validated.good])
    created = sum(1 for record in upserted.changed if record["created"])
    report = ImportReport(
        import_id=uuid.uuid4(),
        format=parsed.format,
        received=len(parsed.rows),
        created=created,
        updated=len(upserted.changed) - created,
        unchanged=upserted.unchanged,
        failed=len(validated.errors),
        errors=validated.errors[:MAX_LISTED_ERRORS],
        errors_truncated=len(validated.errors) > MAX_LISTED_ERRORS,
    )
    if upserted.changed:
        await record_change(
            uow,
            principal.actor,
            "members.imported",
            "member_import",
            report.import_id,
            gym_id=gym_id,
            franchise_id=gym["franchise_id"],
            after={
                **report.model_dump(mode="json", exclude={"errors", "import_id"}),
                "sha256": parsed.sha256,
            },
        )
    return report


# --- check-ins ---------------------------------------------------------------------------------


async def record_check_in(
    uow: UnitOfWork, principal: Principal, gym_id: uuid.UUID, body: CheckInIn
) -> tuple[CheckIn, bool]:
    """One check-in; (the stored check-in, whether it is new). Sending it again is harmless."""
    gym = await visible_gym(uow, principal, gym_id)
    written = await _record_check_ins(uow, gym, [(0, body)])
    if written.errors:
        problem = written.errors[0].errors[0]
        if problem.code == "unknown_member":
            raise NotFound(problem.message)
        raise AppError(problem.message, code=problem.code, status_code=422)
    if written.created:
        check_in = written.created[0]
        await record_change(
            uow,
            principal.actor,
            "check_in.recorded",
            "check_in",
            check_in.id,
            gym_id=gym_id,
            franchise_id=gym["franchise_id"],
            after=check_in,
        )
        return check_in, True
    member_id = body.member_id
    if member_id is None:
        member_id = await uow.session.scalar(
            select(members.c.id).where(
                members.c.gym_id == gym_id, members.c.external_ref == body.external_ref
            )
        )
    existing = (
        (
            await uow.session.execute(
                select(*[check_ins.c[name] for name in CheckIn.model_fields]).where(
                    check_ins.c.member_id == member_id,
                    check_ins.c.checked_in_at
                    == _aware(body.checked_in_at, ZoneInfo(gym["timezone"])),
                )
            )
        )
        .mappings()
        .one()
    )
    return CheckIn.model_validate(dict(existing)), False


async def import_check_ins(
    uow: UnitOfWork,
    principal: Principal,
    gym_id: uuid.UUID,
    content_type: str | None,
    read_body: BodyReader,
) -> CheckInReport:
    """Many check-ins at once (JSON array or CSV); bad rows are reported, good ones stored."""
    gym = await visible_gym(uow, principal, gym_id)
    import_format(content_type)
    body = await read_body()

    def parse_and_validate() -> tuple[_Parsed, _Validated]:
        parsed = parse_import(body, content_type, CHECK_IN_COLUMNS, required="checked_in_at")
        return parsed, validate_check_in_rows(parsed.rows)

    parsed, validated = await asyncio.to_thread(parse_and_validate)
    written = await _record_check_ins(uow, gym, validated.good)
    errors = sorted([*validated.errors, *written.errors], key=lambda e: e.row)
    report = CheckInReport(
        import_id=uuid.uuid4(),
        format=parsed.format,
        received=len(parsed.rows),
        created=len(written.created),
        duplicates=written.duplicates,
        failed=len(errors),
        errors=errors[:MAX_LISTED_ERRORS],
        errors_truncated=len(errors) > MAX_LISTED_ERRORS,
    )
    if written.created:
        await record_change(
            uow,
            principal.actor,
            "check_ins.imported",
            "check_in_import",
            report.import_id,
            gym_id=gym_id,
            franchise_id=gym["franchise_id"],
            after={
                **report.model_dump(mode="json", exclude={"errors", "import_id"}),
                "sha256": parsed.sha256,
            },
        )
    return report


async def member_check_ins(
    uow: UnitOfWork, principal: Principal, gym_id: uuid.UUID, member_id: uuid.UUID
) -> Select[Any]:
    """The statement listing a member's check-ins, newest first (after the scope checks)."""
    await get_member(uow, principal, gym_id, member_id)
    return (
        select(*[check_ins.c[name] for name in CheckIn.model_fields])
        .where(check_ins.c.member_id == member_id, check_ins.c.gym_id == gym_id)
        .order_by(check_ins.c.checked_in_at.desc(), check_ins.c.id.desc())
    )
