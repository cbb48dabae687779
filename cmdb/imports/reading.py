"""Reading CSV files: decoding, the header, the cells, typed attribute cells, text the
database cannot store. No database access here.

Why the standard `csv` module and not django-import-export / tablib: see the package docstring.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.conf import settings

from itsm.exceptions import ApplicationError

from .. import fields

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_IMPORT_ROWS = 100_000
#: How deep an `attributes` cell (or a JSON `attr:` cell) may nest; setting API_JSON_MAX_DEPTH, as API bodies.
DEFAULT_MAX_JSON_DEPTH = 32

CI_COLUMNS = fields.CSV_COLUMNS
ATTR_PREFIX = "attr:"
RELATIONSHIP_COLUMNS = ("source", "target", "type")
#: A CI file needs these two columns to create CIs, or its match column to update only.
CI_CREATE_COLUMNS = ("name", "ci_type")
#: What a row may be matched on ("none": every row creates a CI). See planning.resolve_match_on.
MATCH_CHOICES = ("none", "id", "serial_number", "asset_tag", "hostname", "uuid")
IDENTIFYING_COLUMNS = ("id", "serial_number", "asset_tag", "hostname", "uuid")

TRUE_WORDS = frozenset({"true", "yes", "1", "y", "t"})
FALSE_WORDS = frozenset({"false", "no", "0", "n", "f"})
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class ImportFileError(ApplicationError):
    """The file as a whole cannot be imported (too big, not UTF-8, malformed, wrong columns)."""

    def __init__(self, message: str):
        super().__init__(message, extra={"errors": {"file": [message]}})


def max_json_depth() -> int:
    """The nesting limit of JSON cells (setting `API_JSON_MAX_DEPTH`, as for API bodies)."""
    return int(getattr(settings, "API_JSON_MAX_DEPTH", DEFAULT_MAX_JSON_DEPTH))


# --- text the database cannot store --------------------------------------------------------


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored (a NUL character, a lone surrogate), or None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "Contains a NUL character (\\u0000), which cannot be stored."
    return (
        f"Contains a lone surrogate (\\u{ord(found.group()):04x}), which is not valid Unicode text."
    )


def json_problem(value: Any, limit: int | None = None) -> str | None:
    """Why a parsed JSON value cannot be stored: nested deeper than `limit`, or a key or
    string with a NUL character or a lone surrogate. None when it is fine."""
    limit = max_json_depth() if limit is None else limit
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return f"Nested deeper than {limit} levels."
            children = item.values() if isinstance(item, dict) else item
            if isinstance(item, dict):
                for key in item:
                    if problem := text_problem(key):
                        return f"A key: {problem}"
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, str) and (problem := text_problem(item)):
            return problem
    return None


class UnstorableValue(ValueError):
    """A JSON value that parses but cannot be stored (too deep, NUL, lone surrogate)."""


def load_json(text: str) -> Any:
    """`json.loads`, and `json_problem` on the result: raises ValueError for bad JSON and
    UnstorableValue for JSON too deep (even for the parser itself) or not storable."""
    try:
        value = json.loads(text)
    except RecursionError as exc:
        raise UnstorableValue(f"Nested deeper than {max_json_depth()} levels.") from exc
    # Text without `\u` escapes holds no NUL or surrogate the cell check missed, and cannot
    # nest deeper than its number of brackets: most cells skip the walk.
    could_fail = "\\u" in text or text.count("{") + text.count("[") > max_json_depth()
    if could_fail and (problem := json_problem(value)):
        raise UnstorableValue(problem)
    return value


def cell_problems(cells: Mapping[str, Any]) -> dict[str, list[str]]:
    """`{column: [message]}` for cells holding text the database cannot store."""
    problems: dict[str, list[str]] = {}
    for column, value in cells.items():
        if column and isinstance(value, str) and (problem := text_problem(value)):
            problems[column] = [problem]
    return problems


# --- reading files ------------------------------------------------------------------------


def _sniff_delimiter(text: str) -> str:
    """`,` unless the header line has none and uses `;` (European Excel) or tabs."""
    end = text.find("\n")
    header = text[: end if end >= 0 else len(text)]
    if "," in header:
        return ","
    for candidate in (";", "\t"):
        if candidate in header:
            return candidate
    return ","


def _decode(data: bytes | bytearray | memoryview | str, max_bytes: int) -> str:
    if isinstance(data, str):
        if len(data) > max_bytes or len(data.encode("utf-8", "surrogatepass")) > max_bytes:
            raise ImportFileError(f"The file is larger than {max_bytes // (1024 * 1024)} MB.")
        return data.removeprefix("\ufeff")
    raw = bytes(data)
    if len(raw) > max_bytes:
        raise ImportFileError(f"The file is larger than {max_bytes // (1024 * 1024)} MB.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ImportFileError(
            f"The file is not UTF-8 text (line {line}, byte {exc.start + 1}). "
            "Save it as “CSV UTF-8” and upload it again."
        ) from exc


def _header_name(cell: str) -> str:
    name = cell.strip()
    if problem := text_problem(name):
        raise ImportFileError(f"A column name is not text that can be stored: {problem}")
    if name.lower().startswith(ATTR_PREFIX):
        return ATTR_PREFIX + name[len(ATTR_PREFIX) :].strip()
    return name.lower()


def parse_csv(
    data: bytes | bytearray | memoryview | str,
    *,
    kind: str | None = None,
    max_bytes: int = MAX_IMPORT_BYTES,
    max_rows: int = MAX_IMPORT_ROWS,
) -> list[dict[str, str]]:
    """Read a CSV file (bytes or text, UTF-8 with or without BOM) into one dict per data row.

    Row `i` of the list is spreadsheet row `i + 2` (the header is row 1); blank rows are kept
    as dicts of empty strings so the numbering holds, and the imports skip them. Raises
    `ImportFileError` with a clear message for a file too large, not UTF-8, malformed, with
    duplicate or unnamed columns, ragged rows, or no data row; with `kind` ("cis" or
    "relationships") also for unknown or missing columns.
    """
    text = _decode(data, max_bytes)
    if not text.strip():
        raise ImportFileError("The file is empty.")
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text), strict=True
    )
    record = 1
    try:
        header = [_header_name(cell) for cell in next(reader)]
        duplicates = sorted({name for name in header if name and header.count(name) > 1})
        if duplicates:
            raise ImportFileError(f"These columns appear more than once: {', '.join(duplicates)}.")
        if not any(header):
            raise ImportFileError("The first row must name the columns.")
        if kind is not None:
            check_columns(kind, [name for name in header if name])
        width = len(header)
        rows: list[dict[str, str]] = []
        ragged: list[str] = []
        while True:
            record += 1
            cells = next(reader, None)
            if cells is None:
                break
            if len(rows) >= max_rows:
                raise ImportFileError(f"The file has more than {max_rows:,} rows; split it.")
            if len(cells) > width and any(c.strip() for c in cells[width:]):
                ragged.append(f"row {record} has {len(cells)} cells")
                continue
            row: dict[str, str] = {}
            for index, name in enumerate(header):
                value = cells[index] if index < len(cells) else ""
                if name:
                    row[name] = value
                elif value.strip():
                    ragged.append(
                        f"row {record} has a value in column {index + 1}, which has no name"
                    )
            rows.append(row)
    except csv.Error as exc:
        raise ImportFileError(f"Row {record} is not valid CSV: {exc}.") from exc
    if ragged:
        more = f" (and {len(ragged) - 10} more)" if len(ragged) > 10 else ""
        raise ImportFileError(
            f"The header has {width} columns, but {'; '.join(ragged[:10])}{more}. "
            "Check the quoting of cells that contain the separator."
        )
    if not rows:
        raise ImportFileError("The file has a header but no data rows.")
    return rows


def columns_of(rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """Every column name the rows use."""
    columns: set[str] = set()
    for row in rows:
        columns.update(k for k in row if k)
    return columns


def check_columns(kind: str, columns: Iterable[str], *, match_on: str | None = None) -> None:
    """Refuse unknown columns (a typo must not be ignored) and missing required ones.

    A CI file needs `name` and `ci_type` to create CIs; without them it can only update, so
    it needs its match column (`match_on`, or any identifying column when not yet chosen).
    """
    columns = set(columns)
    if kind == "cis":
        allowed = CI_COLUMNS
        unknown = sorted(
            c for c in columns if c not in CI_COLUMNS and not (c.startswith(ATTR_PREFIX) and c[5:])
        )
    else:
        allowed = RELATIONSHIP_COLUMNS
        unknown = sorted(columns - set(RELATIONSHIP_COLUMNS))
    if unknown:
        extra = " and attr:<key>" if kind == "cis" else ""
        raise ImportFileError(
            f"Unknown columns: {', '.join(unknown)}. Allowed: {', '.join(allowed)}{extra}."
        )
    if kind == "cis":
        keys = set(IDENTIFYING_COLUMNS) if match_on is None else {match_on, "id"} - {"none"}
        if not (set(CI_CREATE_COLUMNS) <= columns or columns & keys):
            missing = sorted(set(CI_CREATE_COLUMNS) - columns)
            raise ImportFileError(
                f"Missing required columns: {', '.join(missing)} (needed to create CIs; to update "
                "existing CIs only, give an id column, or the column the import matches on)."
            )
    else:
        missing = [c for c in RELATIONSHIP_COLUMNS if c not in columns]
        if missing:
            raise ImportFileError(f"Missing required columns: {', '.join(missing)}.")


# --- cells --------------------------------------------------------------------------------


def cell(value: Any) -> str:
    """A cell as text: surrounding spaces removed, a formula-guard apostrophe removed."""
    text = "" if value is None else str(value).strip()
    if text[:1] == "'" and text[1:2] in FORMULA_START and text[1:2]:
        return text[1:]
    return text


def raw_cell(value: Any) -> str:
    """Like `cell` but keeps surrounding spaces (descriptions are kept verbatim)."""
    text = "" if value is None else str(value)
    stripped = text.lstrip()
    if stripped[:1] == "'" and stripped[1:2] in FORMULA_START and stripped[1:2]:
        return stripped[1:]
    return text


def parse_bool(value: str) -> bool:
    """true/false, yes/no, 1/0 (any case); raises ValueError otherwise."""
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"“{value}” is not true/false, yes/no or 1/0.")


def _attribute_types(schema: Any, key: str) -> list[str]:
    if not isinstance(schema, dict):
        return []
    prop = (schema.get("properties") or {}).get(key)
    kinds = prop.get("type") if isinstance(prop, dict) else None
    if isinstance(kinds, str):
        return [kinds]
    return [k for k in kinds if isinstance(k, str)] if isinstance(kinds, list) else []


def convert_attribute(schema: Any, key: str, value: str) -> Any:
    """An `attr:<key>` cell typed as the JSON Schema's property says; raises ValueError."""
    kinds = _attribute_types(schema, key)
    if not kinds or kinds == ["string"]:
        return value
    for kind in sorted(kinds, key=lambda k: k == "string"):  # text is the last resort
        try:
            if kind == "integer":
                return int(value)
            if kind == "number":
                number = float(value)
                if not math.isfinite(number):
                    raise ValueError(value)
                return int(value) if value.lstrip("+-").isdigit() else number
            if kind == "boolean":
                return parse_bool(value)
            if kind == "null" and value.lower() == "null":
                return None
            if kind in {"array", "object"}:
                parsed = load_json(value)
                if isinstance(parsed, list if kind == "array" else dict):
                    return parsed
            if kind == "string":
                return value
        except UnstorableValue:
            raise
        except ValueError:
            continue
    expected = " or ".join("a whole number" if k == "integer" else f"a {k}" for k in kinds)
    raise ValueError(f"“{value}” is not {expected}.")


def known(items: Iterable[str], limit: int = 15) -> str:
    """A short list of names for a message ("a, b, … (12 more)")."""
    items = sorted(items)
    more = f", … ({len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more if items else "none"
