"""Importing relationships: `source,target,type` rows, checked and then created all or nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction

from itsm.exceptions import ConflictError

from .. import services
from ..history import ChangeContext, new_entry, record_many
from ..models import ConfigurationItem, HistoryEntry, Relationship, RelationshipType
from .planning import IN_CHUNK, Row, fetch_in
from .reading import cell, cell_problems, check_columns, columns_of, known
from .result import ImportResult


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
    check_columns("relationships", columns_of(rows))
    result = ImportResult(kind="relationships", dry_run=dry_run)
    numbered: list[tuple[int, dict[str, str]]] = []
    for index, row in enumerate(rows):
        if not any(cell(v) for k, v in row.items() if k):
            continue  # a blank row
        if problems := cell_problems(row):  # kept out of every query
            result.row_errors.append({"row": index + 2, "errors": problems})
        else:
            numbered.append((index + 2, {k: cell(v) for k, v in row.items() if k}))
    refs = {row[c] for _, row in numbered for c in ("source", "target") if row.get(c)}
    ids = {int(v) for v in refs if v.isdigit() and len(v) < 19}
    names = {v for v in refs if not v.isdigit()}
    cis = ConfigurationItem.objects.only("id", "name")
    by_id = {ci.pk: ci for ci in fetch_in(cis, "pk", ids)}
    by_name: dict[str, list[ConfigurationItem]] = {}
    for ci in fetch_in(cis, "name", names):
        by_name.setdefault(ci.name, []).append(ci)
    types = {t.slug: t for t in RelationshipType.objects.all()}

    def resolve(row: Row, column: str, value: str) -> ConfigurationItem | None:
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
        row = Row(number)
        source = resolve(row, "source", cells.get("source", ""))
        target = resolve(row, "target", cells.get("target", ""))
        slug = cells.get("type", "")
        rel_type = types.get(slug)
        if rel_type is None:
            message = f"No relationship type “{slug}”." if slug else "Required."
            row.error("type", f"{message} Known types: {known(types)}.")
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
        result.row_errors.sort(key=lambda item: item["row"])
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
