"""Validating an import's raw rows into models and row errors (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from kiosk_registry.members.models import CheckInIn, FieldError, MemberRow, RowError
from kiosk_registry.members.parsing import _RawRow


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
