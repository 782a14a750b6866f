"""The value types of a member and a check-in: dates, times, phone numbers, member numbers."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, EmailStr, Field, StringConstraints

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
