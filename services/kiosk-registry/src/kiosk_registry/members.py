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
import csv
import hashlib
import io
import json
import re
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import Select, select, text

from jarvis_common.db import UnitOfWork
from jarvis_common.errors import AppError, NotFound
from jarvis_common.events.catalogue import MemberCheckedIn, MemberUpserted
from kiosk_registry.audit import record_change
from kiosk_registry.auth import Principal
from kiosk_registry.tables import check_ins, members
from kiosk_registry.tenancy import visible_gym

# --- limits ------------------------------------------------------------------------------------

MAX_IMPORT_BYTES = 10 * 1024 * 1024
MAX_IMPORT_ROWS = 50_000
# The report lists at most this many failed rows; `failed` always counts them all.
MAX_LISTED_ERRORS = 1_000
# A check-in may be this far in the future (clocks of turnstiles and servers disagree a little).
CHECK_IN_CLOCK_SKEW = timedelta(minutes=5)

CSV_MEDIA_TYPES = frozenset(
    {"text/csv", "application/csv", "text/comma-separated-values", "application/vnd.ms-excel"}
)
JSON_MEDIA_TYPES = frozenset({"application/json"})

# --- value types -------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_FR_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_FR_DATETIME = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?")
_PHONE = re.compile(r"\+?[0-9 .()\-]+")


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _lower(value: Any) -> Any:
    value = _blank_to_none(value)
    return value.strip().lower() if isinstance(value, str) else value


def _date(value: Any) -> date | None:
    """`YYYY-MM-DD` or `DD/MM/YYYY` (French exports); nothing else, not even a timestamp."""
    value = _blank_to_none(value)
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if not isinstance(value, str):
        raise ValueError("a date is a string, YYYY-MM-DD or DD/MM/YYYY")
    raw = value.strip()
    if match := _ISO_DATE.fullmatch(raw):
        year, month, day = (int(g) for g in match.groups())
    elif match := _FR_DATE.fullmatch(raw):
        day, month, year = (int(g) for g in match.groups())
    else:
        raise ValueError(f"{raw!r} is not a date: use YYYY-MM-DD or DD/MM/YYYY")
    try:
        parsed = date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"{raw!r} is not a valid date ({exc})") from exc
    if not 1900 <= parsed.year <= 2100:
        raise ValueError(f"{raw!r} is not a plausible date (the year must be 1900 to 2100)")
    return parsed


def _timestamp(value: Any) -> datetime:
    """ISO 8601 (`2024-05-01T18:30:00+02:00`, `2024-05-01 18:30`) or `DD/MM/YYYY HH:MM[:SS]`.

    Without a UTC offset the time is naive here; the gym's time zone is applied later."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a check-in time is a string such as 2024-05-01T18:30:00+02:00")
    raw = value.strip()
    if match := _FR_DATETIME.fullmatch(raw):
        day, month, year, hour, minute = (int(g) for g in match.groups()[:5])
        second = int(match.group(6) or 0)
        try:
            return datetime(year, month, day, hour, minute, second)
        except ValueError as exc:
            raise ValueError(f"{raw!r} is not a valid time ({exc})") from exc
    if len(raw) < 16 or raw[10] not in "T ":
        raise ValueError(
            f"{raw!r} is not a check-in time: use YYYY-MM-DDTHH:MM[:SS][+HH:MM] "
            "or DD/MM/YYYY HH:MM[:SS]"
        )
    try:
        return datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ValueError(f"{raw!r} is not a valid ISO 8601 time") from exc


def _phone(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    digits = sum(ch.isdigit() for ch in value)
    if not _PHONE.fullmatch(value) or not 6 <= digits <= 15:
        raise ValueError("a phone number is 6 to 15 digits, optionally with +, spaces, . - ( )")
    return value


def _contract_order(row: Any) -> Any:
    joined = row.joined_at
    for name in ("contract_ends_at", "cancelled_at"):
        other = getattr(row, name)
        if joined is not None and other is not None and other < joined:
            raise ValueError(f"{name} ({other}) is before joined_at ({joined})")
    return row


def _ref_text(value: Any) -> Any:
    # Member numbers are often numbers in JSON exports: 1001 is the member "1001".
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


ExternalRef = Annotated[
    str,
    BeforeValidator(_ref_text),
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]
Name = Annotated[
    Annotated[str, StringConstraints(max_length=100)] | None, BeforeValidator(_blank_to_none)
]
Email = Annotated[
    EmailStr | None,
    BeforeValidator(_blank_to_none),
    AfterValidator(lambda v: v.lower() if v else v),
]
Phone = Annotated[
    Annotated[str, StringConstraints(max_length=40)] | None,
    BeforeValidator(_blank_to_none),
    AfterValidator(_phone),
]
Language = Annotated[
    Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")] | None,
    BeforeValidator(_lower),
    Field(description="ISO 639-1 code, e.g. `fr`, `en`."),
]
MemberStatus = Literal["active", "frozen", "cancelled"]
Status = Annotated[MemberStatus | None, BeforeValidator(_lower)]
Day = Annotated[
    date | None,
    BeforeValidator(_date),
    Field(description="`YYYY-MM-DD` (or `DD/MM/YYYY`, as French exports write it)."),
]
GroupClass = Name


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
# Nullable columns: null clears them. The others treat null as "not given".
_NOT_NULL = frozenset({"language", "status"})
_COLUMN_TYPES = {name: ("date" if name.endswith("_at") else "text") for name in IMPORT_COLUMNS}


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


MEMBER_COLUMNS = [members.c[name] for name in Member.model_fields]

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


# --- errors ------------------------------------------------------------------------------------


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"


class InvalidImport(AppError):
    """The file as a whole cannot be read: nothing of it is imported."""

    status_code = 422
    code = "invalid_import"


# --- parsing (pure, runs in a worker thread) ---------------------------------------------------


@dataclass
class _RawRow:
    number: int
    data: dict[str, Any] | None
    problem: FieldError | None = None
    ref: str | None = None  # the row's external_ref when `data` could not be read

    @property
    def external_ref(self) -> str | None:
        if self.data is None:
            return self.ref
        value = _ref_text(self.data.get("external_ref"))
        return (value.strip() or None) if isinstance(value, str) else None


@dataclass
class _Parsed:
    format: Literal["csv", "json"]
    rows: list[_RawRow]
    sha256: str


def _media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    media, _, rest = (content_type or "").partition(";")
    params = {}
    for part in rest.split(";"):
        key, _, value = part.partition("=")
        if key.strip():
            params[key.strip().lower()] = value.strip().strip('"')
    return media.strip().lower(), params


def import_format(content_type: str | None) -> Literal["csv", "json"]:
    media, _ = _media_type(content_type)
    if media in CSV_MEDIA_TYPES:
        return "csv"
    if media in JSON_MEDIA_TYPES:
        return "json"
    raise UnsupportedMediaType(
        f"send the file as text/csv or application/json (got {media or 'no content type'!r})"
    )


def _decode(body: bytes, content_type: str | None) -> str:
    _, params = _media_type(content_type)
    charset = params.get("charset", "utf-8").lower()
    if charset.replace("-", "").replace("_", "") in ("utf8", "utf8sig"):
        charset = "utf-8-sig"  # tolerate the BOM Excel writes
    try:
        return body.decode(charset)
    except LookupError as exc:
        raise UnsupportedMediaType(f"unknown charset {charset!r}") from exc
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        raise InvalidImport(
            f"the file is not valid {charset} (line {line}): save it as UTF-8 "
            "(in Excel: 'CSV UTF-8'), or name its charset in the Content-Type header"
        ) from exc


def _normalise_header(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _parse_csv(content: str, columns: Sequence[str], required: str | None) -> list[_RawRow]:
    first_line = content.split("\n", 1)[0]
    counts = {d: first_line.count(d) for d in (";", ",", "\t")}
    delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter, strict=True)
    rows: list[_RawRow] = []
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise InvalidImport("the file is empty: the first line must name the columns")
        names = [_normalise_header(cell) for cell in header]
        _check_header(names, columns, required)
        # Row numbers as a spreadsheet shows them: the header is row 1. A blank line (or one
        # of empty cells, as Excel leaves at the end) keeps its number but is not a row.
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) == MAX_IMPORT_ROWS:
                raise _too_many_rows(f"more than {MAX_IMPORT_ROWS:,}")
            rows.append(_row_from_cells(number, cells, names))
    except csv.Error as exc:
        raise InvalidImport(f"malformed CSV at line {reader.line_num}: {exc}") from exc
    return rows


def _check_header(names: list[str], columns: Sequence[str], required: str | None) -> None:
    duplicated = sorted(name for name, n in Counter(names).items() if n > 1)
    if duplicated:
        raise InvalidImport(f"the header names these columns twice: {', '.join(duplicated)}")
    unknown = [name or "(empty)" for name in names if name not in columns]
    if unknown:
        raise InvalidImport(
            f"unknown columns: {', '.join(unknown)}; the columns are {', '.join(columns)}"
        )
    if required is not None and required not in names:
        raise InvalidImport(f"the header must have a {required} column")


def _row_from_cells(number: int, cells: list[str], names: list[str]) -> _RawRow:
    if len(cells) != len(names):
        position = names.index("external_ref") if "external_ref" in names else len(cells)
        ref = cells[position].strip() or None if position < len(cells) else None
        return _RawRow(
            number,
            None,
            FieldError(
                field=None,
                code="wrong_cell_count",
                message=f"this row has {len(cells)} cells, the header has {len(names)}",
            ),
            ref,
        )
    return _RawRow(
        number, {name: (cell.strip() or None) for name, cell in zip(names, cells, strict=True)}
    )


def _parse_json(content: str) -> list[_RawRow]:
    if not content.strip():
        raise InvalidImport("the body is empty: send a JSON array of objects")
    try:
        document = json.loads(content)
    except json.JSONDecodeError as exc:
        raise InvalidImport(
            f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    except (ValueError, RecursionError) as exc:  # absurd numbers, absurd nesting
        raise InvalidImport(f"unreadable JSON: {type(exc).__name__}") from exc
    if not isinstance(document, list):
        raise InvalidImport("send a JSON array of objects, one per row")
    if len(document) > MAX_IMPORT_ROWS:
        raise _too_many_rows(f"{len(document):,}")
    rows = []
    for index, item in enumerate(document):
        if isinstance(item, dict):
            rows.append(_RawRow(index, item))
        else:
            problem = FieldError(field=None, code="not_an_object", message="expected an object")
            rows.append(_RawRow(index, None, problem))
    return rows


def _too_many_rows(count: str) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"an import holds at most {MAX_IMPORT_ROWS:,} rows (this one has {count}): split the file"
    )


def parse_import(
    body: bytes,
    content_type: str | None,
    columns: Sequence[str],
    required: str | None,
) -> _Parsed:
    fmt = import_format(content_type)
    if not body.strip():
        raise InvalidImport("the body is empty")
    content = _decode(body, content_type)
    if fmt == "csv":
        rows = _parse_csv(content, columns, required)
    else:
        rows = _parse_json(content)
    return _Parsed(fmt, rows, hashlib.sha256(body).hexdigest())


def _field_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(part) for part in error["loc"]) or None
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        errors.append(FieldError(field=loc, code=error["type"], message=message))
    return errors


@dataclass
class _Validated:
    good: list[tuple[int, Any]] = field(default_factory=list)  # (row number, model)
    errors: list[RowError] = field(default_factory=list)


def validate_member_rows(rows: Sequence[_RawRow]) -> _Validated:
    refs = Counter(ref for row in rows if (ref := row.external_ref) is not None)
    repeated = {ref for ref, n in refs.items() if n > 1}
    where: dict[str, list[int]] = {}
    for row in rows:
        ref = row.external_ref
        if ref in repeated:
            where.setdefault(ref, []).append(row.number)
    result = _Validated()
    for row in rows:
        ref = row.external_ref
        errors = [row.problem] if row.problem else []
        model = None
        if row.data is not None:
            try:
                model = MemberRow.model_validate(row.data)
            except ValidationError as exc:
                errors.extend(_field_errors(exc))
        if ref in repeated:
            others = ", ".join(str(n) for n in where[ref])
            errors.append(
                FieldError(
                    field="external_ref",
                    code="duplicate_in_file",
                    message=f"{ref!r} is on rows {others}: a member may appear once per import, "
                    "so none of these rows is imported",
                )
            )
        if errors:
            result.errors.append(RowError(row=row.number, external_ref=ref, errors=errors))
        else:
            result.good.append((row.number, model))
    return result


def validate_check_in_rows(rows: Sequence[_RawRow]) -> _Validated:
    result = _Validated()
    for row in rows:
        errors = [row.problem] if row.problem else []
        model = None
        if row.data is not None:
            try:
                model = CheckInIn.model_validate(row.data)
            except ValidationError as exc:
                errors.extend(_field_errors(exc))
        if errors:
            result.errors.append(
                RowError(row=row.number, external_ref=row.external_ref, errors=errors)
            )
        else:
            result.good.append((row.number, model))
    return result


# --- members -----------------------------------------------------------------------------------


def members_of_gym(gym_id: uuid.UUID) -> Select[Any]:
    """The gym's members; the caller has checked the gym is visible."""
    return select(*MEMBER_COLUMNS).where(members.c.gym_id == gym_id)


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
