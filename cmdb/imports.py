"""CSV import and export of CIs and relationships: every row is checked before anything is written.

The contract (also shown on the import page and in the API docs):

CIs — one row per CI, header row first, UTF-8 with or without BOM, `,` (or `;` / tab) separated:

    id, name, ci_type, status, managed, owner, department, site, serial_number, asset_tag,
    hostname, uuid, description, attributes, version, attr:<key>…

* A row whose `id` is an existing CI, or whose serial_number / asset_tag / uuid matches one,
  updates that CI: only the columns present, history recorded, version + 1. A row that changes
  nothing is "unchanged" and writes nothing. Any other row creates a CI (`name` and `ci_type`
  needed). An `id` that matches no CI is an error (leave it empty to create).
* `ci_type` and `site` are slugs, `owner` a username, `department` a name; `managed` is
  true/false/yes/no/1/0; `status` applies at creation only (lifecycle moves go through the
  lifecycle action; a different status on an existing CI is an error); `attributes` is a JSON
  object; `attr:<key>` sets one attribute, typed by the CI type's JSON Schema (integer, number,
  boolean, array/object as JSON, else text); an empty `attr:` cell sets nothing.
* On an update an empty cell clears the field, except name, ci_type, status, managed, attributes,
  id and version, which an empty cell leaves as they are. `version`, when given, is the version
  the row was exported at: a CI changed since then is an error instead of a lost update.
* Cells that a spreadsheet would run as a formula (starting with = + - @) are exported with a
  leading apostrophe, which the import removes again.

Relationships — columns `source`, `target` (a CI id, or the exact name of exactly one CI) and
`type` (relationship type slug). A relationship that already exists is "unchanged".

Why these tools: django-import-export's resources look up and save instances one row at a time
outside our services (no permission check, no history with its source), which is the per-row
slowness this import must avoid. Its format layer, tablib, loads a whole sheet into a Dataset and
cannot stream an export of 100,000 CIs, nor tell which record of a file is malformed; it hands CSV
to the standard `csv` module anyway. So files are read and written with `csv` directly, rows are
checked against data preloaded in a fixed number of queries, and writes are bulk: new CIs through
`services.ci_bulk_create`, changed CIs in one UPDATE per 1,000 rows (`_update_rows`), new links
with `bulk_create`, history entries with `record_many`.

Measured with bench/import_csv.py (10,000 CI rows, every column; 2-core machine shared with
other jobs): create 3.8 to 4.6 s on SQLite, 5.2 to 7.6 s on PostgreSQL; dry run under 1.5 s; an
unchanged re-import of the export about 1 s; 20,000 relationships 2.3 to 3.8 s.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, router, transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from itsm.exceptions import ApplicationError, ConflictError, PermissionDeniedError

from . import services
from .choices import CI_INITIAL_STATUSES, CIStatus
from .history import ChangeContext, diff, new_entry, record_many, snapshot
from .identifiers import (
    normalize_hostname,
    normalize_serial,
    normalize_uuid,
    validate_hostname,
    validate_uuid,
)
from .models import (
    CIType,
    ConfigurationItem,
    Department,
    HistoryEntry,
    Relationship,
    RelationshipType,
    Site,
)

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_IMPORT_ROWS = 100_000
#: Values per `IN (…)` list: well under SQLite's 32,766 variables, one query per 5,000 rows.
IN_CHUNK = 5_000

CI_COLUMNS = (
    "id",
    "name",
    "ci_type",
    "status",
    "managed",
    "owner",
    "department",
    "site",
    "serial_number",
    "asset_tag",
    "hostname",
    "uuid",
    "description",
    "attributes",
    "version",
)
ATTR_PREFIX = "attr:"
RELATIONSHIP_COLUMNS = ("source", "target", "type")
#: A CI file needs these two columns to create CIs, or one of IDENTIFYING_COLUMNS to update.
CI_CREATE_COLUMNS = ("name", "ci_type")
IDENTIFYING_COLUMNS = ("id", "serial_number", "asset_tag", "uuid")

TRUE_WORDS = frozenset({"true", "yes", "1", "y", "t"})
FALSE_WORDS = frozenset({"false", "no", "0", "n", "f"})
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_LABELS = {"serial_number": "serial number", "asset_tag": "asset tag", "uuid": "UUID"}


class ImportFileError(ApplicationError):
    """The file as a whole cannot be imported (too big, not UTF-8, malformed, wrong columns)."""

    def __init__(self, message: str):
        super().__init__(message, extra={"errors": {"file": [message]}})


@dataclass
class ImportResult:
    """What an import did, or would do in a dry run.

    `row_errors` lists every bad row as `{"row": n, "errors": {column: [messages]}}` with `n`
    the spreadsheet row (the header is row 1). `rows` is the plan of the good rows:
    `{"row", "action": "create" | "update" | "unchanged", …}`. Nothing is written unless
    `written` is true: not a dry run and no bad row.
    """

    kind: str
    dry_run: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    row_errors: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return len(self.row_errors)

    @property
    def ok(self) -> bool:
        return not self.row_errors

    @property
    def written(self) -> bool:
        return self.ok and not self.dry_run

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(errors=self.errors, written=self.written)
        return data

    def summary(self) -> str:
        """One sentence for a message, a log line or the command's output."""
        if not self.ok:
            return (
                f"Nothing was imported: {self.errors} row(s) have errors. "
                f"The other rows would create {self.created}, update {self.updated} and leave "
                f"{self.unchanged} unchanged."
            )
        verbs = ("would create", "would update", "would leave") if self.dry_run else None
        created, updated, left = verbs or ("created", "updated", "left")
        prefix = "Dry run, nothing written: " if self.dry_run else "Imported: "
        return f"{prefix}{created} {self.created}, {updated} {self.updated}, {left} {self.unchanged} unchanged."


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


def _columns_of(rows: Sequence[Mapping[str, Any]]) -> set[str]:
    columns: set[str] = set()
    for row in rows:
        columns.update(k for k in row if k)
    return columns


def check_columns(kind: str, columns: Iterable[str]) -> None:
    """Refuse unknown columns (a typo must not be ignored) and missing required ones."""
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
        if not (set(CI_CREATE_COLUMNS) <= columns or columns & set(IDENTIFYING_COLUMNS)):
            missing = sorted(set(CI_CREATE_COLUMNS) - columns)
            raise ImportFileError(
                f"Missing required columns: {', '.join(missing)} (needed to create CIs; to update "
                "existing CIs only, give an id, serial_number, asset_tag or uuid column)."
            )
    else:
        missing = [c for c in RELATIONSHIP_COLUMNS if c not in columns]
        if missing:
            raise ImportFileError(f"Missing required columns: {', '.join(missing)}.")


# --- cell parsing -------------------------------------------------------------------------


def _cell(value: Any) -> str:
    """A cell as text: surrounding spaces removed, a formula-guard apostrophe removed."""
    text = "" if value is None else str(value).strip()
    if text[:1] == "'" and text[1:2] in FORMULA_START and text[1:2]:
        return text[1:]
    return text


def _raw_cell(value: Any) -> str:
    """Like `_cell` but keeps surrounding spaces (descriptions are kept verbatim)."""
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
                parsed = json.loads(value)
                if isinstance(parsed, list if kind == "array" else dict):
                    return parsed
            if kind == "string":
                return value
        except ValueError:
            continue
    expected = " or ".join("a whole number" if k == "integer" else f"a {k}" for k in kinds)
    raise ValueError(f"“{value}” is not {expected}.")


def _fetch_in(queryset: QuerySet, field_name: str, values: Iterable[Any]) -> list[Any]:
    """`queryset.filter(field__in=values)` in chunks of IN_CHUNK: one query per 5,000 values."""
    values = list(values)
    found: list[Any] = []
    for start in range(0, len(values), IN_CHUNK):
        found.extend(queryset.filter(**{f"{field_name}__in": values[start : start + IN_CHUNK]}))
    return found


def _known(items: Iterable[str], limit: int = 15) -> str:
    items = sorted(items)
    more = f", … ({len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more if items else "none"


# --- importing CIs ------------------------------------------------------------------------


class _Row:
    """Collects the errors of one row."""

    def __init__(self, number: int):
        self.number = number
        self.errors: dict[str, list[str]] = {}

    def error(self, column: str, message: str) -> None:
        self.errors.setdefault(column, []).append(message)


@dataclass
class _Lookups:
    types: dict[str, CIType]
    types_by_id: dict[int, CIType]
    users: dict[str, Any]
    departments: dict[str, Department]
    sites: dict[str, Site]
    existing: dict[int, ConfigurationItem]
    by_identifier: dict[str, dict[str, ConfigurationItem]]


def _preload_for_cis(rows: Sequence[tuple[int, dict[str, Any]]], *, lock: bool) -> _Lookups:
    """Everything the rows refer to, in a fixed number of queries (one more per 5,000 rows)."""

    def distinct(column: str, normalize=_cell) -> set[str]:
        return {v for _, row in rows if (v := normalize(row.get(column)))}

    types = list(CIType.objects.all())
    User = get_user_model()
    users = _fetch_in(User.objects.all(), User.USERNAME_FIELD, distinct("owner"))
    departments = _fetch_in(Department.objects.all(), "name", distinct("department"))
    sites = _fetch_in(Site.objects.all(), "slug", distinct("site"))
    queryset = ConfigurationItem.objects.all()
    if lock:
        queryset = queryset.select_for_update()
    existing: dict[int, ConfigurationItem] = {}
    ids = {int(v) for v in distinct("id") if v.isdigit() and len(v) < 19}
    identifiers = {
        "serial_number": distinct("serial_number", lambda v: normalize_serial(_cell(v))),
        "asset_tag": distinct("asset_tag"),
        "uuid": distinct("uuid", lambda v: normalize_uuid(_cell(v))),
    }
    for ci in _fetch_in(queryset, "pk", ids):
        existing[ci.pk] = ci
    for name, values in identifiers.items():
        # An exported file names each CI by id and its identifiers: load each CI once.
        values -= {getattr(ci, name) for ci in existing.values()}
        for ci in _fetch_in(queryset, name, values):
            existing.setdefault(ci.pk, ci)
    types_by_id = {t.pk: t for t in types}
    for ci in existing.values():
        ci.ci_type = types_by_id[ci.ci_type_id]
    by_identifier = {
        name: {getattr(ci, name): ci for ci in existing.values() if getattr(ci, name)}
        for name in services.IDENTIFIER_FIELDS
    }
    return _Lookups(
        types={t.slug: t for t in types},
        types_by_id=types_by_id,
        users={u.get_username(): u for u in users},
        departments={d.name: d for d in departments},
        sites={s.slug: s for s in sites},
        existing=existing,
        by_identifier=by_identifier,
    )


IDENTIFYING_NORMALIZERS = {
    "serial_number": normalize_serial,
    "asset_tag": str.strip,
    "hostname": normalize_hostname,
    "uuid": normalize_uuid,
}
_MAX_LENGTHS = {
    name: ConfigurationItem._meta.get_field(name).max_length
    for name in ("name", "serial_number", "asset_tag", "hostname", "uuid")
}


def _match_ci(
    row: _Row, cells: Mapping[str, Any], lookups: _Lookups, identifiers: Mapping[str, str]
) -> ConfigurationItem | None:
    """The existing CI a row updates (by id, else by identifier), or None to create one."""
    raw_id = _cell(cells.get("id"))
    target = None
    matched_by = ""
    if raw_id:
        if not raw_id.isdigit() or len(raw_id) >= 19:
            row.error("id", "Must be the number of an existing CI, or empty to create a CI.")
            return None
        target = lookups.existing.get(int(raw_id))
        if target is None:
            row.error("id", f"No CI has id {raw_id}. Leave id empty to create a new CI.")
            return None
        matched_by = "id"
    for column, value in identifiers.items():
        other = lookups.by_identifier[column].get(value) if value else None
        if other is None:
            continue
        if target is None:
            target, matched_by = other, column
        elif other.pk != target.pk:
            label = _LABELS[column]
            through = "this row's id" if matched_by == "id" else f"its {_LABELS[matched_by]}"
            row.error(
                column,
                f"CI {other.pk} ({other.name}) already has this {label}, but this row is CI "
                f"{target.pk} ({target.name}) by {through}.",
            )
    return target


def _check_lengths(row: _Row, values: Mapping[str, Any], raw: Mapping[str, str]) -> None:
    for name, limit in _MAX_LENGTHS.items():
        if name not in values:
            continue
        text = raw.get(name, values[name] or "")
        if name == "uuid":
            text = text.strip("{}")
        elif name == "hostname":
            text = text.rstrip(".")
        if len(text) > limit:
            row.error(name, f"At most {limit} characters (this has {len(text)}).")
    for name, check in (("hostname", validate_hostname), ("uuid", validate_uuid)):
        try:
            check(values.get(name) or "")
        except ValidationError as exc:
            row.error(name, exc.messages[0])


def _reference(
    row: _Row, column: str, value: str, table: Mapping[str, Any], what: str
) -> Model | None:
    if not value:
        return None
    found = table.get(value)
    if found is None:
        row.error(column, f"No {what} “{value}”.")
    return found


def _row_values(
    row: _Row,
    cells: Mapping[str, Any],
    target: ConfigurationItem | None,
    lookups: _Lookups,
    attr_columns: Sequence[str],
) -> dict[str, Any]:
    """The model values a row sets: every field for a new CI, the columns present for an update."""
    creating = target is None
    values: dict[str, Any] = {}
    raw: dict[str, str] = {}
    present = {c for c in cells if c}

    name = _cell(cells.get("name"))
    if name:
        values["name"] = name
    elif creating:
        row.error("name", "Required to create a CI.")

    ci_type = target.ci_type if target is not None else None
    slug = _cell(cells.get("ci_type"))
    if slug:
        found = lookups.types.get(slug)
        if found is None:
            row.error("ci_type", f"No CI type “{slug}”. Known types: {_known(lookups.types)}.")
            ci_type = None
        else:
            values["ci_type"] = ci_type = found
    elif creating:
        row.error("ci_type", "Required to create a CI (a CI type slug).")

    status = _cell(cells.get("status")).lower()
    if status and status not in CIStatus.values:
        row.error("status", f"“{status}” is not a status. Allowed: {', '.join(CIStatus.values)}.")
    elif creating and status and status not in CI_INITIAL_STATUSES:
        row.error("status", f"A new CI cannot start as “{status}”.")
    elif creating:
        values["status"] = status or CIStatus.ORDERED
    elif status and status != target.status:
        row.error(
            "status",
            f"An import cannot move a CI through its lifecycle (CI {target.pk} is "
            f"{target.status}); use the lifecycle action, or leave the cell empty.",
        )

    managed = _cell(cells.get("managed"))
    if managed:
        try:
            values["managed"] = parse_bool(managed)
        except ValueError as exc:
            row.error("managed", str(exc))
    elif creating:
        values["managed"] = True

    for column, table, what in (
        ("owner", lookups.users, "user"),
        ("department", lookups.departments, "department"),
        ("site", lookups.sites, "site"),
    ):
        if creating or column in present:
            values[column] = _reference(row, column, _cell(cells.get(column)), table, what)

    for column, normalize in IDENTIFYING_NORMALIZERS.items():
        if creating or column in present:
            raw[column] = _cell(cells.get(column))
            values[column] = normalize(raw[column])
    if creating or "description" in present:
        values["description"] = _raw_cell(cells.get("description"))
    _check_lengths(row, values, raw)

    attributes: dict[str, Any] | None = None
    text = _cell(cells.get("attributes"))
    if text:
        try:
            attributes = json.loads(text)
        except ValueError as exc:
            row.error("attributes", f"Not valid JSON: {exc}.")
        else:
            if not isinstance(attributes, dict):
                row.error("attributes", 'Must be a JSON object, e.g. {"os": "Debian 12"}.')
                attributes = None
    set_by_cells: dict[str, Any] = {}
    schema = ci_type.attribute_schema if ci_type is not None else {}
    for column in attr_columns:
        value = _cell(cells.get(column))
        if not value:
            continue
        key = column[len(ATTR_PREFIX) :]
        try:
            set_by_cells[key] = convert_attribute(schema, key, value)
        except ValueError as exc:
            row.error(column, str(exc))
    if attributes is not None or set_by_cells:
        base = attributes if attributes is not None else dict(target.attributes if target else {})
        values["attributes"] = {**base, **set_by_cells}
    elif creating:
        values["attributes"] = {}
    return values


def _validate_attributes(
    row: _Row, ci_type: CIType, attributes: Any, attr_columns: Sequence[str]
) -> None:
    try:
        services.validate_attributes(ci_type, attributes)
    except ValidationError as exc:
        for message in exc.message_dict.get("attributes", exc.messages):
            key = message.split(":", 1)[0]
            column = ATTR_PREFIX + key
            row.error(
                column if ":" in message and column in attr_columns else "attributes", message
            )


@transaction.atomic
def import_cis(
    *, context: ChangeContext, rows: Sequence[Mapping[str, Any]], dry_run: bool
) -> ImportResult:
    """Create or update CIs from CSV rows, all or nothing; a dry run writes nothing.

    Every row is checked first (type, references, attributes against the type's schema,
    identifiers unique in the file and against other CIs, status, version); if any row is bad
    nothing is written and the result lists every bad row. A fixed number of queries whatever
    the number of rows (one more per 5,000 rows for the lookups).
    """
    services.require_permission(context, "cmdb.import_ci")
    check_columns("cis", _columns_of(rows))
    result = ImportResult(kind="cis", dry_run=dry_run)
    numbered = [
        (index + 2, row)
        for index, row in enumerate(rows)
        if any(_cell(v) for k, v in row.items() if k)
    ]
    attr_columns = sorted(c for c in _columns_of(rows) if c.startswith(ATTR_PREFIX))
    lookups = _preload_for_cis(numbered, lock=not dry_run)

    seen_identifiers: dict[str, dict[str, int]] = {name: {} for name in services.IDENTIFIER_FIELDS}
    seen_targets: dict[int, int] = {}
    creates: list[tuple[int, dict[str, Any]]] = []
    updates: list[tuple[ConfigurationItem, dict[str, Any]]] = []
    for number, cells in numbered:
        row = _Row(number)
        identifiers = {
            column: IDENTIFYING_NORMALIZERS[column](_cell(cells.get(column)))
            for column in services.IDENTIFIER_FIELDS
            if column in cells
        }
        for column, value in identifiers.items():
            if not value:
                continue
            first = seen_identifiers[column].setdefault(value, number)
            if first != number:
                row.error(column, f"Repeats the {_LABELS[column]} of row {first}.")
        target = _match_ci(row, cells, lookups, identifiers)
        if target is not None and not row.errors:
            first = seen_targets.setdefault(target.pk, number)
            if first != number:
                row.error("id", f"Row {first} already updates CI {target.pk} ({target.name}).")
        values = _row_values(row, cells, target, lookups, attr_columns)
        if row.errors:
            result.row_errors.append({"row": number, "errors": row.errors})
            continue
        if target is None:
            _validate_attributes(row, values["ci_type"], values["attributes"], attr_columns)
            if row.errors:
                result.row_errors.append({"row": number, "errors": row.errors})
                continue
            creates.append((number, values))
            result.created += 1
            result.rows.append(
                {"row": number, "action": "create", "id": None, "name": values["name"]}
            )
            continue
        before = snapshot(target)
        candidate = ConfigurationItem(**_model_values(target, values))
        changes = diff(before, snapshot(candidate))
        if changes and ("attributes" in changes or "ci_type" in changes):
            _validate_attributes(row, candidate.ci_type, candidate.attributes, attr_columns)
        version = _cell(cells.get("version"))
        if changes and version and version != str(target.version):
            row.error(
                "version",
                f"CI {target.pk} changed since this row was exported (it is at version "
                f"{target.version}, the row says {version}). Export again, or empty the cell "
                "to overwrite.",
            )
        if row.errors:
            result.row_errors.append({"row": number, "errors": row.errors})
            continue
        action = "update" if changes else "unchanged"
        if changes:
            updates.append((target, {"values": values, "changes": changes}))
            result.updated += 1
        else:
            result.unchanged += 1
        result.rows.append(
            {
                "row": number,
                "action": action,
                "id": target.pk,
                "name": candidate.name,
                "fields": sorted(changes),
            }
        )

    if result.row_errors:
        return result
    if creates:
        services.require_permission(context, "cmdb.add_configurationitem")
    if updates:
        services.require_permission(context, "cmdb.change_configurationitem")
    if dry_run:
        return result

    if creates:
        ids = _create(context, creates)
        for planned in result.rows:
            if planned["action"] == "create":
                planned["id"] = ids[planned["row"]]
    if updates:
        _apply_updates(context, updates)
    return result


def _model_values(ci: ConfigurationItem, values: Mapping[str, Any]) -> dict[str, Any]:
    """Constructor arguments of `ci` with `values` applied (foreign keys as ids)."""
    merged = {
        "pk": ci.pk,
        "name": ci.name,
        "description": ci.description,
        "ci_type": ci.ci_type,
        "status": ci.status,
        "managed": ci.managed,
        "owner_id": ci.owner_id,
        "department_id": ci.department_id,
        "site_id": ci.site_id,
        "serial_number": ci.serial_number,
        "asset_tag": ci.asset_tag,
        "hostname": ci.hostname,
        "uuid": ci.uuid,
        "attributes": ci.attributes,
        "version": ci.version,
    }
    for name, value in values.items():
        if name in {"owner", "department", "site"}:
            merged[f"{name}_id"] = value.pk if value is not None else None
        else:
            merged[name] = value
    return merged


def _create(
    context: ChangeContext, creates: Sequence[tuple[int, dict[str, Any]]]
) -> dict[int, int]:
    """Create through `services.ci_bulk_create` (bulk insert + bulk history), in chunks of
    IN_CHUNK so its identifier look-ups stay within SQLite's variable limit. Row → new id."""
    ids: dict[int, int] = {}
    for start in range(0, len(creates), IN_CHUNK):
        chunk = creates[start : start + IN_CHUNK]
        try:
            created = services.ci_bulk_create(context=context, items=[v for _, v in chunk])
        except PermissionDeniedError:
            raise
        except ApplicationError as exc:
            raise ConflictError(
                "Some rows conflict with CIs saved meanwhile; nothing was imported. Try again.",
                extra={
                    "row_errors": [
                        {"row": chunk[e["index"]][0], "errors": e["errors"]}
                        for e in exc.extra.get("errors", [])
                    ]
                },
            ) from exc
        ids.update({number: ci.pk for (number, _), ci in zip(chunk, created, strict=True)})
    return ids


def _update_rows(cis: Sequence[ConfigurationItem], fields: Sequence[str]) -> None:
    """Write `fields` of every CI in a few statements, whatever the number of rows.

    `QuerySet.bulk_update` builds a `CASE WHEN id = … THEN …` per row and field and spends about
    a millisecond per row doing so. Instead: on PostgreSQL one `UPDATE … FROM (VALUES …)` per
    1,000 rows; on SQLite one parametrised UPDATE run by `executemany` (prepared once, run
    in-process). The rows are locked (select_for_update on PostgreSQL, the write transaction
    on SQLite), so writing the union of the changed fields rewrites unchanged fields with
    their current values only.
    """
    meta = ConfigurationItem._meta
    columns = [meta.get_field(name) for name in fields]
    connection = connections[router.db_for_write(ConfigurationItem)]
    quote = connection.ops.quote_name
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    rows = [
        [column.get_db_prep_save(getattr(ci, column.attname), connection) for column in columns]
        + [ci.pk]
        for ci in cis
    ]
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            assignments = ", ".join(f"{quote(c.column)} = %s" for c in columns)
            cursor.executemany(f"UPDATE {table} SET {assignments} WHERE {pk} = %s", rows)
            return
        casts = [c.cast_db_type(connection) for c in columns] + [meta.pk.cast_db_type(connection)]
        row_sql = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
        names = [quote(f"v_{c.column}") for c in columns] + [quote("v_pk")]
        assignments = ", ".join(
            f"{quote(c.column)} = v.{n}" for c, n in zip(columns, names[:-1], strict=True)
        )
        for start in range(0, len(rows), 1000):
            chunk = rows[start : start + 1000]
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM (VALUES "
                + ", ".join([row_sql] * len(chunk))
                + f") AS v({', '.join(names)}) WHERE {table}.{pk} = v.{quote('v_pk')}",
                [value for row in chunk for value in row],
            )


def _apply_updates(
    context: ChangeContext, updates: Sequence[tuple[ConfigurationItem, dict[str, Any]]]
) -> None:
    """Save changed CIs with one UPDATE per batch, bump versions, record history in bulk."""
    now = timezone.now()
    fields: set[str] = {"version", "updated"}
    entries = []
    for ci, planned in updates:
        for name, value in planned["values"].items():
            setattr(ci, name, value)
        fields.update(planned["changes"])
        ci.version += 1
        ci.updated = now
        entries.append(
            new_entry(
                ci=ci, kind=HistoryEntry.Kind.UPDATED, changes=planned["changes"], context=context
            )
        )
    try:
        with transaction.atomic():
            _update_rows([ci for ci, _ in updates], sorted(fields))
    except IntegrityError as exc:
        raise ConflictError(
            "A CI with one of these identifiers was saved meanwhile; nothing was imported."
        ) from exc
    record_many(entries)


# --- importing relationships --------------------------------------------------------------


@transaction.atomic
def import_relationships(
    *, context: ChangeContext, rows: Sequence[Mapping[str, Any]], dry_run: bool
) -> ImportResult:
    """Create relationships from CSV rows, all or nothing; existing ones count as unchanged.

    `source` and `target` are CI ids or exact CI names (a name must be unique), `type` a
    relationship type slug. Unknown or ambiguous CIs, self-links and rows repeated in the file
    are row errors. History is recorded on both CIs in the format of
    `services.relationship_create`, one entry per CI listing every link the import added to it.
    """
    services.require_permission(context, "cmdb.import_ci")
    check_columns("relationships", _columns_of(rows))
    result = ImportResult(kind="relationships", dry_run=dry_run)
    numbered = [
        (index + 2, {k: _cell(v) for k, v in row.items() if k})
        for index, row in enumerate(rows)
        if any(_cell(v) for k, v in row.items() if k)
    ]
    refs = {row[c] for _, row in numbered for c in ("source", "target") if row.get(c)}
    ids = {int(v) for v in refs if v.isdigit() and len(v) < 19}
    names = {v for v in refs if not v.isdigit()}
    cis = ConfigurationItem.objects.only("id", "name")
    by_id = {ci.pk: ci for ci in _fetch_in(cis, "pk", ids)}
    by_name: dict[str, list[ConfigurationItem]] = {}
    for ci in _fetch_in(cis, "name", names):
        by_name.setdefault(ci.name, []).append(ci)
    types = {t.slug: t for t in RelationshipType.objects.all()}

    def resolve(row: _Row, column: str, value: str) -> ConfigurationItem | None:
        if not value:
            row.error(column, "Required: a CI id or the exact name of a CI.")
            return None
        if value.isdigit():
            ci = by_id.get(int(value)) if len(value) < 19 else None
            if ci is None:
                row.error(column, f"No CI has id {value}.")
            return ci
        matches = by_name.get(value, [])
        if not matches:
            row.error(column, f"No CI is called “{value}”.")
            return None
        if len(matches) > 1:
            found = ", ".join(str(ci.pk) for ci in sorted(matches, key=lambda c: c.pk)[:10])
            row.error(column, f"Several CIs are called “{value}” (ids {found}); give the id.")
            return None
        return matches[0]

    planned: list[tuple[int, ConfigurationItem, ConfigurationItem, RelationshipType]] = []
    seen: dict[tuple[int, int, int], int] = {}
    for number, cells in numbered:
        row = _Row(number)
        source = resolve(row, "source", cells.get("source", ""))
        target = resolve(row, "target", cells.get("target", ""))
        slug = cells.get("type", "")
        rel_type = types.get(slug)
        if rel_type is None:
            message = f"No relationship type “{slug}”." if slug else "Required."
            row.error("type", f"{message} Known types: {_known(types)}.")
        if source is not None and target is not None and source.pk == target.pk:
            row.error("target", "A CI cannot be related to itself.")
        if not row.errors:
            key = (source.pk, target.pk, rel_type.pk)
            first = seen.setdefault(key, number)
            if first != number:
                row.error("target", f"Repeats the relationship of row {first}.")
        if row.errors:
            result.row_errors.append({"row": number, "errors": row.errors})
            continue
        planned.append((number, source, target, rel_type))

    existing: set[tuple[int, int, int]] = set()
    sources = {source.pk for _, source, _, _ in planned}
    links = Relationship.objects.values_list("source_id", "target_id", "type_id")
    for start in range(0, len(sources), IN_CHUNK):
        chunk = sorted(sources)[start : start + IN_CHUNK]
        existing.update(links.filter(source_id__in=chunk))
    new: list[tuple[int, ConfigurationItem, ConfigurationItem, RelationshipType]] = []
    for number, source, target, rel_type in planned:
        is_new = (source.pk, target.pk, rel_type.pk) not in existing
        result.rows.append(
            {
                "row": number,
                "action": "create" if is_new else "unchanged",
                "source": source.pk,
                "target": target.pk,
                "type": rel_type.slug,
            }
        )
        if is_new:
            new.append((number, source, target, rel_type))
            result.created += 1
        else:
            result.unchanged += 1
    if result.row_errors:
        return result
    if new:
        services.require_permission(context, "cmdb.add_relationship")
    if dry_run or not new:
        return result
    try:
        with transaction.atomic():
            created = Relationship.objects.bulk_create(
                [Relationship(source=s, target=t, type=rt) for _, s, t, rt in new],
                batch_size=2000,
            )
    except IntegrityError as exc:
        raise ConflictError(
            "Some of these relationships were created meanwhile; nothing was imported. Try again."
        ) from exc
    # One entry per CI touched, its "added" listing each new link of that CI: never more
    # entries than relationship_create would write, often far fewer.
    added: dict[int, tuple[ConfigurationItem, list[dict[str, Any]]]] = {}
    for rel in created:
        item = {"id": rel.pk, "source": rel.source_id, "target": rel.target_id}
        item["type"] = rel.type.slug
        for ci in (rel.source, rel.target):
            added.setdefault(ci.pk, (ci, []))[1].append(item)
    entries = [
        new_entry(
            ci=ci,
            kind=HistoryEntry.Kind.RELATIONSHIP,
            changes={"added": items, "removed": []},
            context=context,
        )
        for ci, items in added.values()
    ]
    record_many(entries)
    return result


def import_csv(
    *, context: ChangeContext, kind: str, data: bytes | str, dry_run: bool
) -> ImportResult:
    """Parse a CSV file and import it as CIs (`kind="cis"`) or relationships."""
    if kind not in {"cis", "relationships"}:
        raise ApplicationError(f"Unknown import kind “{kind}”: cis or relationships.")
    rows = parse_csv(data, kind=kind)
    service = import_cis if kind == "cis" else import_relationships
    return service(context=context, rows=rows, dry_run=dry_run)


# --- exporting ----------------------------------------------------------------------------


class _Line:
    """A file-like object whose `write` hands back the line csv.writer produced."""

    def write(self, value: str) -> str:
        return value


def _safe(value: Any) -> Any:
    """Guard text a spreadsheet would run as a formula with an apostrophe (removed on import)."""
    if isinstance(value, str) and value[:1] in FORMULA_START and value:
        return "'" + value
    return value


def _csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_safe(v) for v in row])


def export_cis(queryset: QuerySet[ConfigurationItem]) -> Iterator[str]:
    """CSV lines (header first) of the CIs of `queryset`, in the columns the import accepts.

    Streams with a database iterator: 100,000 CIs never sit in memory at once. The file
    re-imports as "unchanged" rows.
    """
    rows = queryset.values_list(
        "id",
        "name",
        "ci_type__slug",
        "status",
        "managed",
        "owner__username",
        "department__name",
        "site__slug",
        "serial_number",
        "asset_tag",
        "hostname",
        "uuid",
        "description",
        "attributes",
        "version",
    ).iterator(chunk_size=2000)

    def shaped() -> Iterator[list[Any]]:
        for row in rows:
            values = list(row)
            values[4] = "true" if values[4] else "false"
            values[13] = json.dumps(values[13] or {}, ensure_ascii=False, sort_keys=True)
            yield ["" if v is None else v for v in values]

    return _csv_lines(CI_COLUMNS, shaped())


def export_relationships(queryset: QuerySet[Relationship]) -> Iterator[str]:
    """CSV lines (header first) of `source,target,type` with CI ids; re-imports as unchanged."""
    rows = queryset.values_list("source_id", "target_id", "type__slug").iterator(chunk_size=5000)
    return _csv_lines(RELATIONSHIP_COLUMNS, rows)
