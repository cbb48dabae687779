"""Importing CIs: plan every row (planning.py), then write all of it or nothing.

One bad row refuses the whole file: nothing is written and every bad row is listed, so a file
is never half imported. New CIs go through `services.ci_bulk_create` (bulk insert, bulk
history); changed CIs were planned by `services.ci_update_prepare` (the rules of `ci_update`)
on rows locked for the import, and are written in one UPDATE per 1,000 rows with their history
entries in bulk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from itsm.exceptions import ApplicationError, ConflictError, PermissionDeniedError

from .. import services, sql
from ..history import ChangeContext, new_entry, record_many
from ..models import ConfigurationItem, Department, HistoryEntry, Site
from .planning import (
    IDENTIFYING_NORMALIZERS,
    IN_CHUNK,
    LABELS,
    UNIQUE_IDENTIFIERS,
    Plan,
    Row,
    fetch_in,
    match_ci,
    preload,
    prepare_update,
    resolve_match_on,
    row_values,
    validate_new,
)
from .reading import ATTR_PREFIX, cell, cell_problems, check_columns, columns_of
from .result import ImportResult


@transaction.atomic
def import_cis(
    *,
    context: ChangeContext,
    rows: Sequence[Mapping[str, Any]],
    dry_run: bool,
    match_on: str | None = None,
) -> ImportResult:
    """Create or update CIs from CSV rows, all or nothing; a dry run writes nothing.

    `match_on` is how a row finds the CI it updates: "id" (the default when the file has an
    `id` column), one identifier column ("serial_number", "asset_tag", "hostname", "uuid"), or
    "none" (the default otherwise: every row creates a CI). Every row is checked first (type,
    references, attributes against the type's schema, identifiers unique in the file and
    against other CIs, no type change, status, version); if any row is bad nothing is written
    and the result lists every bad row. A fixed number of queries whatever the number of rows
    (one more per 5,000 rows for the lookups).
    """
    services.require_permission(context, "cmdb.import_ci")
    columns = columns_of(rows)
    check_columns("cis", columns)
    key = resolve_match_on(match_on, columns)
    check_columns("cis", columns, match_on=key)
    result = ImportResult(kind="cis", dry_run=dry_run, match_on=key)
    numbered: list[tuple[int, Mapping[str, Any]]] = []
    for index, cells in enumerate(rows):
        if not any(cell(v) for k, v in cells.items() if k):
            continue  # a blank row
        problems = cell_problems(cells)
        if problems:  # kept out of every query: the database cannot even compare such text
            result.row_errors.append({"row": index + 2, "errors": problems})
        else:
            numbered.append((index + 2, cells))
    attr_columns = sorted(c for c in columns if c.startswith(ATTR_PREFIX))
    lookups = preload(numbered, lock=not dry_run)
    identifiers_of = [
        {
            c: IDENTIFYING_NORMALIZERS[c](cell(cells.get(c)))
            for c in UNIQUE_IDENTIFIERS
            if c in cells
        }
        for _, cells in numbered
    ]
    repeats = services.identifier_repeats(identifiers_of, UNIQUE_IDENTIFIERS)

    plan = Plan()
    seen_targets: dict[int, int] = {}
    for position, (number, cells) in enumerate(numbered):
        row = Row(number)
        for column, first in repeats.get(position, {}).items():
            row.error(column, f"Repeats the {LABELS[column]} of row {numbered[first][0]}.")
        target = match_ci(row, cells, lookups, identifiers_of[position], key)
        if target is not None and not row.errors:
            first = seen_targets.setdefault(target.pk, number)
            if first != number:
                row.error("id", f"Row {first} already updates CI {target.pk} ({target.name}).")
        values = row_values(row, cells, target, lookups, attr_columns)
        if target is None and not row.errors:
            validate_new(row, values, attr_columns)
        if target is not None and not row.errors:
            version = cell(cells.get("version"))
            candidate, changes = prepare_update(row, target, values, version, attr_columns)
        if row.errors:
            result.row_errors.append({"row": number, "errors": row.errors})
            continue
        if target is None:
            plan.creates.append((number, values))
            result.created += 1
            result.rows.append(
                {
                    "row": number,
                    "action": "create",
                    "id": None,
                    "name": values["name"],
                    "ci_type": values["ci_type"].slug,
                }
            )
            continue
        if changes:
            plan.updates.append((candidate, changes))
            result.updated += 1
        else:
            result.unchanged += 1
        result.rows.append(
            {
                "row": number,
                "action": "update" if changes else "unchanged",
                "id": target.pk,
                "name": candidate.name,
                "ci_type": target.ci_type.slug,
                "fields": sorted(changes),
                "changes": changes,
            }
        )
    result.row_errors.sort(key=lambda item: item["row"])
    _make_readable(result.rows)

    if result.row_errors:
        return result
    if plan.creates:
        services.require_permission(context, "cmdb.add_configurationitem")
    if plan.updates:
        services.require_permission(context, "cmdb.change_configurationitem")
    if dry_run:
        return result

    if plan.creates:
        ids = _create(context, plan.creates)
        for planned in result.rows:
            if planned["action"] == "create":
                planned["id"] = ids[planned["row"]]
    if plan.updates:
        _apply_updates(context, plan.updates)
    return result


def _make_readable(rows: Sequence[dict[str, Any]]) -> None:
    """Turn each update's history changes into what a person reads: user names, department
    names and site slugs instead of ids, one `attr:<key>` entry per changed attribute. A
    query per kind of reference changed, whatever the number of rows."""
    wanted: dict[str, set[int]] = {"owner": set(), "department": set(), "site": set()}
    for planned in rows:
        for name, ids in wanted.items():
            change = planned.get("changes", {}).get(name)
            if change:
                ids.update(v for v in (change["old"], change["new"]) if v is not None)
    User = get_user_model()
    names: dict[str, dict[int, str]] = {
        "owner": dict(
            fetch_in(User.objects.values_list("pk", User.USERNAME_FIELD), "pk", wanted["owner"])
        ),
        "department": dict(
            fetch_in(Department.objects.values_list("pk", "name"), "pk", wanted["department"])
        ),
        "site": dict(fetch_in(Site.objects.values_list("pk", "slug"), "pk", wanted["site"])),
    }
    for planned in rows:
        changes = planned.get("changes")
        if not changes:
            continue
        readable: dict[str, dict[str, Any]] = {}
        for name, change in changes.items():
            if name == "attributes":
                old, new = change["old"] or {}, change["new"] or {}
                for key in sorted(set(old) | set(new)):
                    if key not in old or key not in new or old[key] != new[key]:
                        readable[ATTR_PREFIX + key] = {"old": old.get(key), "new": new.get(key)}
            elif name in names:
                readable[name] = {
                    "old": names[name].get(change["old"]),
                    "new": names[name].get(change["new"]),
                }
            else:
                readable[name] = dict(change)
        planned["changes"] = readable


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
    """Write `fields` of every CI in a few statements (`cmdb.sql.update_cis`: `bulk_update`
    doubled the import's update time). The rows are locked (select_for_update on PostgreSQL,
    the write transaction on SQLite), so writing the union of the changed fields rewrites
    unchanged fields with their current values only."""
    sql.update_cis(cis, fields)


def _apply_updates(
    context: ChangeContext, updates: Sequence[tuple[ConfigurationItem, dict[str, Any]]]
) -> None:
    """Save the changed CIs (values and version already set by `ci_update_prepare`) with one
    UPDATE per batch, and record their history in bulk."""
    now = timezone.now()
    fields: set[str] = {"version", "updated"}
    entries = []
    for ci, changes in updates:
        fields.update(changes)
        ci.updated = now
        entries.append(
            new_entry(ci=ci, kind=HistoryEntry.Kind.UPDATED, changes=changes, context=context)
        )
    try:
        with transaction.atomic():
            _update_rows([ci for ci, _ in updates], sorted(fields))
    except IntegrityError as exc:
        raise ConflictError(
            "A CI with one of these identifiers was saved meanwhile; nothing was imported."
        ) from exc
    record_many(entries)
