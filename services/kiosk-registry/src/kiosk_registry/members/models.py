"""The pydantic models: members and check-ins as sent and as stored, and the import reports."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from kiosk_registry.members.limits import MAX_LISTED_ERRORS
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
    _blank_to_none,
    _contract_order,
    _timestamp,
)


class MemberFields(BaseModel):
    """A member's data, as the single upsert takes it (`external_ref` is in the path).

    An absent field keeps its stored value; null clears it (`language` and `status` cannot be
    cleared: null keeps them)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    first_name: Name = None
    last_name: Name = None
    email: Email = None
    phone: Phone = None
    language: Language = Field(default=None, description="Default `fr` for a new member.")
    status: Status = Field(default=None, description="Default `active` for a new member.")
    contract_type: Name = None
    joined_at: Day = None
    contract_ends_at: Day = None
    cancelled_at: Day = None

    _order = model_validator(mode="after")(_contract_order)


def _required(*names: str) -> Any:
    """An empty cell or a null in a required field reads as "missing", not as a bad type."""

    def drop_empty(data: Any) -> Any:
        if isinstance(data, dict) and any(_blank_to_none(data.get(n)) is None for n in names):
            data = {k: v for k, v in data.items() if not (k in names and _blank_to_none(v) is None)}
        return data

    return model_validator(mode="before")(drop_empty)


class MemberRow(MemberFields):
    """One member of an import: the same fields, plus the gym's member number."""

    external_ref: ExternalRef

    _external_ref_required = _required("external_ref")


IMPORT_COLUMNS = ("external_ref", *MemberFields.model_fields)


class Member(BaseModel):
    id: uuid.UUID
    gym_id: uuid.UUID
    external_ref: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    language: str
    status: MemberStatus
    contract_type: str | None
    joined_at: date | None
    contract_ends_at: date | None
    cancelled_at: date | None
    created_at: datetime
    updated_at: datetime


Outcome = Literal["created", "updated", "unchanged"]


class FieldError(BaseModel):
    field: str | None = Field(description="The column or key at fault; null for the whole row.")
    code: str
    message: str


class RowError(BaseModel):
    row: int = Field(
        description="CSV: the row number a spreadsheet shows (the header is row 1). "
        "JSON: the index in the array, from 0."
    )
    external_ref: str | None
    errors: list[FieldError]


class ImportReport(BaseModel):
    import_id: uuid.UUID = Field(description="Also the entity id of the import's audit entry.")
    format: Literal["csv", "json"]
    received: int = Field(description="Rows in the file (blank CSV lines are not rows).")
    created: int
    updated: int
    unchanged: int
    failed: int = Field(description="received = created + updated + unchanged + failed")
    errors: list[RowError] = Field(description=f"At most {MAX_LISTED_ERRORS} failed rows.")
    errors_truncated: bool


class CheckInIn(BaseModel):
    """One check-in: the member (by `external_ref` or `member_id`, exactly one) and when."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    external_ref: ExternalRef | None = None
    member_id: uuid.UUID | None = None
    checked_in_at: Annotated[
        datetime,
        BeforeValidator(_timestamp),
        Field(description="ISO 8601; without an offset it is read in the gym's time zone."),
    ]
    group_class: GroupClass = None

    _time_required = _required("checked_in_at")

    @field_validator("checked_in_at")
    @classmethod
    def _plausible_year(cls, value: datetime) -> datetime:
        # Also keeps time-zone arithmetic away from datetime's limits (years 1 and 9999).
        if not 2000 <= value.year <= 2100:
            raise ValueError("a check-in happens between the years 2000 and 2100")
        return value

    @model_validator(mode="before")
    @classmethod
    def _blank_refs(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {
                k: (_blank_to_none(v) if k in ("external_ref", "member_id") else v)
                for k, v in data.items()
            }
        return data

    @model_validator(mode="after")
    def _one_member(self) -> CheckInIn:
        if (self.external_ref is None) == (self.member_id is None):
            raise ValueError("name the member by external_ref or by member_id (exactly one)")
        return self


CHECK_IN_COLUMNS = tuple(CheckInIn.model_fields)


class CheckIn(BaseModel):
    id: int
    member_id: uuid.UUID
    gym_id: uuid.UUID
    checked_in_at: datetime
    group_class: str | None


class CheckInReport(BaseModel):
    import_id: uuid.UUID
    format: Literal["csv", "json"]
    received: int
    created: int
    duplicates: int = Field(
        description="Check-ins already stored, or repeated in this request: stored once."
    )
    failed: int = Field(description="received = created + duplicates + failed")
    errors: list[RowError]
    errors_truncated: bool
