"""Members, imports and check-ins of a gym. The formats are in docs/member-import.md."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status

from jarvis_common.http import COMMON_ERRORS, UoW, error_responses
from kiosk_registry import churn_snooze
from kiosk_registry import members as m
from kiosk_registry.auth import CurrentUser
from kiosk_registry.pagination import Page, Paging, paginate
from kiosk_registry.tables import members
from kiosk_registry.tenancy import visible_gym

router = APIRouter(
    prefix="/api/v1", tags=["members"], responses=error_responses(*COMMON_ERRORS, 413, 415)
)

ExternalRefPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="The gym's own member number (URL-encoded; it may contain `/`).",
    ),
]


def _body_reader(request: Request) -> m.BodyReader:
    """Read the body, refusing (413) as soon as it grows past the import limit."""

    async def read() -> bytes:
        limit = m.MAX_IMPORT_BYTES
        too_large = m.PayloadTooLarge(
            f"an import is at most {limit // (1024 * 1024)} MB: split the file"
        )
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    return read


def _schema(model: type) -> dict[str, Any]:
    return model.model_json_schema(ref_template="#/components/schemas/{model}")  # type: ignore[attr-defined]


def _file_body(model: type, csv_example: str, json_example: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "schema": {"type": "string", "description": "UTF-8, header row, `,` or `;`"},
                    "example": csv_example,
                },
                "application/json": {
                    "schema": {"type": "array", "items": _schema(model)},
                    "example": json_example,
                },
            },
        }
    }


_FILE_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"description": "More than 10 MB or 50,000 rows: nothing was imported."},
    415: {"description": "Not text/csv nor application/json."},
    422: {"description": "The file as a whole is unreadable (empty, malformed, bad header)."},
}

_MEMBERS_CSV = (
    "external_ref;first_name;last_name;email;status;joined_at\n"
    "A-1001;Camille;Martin;camille@example.fr;active;15/01/2024\n"
)
_MEMBERS_JSON = [
    {
        "external_ref": "A-1001",
        "first_name": "Camille",
        "status": "active",
        "joined_at": "2024-01-15",
    }
]
_CHECK_INS_CSV = "external_ref,checked_in_at,group_class\nA-1001,2024-05-01T18:30:00+02:00,Yoga\n"
_CHECK_INS_JSON = [{"external_ref": "A-1001", "checked_in_at": "2024-05-01T18:30:00+02:00"}]


@router.get("/gyms/{gym_id}/members")
async def list_members(
    gym_id: uuid.UUID,
    principal: CurrentUser,
    uow: UoW,
    paging: Paging,
    status_: Annotated[m.MemberStatus | None, Query(alias="status")] = None,
    external_ref: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[m.Member]:
    await visible_gym(uow, principal, gym_id)
    statement = m.members_of_gym(gym_id)
    if status_ is not None:
        statement = statement.where(members.c.status == status_)
    if external_ref is not None:
        statement = statement.where(members.c.external_ref == external_ref.strip())
    statement = statement.order_by(
        members.c.last_name.nulls_last(), members.c.first_name.nulls_last(), members.c.id
    )
    return await paginate(uow.session, statement, paging, m.Member)


@router.get("/gyms/{gym_id}/members/{member_id}")
async def get_member(
    gym_id: uuid.UUID, member_id: uuid.UUID, principal: CurrentUser, uow: UoW
) -> m.Member:
    return await m.get_member(uow, principal, gym_id, member_id)


@router.put(
    "/gyms/{gym_id}/members/{external_ref:path}",
    responses={
        200: {"description": "Updated, or already in this state (nothing published)."},
        201: {"description": "Created.", "model": m.Member},
    },
)
async def upsert_member(
    gym_id: uuid.UUID,
    external_ref: ExternalRefPath,
    body: m.MemberFields,
    principal: CurrentUser,
    uow: UoW,
    response: Response,
) -> m.Member:
    """Create or update one member by the gym's member number. Absent fields are kept."""
    member, outcome = await m.upsert_member(uow, principal, gym_id, external_ref, body)
    if outcome == "created":
        response.status_code = status.HTTP_201_CREATED
    return member


@router.post(
    "/gyms/{gym_id}/members/import",
    openapi_extra=_file_body(m.MemberRow, _MEMBERS_CSV, _MEMBERS_JSON),
    responses=_FILE_ERRORS,
)
async def import_members(
    gym_id: uuid.UUID, request: Request, principal: CurrentUser, uow: UoW
) -> m.ImportReport:
    """Upsert many members from a CSV or JSON file, in one transaction.

    Good rows are imported, bad rows are reported with their errors; only members that changed
    are published."""
    return await m.import_members(
        uow, principal, gym_id, request.headers.get("content-type"), _body_reader(request)
    )


@router.post(
    "/gyms/{gym_id}/check-ins",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "Already recorded: stored and published once.", "model": m.CheckIn}
    },
)
async def record_check_in(
    gym_id: uuid.UUID, body: m.CheckInIn, principal: CurrentUser, uow: UoW, response: Response
) -> m.CheckIn:
    """Record one check-in (idempotent on member and time)."""
    check_in, created = await m.record_check_in(uow, principal, gym_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return check_in


@router.post(
    "/gyms/{gym_id}/check-ins/import",
    openapi_extra=_file_body(m.CheckInIn, _CHECK_INS_CSV, _CHECK_INS_JSON),
    responses=_FILE_ERRORS,
)
async def import_check_ins(
    gym_id: uuid.UUID, request: Request, principal: CurrentUser, uow: UoW
) -> m.CheckInReport:
    """Record many check-ins from a JSON array or a CSV file; bad rows are reported."""
    return await m.import_check_ins(
        uow, principal, gym_id, request.headers.get("content-type"), _body_reader(request)
    )


@router.post(
    "/gyms/{gym_id}/members/{member_id}/churn-snooze", status_code=status.HTTP_202_ACCEPTED
)
async def snooze_member_churn_alerts(
    gym_id: uuid.UUID,
    member_id: uuid.UUID,
    body: churn_snooze.SnoozeIn,
    principal: CurrentUser,
    uow: UoW,
) -> churn_snooze.SnoozeAccepted:
    """No churn alert for this member until `until` (inclusive); the open one is resolved."""
    return await churn_snooze.snooze_member(uow, principal, gym_id, member_id, body)


@router.get("/gyms/{gym_id}/members/{member_id}/check-ins")
async def list_member_check_ins(
    gym_id: uuid.UUID, member_id: uuid.UUID, principal: CurrentUser, uow: UoW, paging: Paging
) -> Page[m.CheckIn]:
    statement = await m.member_check_ins(uow, principal, gym_id, member_id)
    return await paginate(uow.session, statement, paging, m.CheckIn)
