"""Reading an import's body: media type, charset, CSV or JSON into raw rows (pure)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from kiosk_registry.members.errors import InvalidImport, PayloadTooLarge, UnsupportedMediaType
from kiosk_registry.members.limits import CSV_MEDIA_TYPES, JSON_MEDIA_TYPES, MAX_IMPORT_ROWS
from kiosk_registry.members.models import FieldError
from kiosk_registry.members.values import _ref_text

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
