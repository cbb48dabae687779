"""Planning a CI import: which CI each row creates or changes, and how, before anything is written.

A row matches an existing CI only through an explicit key: its `id` cell, or the one
identifier column chosen for the import (`match_on`). Every other identifier in the row
(serial number, asset tag, UUID, host name) must belong to no other CI: a row whose keys point
at two CIs, or that would create a CI with an identifier another CI has, is refused. So is a
row that would change a CI's type. Updates follow `services.ci_update_prepare`, the rules of
`ci_update` (normalisation, version check, validation). Data the rows refer to is preloaded in
a fixed number of queries (one more per 5,000 rows).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet

from itsm.exceptions import ApplicationError, ConflictError

from .. import services
from ..choices import CI_INITIAL_STATUSES, CIStatus
from ..identifiers import (
    normalize_hostname,
    normalize_serial,
    normalize_uuid,
    validate_hostname,
    validate_uuid,
)
from ..models import CIType, ConfigurationItem, Department, Site
from .reading import (
    ATTR_PREFIX,
    MATCH_CHOICES,
    ImportFileError,
    UnstorableValue,
    cell,
    convert_attribute,
    known,
    load_json,
    parse_bool,
    raw_cell,
)

#: Values per `IN (…)` list: well under SQLite's 32,766 variables, one query per 5,000 rows.
IN_CHUNK = 5_000
#: Identifiers no two CIs share (host names: among CIs not disposed), checked on every row.
UNIQUE_IDENTIFIERS = tuple(dict.fromkeys((*services.IDENTIFIER_FIELDS, "hostname")))
IDENTIFYING_NORMALIZERS = {
    "serial_number": normalize_serial,
    "asset_tag": str.strip,
    "hostname": normalize_hostname,
    "uuid": normalize_uuid,
}
LABELS = {
    "id": "id",
    "serial_number": "serial number",
    "asset_tag": "asset tag",
    "hostname": "host name",
    "uuid": "UUID",
}
_MAX_LENGTHS = {
    name: ConfigurationItem._meta.get_field(name).max_length
    for name in ("name", "serial_number", "asset_tag", "hostname", "uuid")
}


_STATUSES = frozenset(CIStatus.values)


class Row:
    """Collects the errors of one row."""

    def __init__(self, number: int):
        self.number = number
        self.errors: dict[str, list[str]] = {}

    def error(self, column: str, message: str) -> None:
        self.errors.setdefault(column, []).append(message)


@dataclass
class Lookups:
    """What the rows refer to, loaded once: types, users, departments, sites and the CIs
    named by an id or carrying one of the rows' identifiers (`owners[column][value]`)."""

    types: dict[str, CIType]
    users: dict[str, Any]
    departments: dict[str, Department]
    sites: dict[str, Site]
    existing: dict[int, ConfigurationItem]
    owners: dict[str, dict[str, list[ConfigurationItem]]]


@dataclass
class Plan:
    """The checked rows: CIs to create (row number, `ci_create` arguments) and CIs to update
    (the changed copy of the locked CI, its history changes)."""

    creates: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    updates: list[tuple[ConfigurationItem, dict[str, Any]]] = field(default_factory=list)


def resolve_match_on(match_on: str | None, columns: Iterable[str]) -> str:
    """The key rows are matched on: the choice made, else `id` when the file has an id
    column, else `none` (every row creates a CI). The chosen column must be in the file."""
    columns = set(columns)
    if not match_on:
        return "id" if "id" in columns else "none"
    if match_on not in MATCH_CHOICES:
        message = f"“{match_on}” is not a match key. Choose one of: {', '.join(MATCH_CHOICES)}."
        raise ApplicationError(message, extra={"errors": {"match_on": [message]}})
    if match_on != "none" and match_on not in columns:
        raise ImportFileError(
            f"The import matches on {match_on}, but the file has no {match_on} column."
        )
    return match_on


def fetch_in(queryset: QuerySet, field_name: str, values: Iterable[Any]) -> list[Any]:
    """`queryset.filter(field__in=values)` in chunks of IN_CHUNK: one query per 5,000 values."""
    values = list(values)
    found: list[Any] = []
    for start in range(0, len(values), IN_CHUNK):
        found.extend(queryset.filter(**{f"{field_name}__in": values[start : start + IN_CHUNK]}))
    return found


def preload(rows: Sequence[tuple[int, Mapping[str, Any]]], *, lock: bool) -> Lookups:
    """Everything the rows refer to, in a fixed number of queries (one more per 5,000 rows)."""

    def distinct(column: str, normalize=cell) -> set[str]:
        return {v for _, row in rows if (v := normalize(row.get(column)))}

    types = list(CIType.objects.all())
    User = get_user_model()
    users = fetch_in(User.objects.all(), User.USERNAME_FIELD, distinct("owner"))
    departments = fetch_in(Department.objects.all(), "name", distinct("department"))
    sites = fetch_in(Site.objects.all(), "slug", distinct("site"))
    queryset = ConfigurationItem.objects.all()
    if lock:
        queryset = queryset.select_for_update()
    ids = {int(v) for v in distinct("id") if v.isdigit() and len(v) < 19}
    existing = {ci.pk: ci for ci in fetch_in(queryset, "pk", ids)}
    hostnames: list[tuple[int, str]] = []
    for name in UNIQUE_IDENTIFIERS:
        normalizer = IDENTIFYING_NORMALIZERS[name]
        values = distinct(name, lambda v, n=normalizer: n(cell(v)))
        if name == "hostname":
            # Not unique in the table (only among CIs not disposed): every holder counts, so
            # look up (id, host name) pairs and load only the CIs not loaded yet.
            live = ConfigurationItem.objects.exclude(status=CIStatus.DISPOSED)
            hostnames = fetch_in(live.values_list("pk", "hostname"), name, values)
            missing = {pk for pk, _ in hostnames} - existing.keys()
            existing.update((ci.pk, ci) for ci in fetch_in(queryset, "pk", missing))
            continue
        # Unique: a CI loaded by id is the only one that can have its own values.
        values -= {getattr(ci, name) for ci in existing.values()}
        for ci in fetch_in(queryset, name, values):
            existing.setdefault(ci.pk, ci)
    types_by_id = {t.pk: t for t in types}
    owners: dict[str, dict[str, list[ConfigurationItem]]] = {n: {} for n in UNIQUE_IDENTIFIERS}
    for ci in sorted(existing.values(), key=lambda c: c.pk):
        ci.ci_type = types_by_id[ci.ci_type_id]
        for name in UNIQUE_IDENTIFIERS:
            value = getattr(ci, name)
            if value and name != "hostname":
                owners[name].setdefault(value, []).append(ci)
    for pk, hostname in sorted(hostnames):
        owners["hostname"].setdefault(hostname, []).append(existing[pk])
    return Lookups(
        types={t.slug: t for t in types},
        users={u.get_username(): u for u in users},
        departments={d.name: d for d in departments},
        sites={s.slug: s for s in sites},
        existing=existing,
        owners=owners,
    )


def _describe(ci: ConfigurationItem) -> str:
    return f"CI {ci.pk} ({ci.name})"


def match_ci(
    row: Row,
    cells: Mapping[str, Any],
    lookups: Lookups,
    identifiers: Mapping[str, str],
    match_on: str,
) -> ConfigurationItem | None:
    """The existing CI a row updates (by its id, else by the match column), or None to create
    one. Any identifier of the row that belongs to another CI is a row error."""
    raw_id = cell(cells.get("id"))
    target: ConfigurationItem | None = None
    via = ""
    if raw_id:
        if match_on == "none":
            row.error(
                "id",
                "This import only creates CIs (match on: none): empty the id cell, or match on "
                "id to update that CI.",
            )
            return None
        if not raw_id.isdigit() or len(raw_id) >= 19:
            row.error("id", "Must be the number of an existing CI, or empty to create a CI.")
            return None
        target = lookups.existing.get(int(raw_id))
        if target is None:
            row.error("id", f"No CI has id {raw_id}. Leave id empty to create a new CI.")
            return None
        via = "id"
    key = identifiers.get(match_on) if match_on in UNIQUE_IDENTIFIERS else None
    if key and target is None:
        found = lookups.owners[match_on].get(key, [])
        if len(found) > 1:
            ids = ", ".join(str(ci.pk) for ci in found[:10])
            row.error(
                match_on, f"Several CIs have this {LABELS[match_on]} (ids {ids}); give the id."
            )
            return None
        if found:
            target, via = found[0], match_on
    for column, value in identifiers.items():
        for other in lookups.owners[column].get(value, []) if value else ():
            if target is not None and other.pk == target.pk:
                continue
            label = LABELS[column]
            if target is None:
                row.error(
                    column,
                    f"{_describe(other)} already has this {label}: a row that creates a CI cannot "
                    f"take it. To update {_describe(other)}, give its id (or match on {column}).",
                )
            else:
                through = "this row's id" if via == "id" else f"its {LABELS[via]}"
                row.error(
                    column,
                    f"{_describe(other)} already has this {label}, but this row is "
                    f"{_describe(target)} by {through}: the row matches two CIs.",
                )
    return target


def _check_lengths(row: Row, values: Mapping[str, Any], raw: Mapping[str, str]) -> None:
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
    row: Row, column: str, value: str, table: Mapping[str, Any], what: str
) -> Model | None:
    if not value:
        return None
    found = table.get(value)
    if found is None:
        row.error(column, f"No {what} “{value}”.")
    return found


def _attributes(
    row: Row,
    cells: Mapping[str, Any],
    target: ConfigurationItem | None,
    ci_type: CIType | None,
    attr_columns: Sequence[str],
) -> dict[str, Any] | None:
    """The attributes a row sets (the `attributes` JSON, then `attr:` cells), or None."""
    attributes: dict[str, Any] | None = None
    text = cell(cells.get("attributes"))
    if text:
        try:
            attributes = load_json(text)
        except UnstorableValue as exc:
            row.error("attributes", str(exc))
        except ValueError as exc:
            row.error("attributes", f"Not valid JSON: {exc}.")
        else:
            if not isinstance(attributes, dict):
                row.error("attributes", 'Must be a JSON object, e.g. {"os": "Debian 12"}.')
                attributes = None
    set_by_cells: dict[str, Any] = {}
    schema = ci_type.attribute_schema if ci_type is not None else {}
    for column in attr_columns:
        value = cell(cells.get(column))
        if not value:
            continue
        key = column[len(ATTR_PREFIX) :]
        try:
            set_by_cells[key] = convert_attribute(schema, key, value)
        except ValueError as exc:
            row.error(column, str(exc))
    if attributes is not None or set_by_cells:
        base = attributes if attributes is not None else dict(target.attributes if target else {})
        return {**base, **set_by_cells}
    return None


def row_values(
    row: Row,
    cells: Mapping[str, Any],
    target: ConfigurationItem | None,
    lookups: Lookups,
    attr_columns: Sequence[str],
) -> dict[str, Any]:
    """The model values a row sets: every field for a new CI, the columns present for an update."""
    creating = target is None
    values: dict[str, Any] = {}
    raw: dict[str, str] = {}
    present = {c for c in cells if c}

    name = cell(cells.get("name"))
    if name:
        values["name"] = name
    elif creating:
        row.error("name", "Required to create a CI.")

    ci_type = target.ci_type if target is not None else None
    slug = cell(cells.get("ci_type"))
    if slug:
        found = lookups.types.get(slug)
        if found is None:
            row.error("ci_type", f"No CI type “{slug}”. Known types: {known(lookups.types)}.")
            ci_type = None
        elif target is not None and found.pk != target.ci_type_id:
            row.error(
                "ci_type",
                f"{_describe(target)} is a {target.ci_type.slug}; an import does not change the "
                f"type of a CI (this row says {slug}). Check that the row is meant for this CI.",
            )
        else:
            values["ci_type"] = ci_type = found
    elif creating:
        row.error("ci_type", "Required to create a CI (a CI type slug).")

    status = cell(cells.get("status")).lower()
    if status and status not in _STATUSES:
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

    managed = cell(cells.get("managed"))
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
            values[column] = _reference(row, column, cell(cells.get(column)), table, what)

    for column, normalize in IDENTIFYING_NORMALIZERS.items():
        if creating or column in present:
            raw[column] = cell(cells.get(column))
            values[column] = normalize(raw[column])
    if creating or "description" in present:
        values["description"] = raw_cell(cells.get("description"))
    _check_lengths(row, values, raw)

    attributes = _attributes(row, cells, target, ci_type, attr_columns)
    if attributes is not None:
        values["attributes"] = attributes
    elif creating:
        values["attributes"] = {}
    return values


def report_validation(row: Row, exc: ValidationError, attr_columns: Sequence[str]) -> None:
    """A service's field errors as row errors; attribute errors on their `attr:` column."""
    for name, messages in exc.message_dict.items():
        for message in messages:
            column = name if name != "__all__" else "id"
            if name == "attributes":
                key = ATTR_PREFIX + message.split(":", 1)[0]
                if ":" in message and key in attr_columns:
                    column = key
            row.error(column, message)


def validate_new(row: Row, values: Mapping[str, Any], attr_columns: Sequence[str]) -> None:
    """The attributes of a CI to create, against its type's schema."""
    try:
        services.validate_attributes(values["ci_type"], values["attributes"])
    except ValidationError as exc:
        report_validation(row, exc, attr_columns)


def _clone(ci: ConfigurationItem) -> ConfigurationItem:
    """A copy of a loaded CI to change in memory (what `copy.copy` does, without pickling)."""
    clone = ConfigurationItem.__new__(ConfigurationItem)
    clone.__dict__.update(ci.__dict__)
    clone._state = copy.copy(ci._state)
    clone._state.fields_cache = dict(ci._state.fields_cache)
    return clone


def prepare_update(
    row: Row,
    target: ConfigurationItem,
    values: Mapping[str, Any],
    version: str,
    attr_columns: Sequence[str],
) -> tuple[ConfigurationItem, dict[str, Any]]:
    """A changed copy of `target` and its changes, by the rules of `services.ci_update`."""
    expected: int | None = None
    if version:
        if not version.isdigit() or len(version) > 9:
            row.error("version", "Must be the whole number the CI was exported at, or empty.")
            return target, {}
        expected = int(version)
    candidate = _clone(target)
    try:
        changes = services.ci_update_prepare(ci=candidate, data=values, expected_version=expected)
    except ConflictError:
        row.error(
            "version",
            f"CI {target.pk} changed since this row was exported (it is at version "
            f"{target.version}, the row says {version}). Export again, or empty the cell "
            "to overwrite.",
        )
        return target, {}
    except ValidationError as exc:
        report_validation(row, exc, attr_columns)
        return target, {}
    except ApplicationError as exc:
        row.error("id", exc.message)
        return target, {}
    return candidate, changes
