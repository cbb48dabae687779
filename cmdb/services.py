"""Every write to the CMDB: one function per business action, one transaction each.

Each service checks the actor's permission (an actor of None is the system itself: an agent
report, a release step, a migration), validates, writes, and records history through
`record_change()` with the `ChangeContext` it was given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from itsm.exceptions import ApplicationError, ConflictError, PermissionDeniedError  # noqa: F401 - re-exported
from itsm.permissions import require_permission  # also imported from here by other apps

from . import sql
from .choices import CI_INITIAL_STATUSES, CI_TRANSITIONS, CIRoleKind, CIStatus, allowed_moves
from .history import ChangeContext, diff, new_entry, record_change, record_many, snapshot
from .identifiers import normalize_hostname, normalize_serial, normalize_uuid
from .models import (
    CIRole,
    CIType,
    ConfigurationItem,
    HistoryEntry,
    InstalledSoftware,
    Relationship,
    RelationshipType,
    SoftwareProduct,
    SoftwareVersion,
    StatusChange,
    software_key,
)
from .schemas import (  # noqa: F401 - attribute_errors and the schema check are offered here too
    _validators,
    attribute_errors,
    validate_attribute_schema,
    validate_attributes,
)

#: Fields a caller may set on create or update; status moves only through ci_transition.
EDITABLE_FIELDS = (
    "name",
    "description",
    "ci_type",
    "managed",
    "owner",
    "department",
    "site",
    "serial_number",
    "asset_tag",
    "hostname",
    "uuid",
    "attributes",
)
IDENTIFIER_FIELDS = ("serial_number", "asset_tag", "uuid")


# --- helpers ------------------------------------------------------------------------------


def _normalize_identifiers(values: dict[str, Any]) -> None:
    if "serial_number" in values:
        values["serial_number"] = normalize_serial(values["serial_number"])
    if "asset_tag" in values:
        values["asset_tag"] = (values["asset_tag"] or "").strip()
    if "hostname" in values:
        values["hostname"] = normalize_hostname(values["hostname"])
    if "uuid" in values:
        values["uuid"] = normalize_uuid(values["uuid"])


RELATED_FIELDS = ["ci_type", "owner", "department", "site"]


def _validate(ci: ConfigurationItem, unchanged: Iterable[str] = ()) -> None:
    # Related objects arrive resolved (serializers, forms, agents): no query to re-check them.
    # Unique identifiers are left to the database (see _save_unique), except a host name,
    # checked first (hostname_taken) so agents can leave a clashing one out and go on.
    # `unchanged` identifiers are not re-checked: a row saved before a rule existed can still
    # be edited.
    ci.clean_fields(exclude=[*RELATED_FIELDS, *unchanged])
    ci.clean()
    if ci.hostname and ci.status != CIStatus.DISPOSED and "hostname" not in unchanged:
        other = hostname_taken(ci.hostname, exclude_id=ci.pk)
        if other is not None:
            raise ValidationError(
                {"hostname": [f"Another CI that is not disposed has this host name: {other}."]}
            )


def hostname_taken(hostname: str, *, exclude_id: int | None = None) -> str | None:
    """The name of another CI, not disposed, with this host name (ignoring case), or None."""
    hostname = normalize_hostname(hostname)
    if not hostname:
        return None
    # Stored host names are normalised (lower case): an equality the hostname index serves.
    others = ConfigurationItem.objects.filter(hostname=hostname).exclude(status=CIStatus.DISPOSED)
    if exclude_id is not None:
        others = others.exclude(pk=exclude_id)
    return next(iter(others.values_list("name", flat=True)[:1]), None)


def _check_initial_status(status: Any) -> None:
    if status not in CI_INITIAL_STATUSES:
        allowed = ", ".join(s for s in CIStatus.values if s in CI_INITIAL_STATUSES)
        raise ValidationError(
            {"status": [f"A new CI cannot start as '{status}'. Allowed: {allowed}."]}
        )


_CONSTRAINT_FIELDS = {
    "cmdb_ci_serial_unique": "serial_number",
    "cmdb_ci_asset_tag_unique": "asset_tag",
    "cmdb_ci_uuid_unique": "uuid",
    "cmdb_ci_hostname_unique": "hostname",
}


def _conflicting_field(exc: IntegrityError) -> str | None:
    """Which identifier a unique violation is about (PostgreSQL names the constraint, SQLite the column)."""
    diag = getattr(exc.__cause__, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    if constraint in _CONSTRAINT_FIELDS:
        return _CONSTRAINT_FIELDS[constraint]
    text = str(exc)
    if "cmdb_ci_hostname_unique" in text:
        return "hostname"
    return next(
        (field for field in IDENTIFIER_FIELDS if f"configurationitem.{field}" in text), None
    )


def _save_unique(ci: ConfigurationItem) -> None:
    """Save; a serial number, asset tag or UUID another CI has is a 400 on that field.

    The unique indexes decide, so concurrent writers cannot both win. No savepoint: the
    caller's transaction is rolled back with the error anyway.
    """
    try:
        ci.save()
    except IntegrityError as exc:
        field = _conflicting_field(exc)
        if field is None:
            raise ConflictError(
                "The CI conflicts with another one that was saved meanwhile."
            ) from exc
        raise ValidationError(
            {field: [f"Another CI already has this {field.replace('_', ' ')}."]}
        ) from exc


def _lock_ci(ci_id: int) -> ConfigurationItem:
    try:
        # of=("self",): lock the CI row only, not its type's row, which every CI of the type shares.
        return (
            ConfigurationItem.objects.select_for_update(of=("self",))
            .select_related("ci_type")
            .get(pk=ci_id)
        )
    except ConfigurationItem.DoesNotExist as exc:
        raise ApplicationError(f"CI {ci_id} does not exist.") from exc


# --- configuration items ------------------------------------------------------------------


@transaction.atomic
def ci_create(
    *, context: ChangeContext, ci_type: CIType, name: str, **fields: Any
) -> ConfigurationItem:
    """Create one CI with validated attributes and unique identifiers, and record it."""
    require_permission(context, "cmdb.add_configurationitem")
    unknown = set(fields) - set(EDITABLE_FIELDS) - {"status"}
    if unknown:
        raise ApplicationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    _normalize_identifiers(fields)
    _check_initial_status(fields.setdefault("status", CIStatus.ORDERED))
    fields.setdefault("attributes", {})
    validate_attributes(ci_type, fields["attributes"])
    ci = ConfigurationItem(ci_type=ci_type, name=name, **fields)
    _validate(ci)
    _save_unique(ci)
    record_change(
        ci=ci, kind=HistoryEntry.Kind.CREATED, changes=diff({}, snapshot(ci)), context=context
    )
    return ci


def _batch_errors(
    errors: dict[int, dict[str, list[str]]], index: int, field: str, message: str
) -> None:
    errors.setdefault(index, {}).setdefault(field, []).append(message)


def identifier_repeats(
    items: Sequence[Mapping[str, Any]], fields: Sequence[str] = IDENTIFIER_FIELDS
) -> dict[int, dict[str, int]]:
    """`{index: {field: index of the first item with that value}}` for every item whose
    (normalised) identifier repeats an earlier item's: one batch cannot give two CIs the same
    serial number, asset tag or UUID. No query. Used by `ci_bulk_create` and the CSV import."""
    repeats: dict[int, dict[str, int]] = {}
    for field in fields:
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            value = item.get(field) or ""
            if value in seen:
                repeats.setdefault(index, {})[field] = seen[value]
            elif value:
                seen[value] = index
    return repeats


def _check_batch_repeats(items: Sequence[Mapping[str, Any]]) -> dict[int, dict[str, list[str]]]:
    """Errors per item index for identifiers repeated within the batch (no query)."""
    errors: dict[int, dict[str, list[str]]] = {}
    for index, fields in identifier_repeats(items).items():
        for field, first in fields.items():
            _batch_errors(
                errors, index, field, f"Repeats the {field.replace('_', ' ')} of item {first}."
            )
    return errors


def _check_batch_taken(items: Sequence[Mapping[str, Any]]) -> dict[int, dict[str, list[str]]]:
    """Errors per item index for identifiers other CIs already have (a query per identifier)."""
    errors: dict[int, dict[str, list[str]]] = {}
    for field in IDENTIFIER_FIELDS:
        wanted = {item.get(field): index for index, item in enumerate(items) if item.get(field)}
        if not wanted:
            continue
        taken = ConfigurationItem.objects.filter(**{f"{field}__in": list(wanted)}).values_list(
            field, flat=True
        )
        for value in taken:
            _batch_errors(
                errors,
                wanted[value],
                field,
                f"A CI with this {field.replace('_', ' ')} already exists.",
            )
    return errors


def _check_batch_hostnames(items: Sequence[Mapping[str, Any]]) -> dict[int, dict[str, list[str]]]:
    """Host names repeated in the batch or held by a CI that is not disposed (one query)."""
    errors: dict[int, dict[str, list[str]]] = {}
    wanted: dict[str, int] = {}
    for index, item in enumerate(items):
        host = item.get("hostname") or ""
        if not host or item.get("status") == CIStatus.DISPOSED:
            continue
        if host in wanted:
            _batch_errors(
                errors, index, "hostname", f"Repeats the host name of item {wanted[host]}."
            )
        else:
            wanted[host] = index
    if wanted:
        taken = (
            ConfigurationItem.objects.filter(hostname__in=list(wanted))
            .exclude(status=CIStatus.DISPOSED)
            .values_list("hostname", flat=True)
        )
        for host in taken:
            _batch_errors(
                errors, wanted[host], "hostname", "A CI that is not disposed has this host name."
            )
    return errors


def _refuse(errors: dict[int, dict[str, list[str]]]) -> None:
    raise ApplicationError(
        "Some items are invalid; nothing was created.",
        extra={"errors": [{"index": i, "errors": e} for i, e in sorted(errors.items())]},
    )


@transaction.atomic
def ci_bulk_create(
    *, context: ChangeContext, items: Sequence[dict[str, Any]]
) -> list[ConfigurationItem]:
    """Create many CIs all-or-nothing; errors are reported per item index and nothing is written.

    Each item holds the same keyword arguments as `ci_create` (with `ci_type` a CIType).
    A constant number of queries whatever the batch size.
    """
    require_permission(context, "cmdb.add_configurationitem")
    errors: dict[int, dict[str, list[str]]] = {}
    cis = []
    prepared: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        values = dict(item)
        prepared.append(values)
        unknown = set(values) - set(EDITABLE_FIELDS) - {"status"}
        if unknown:
            errors.setdefault(index, {})["non_field_errors"] = [
                f"Unknown fields: {', '.join(sorted(unknown))}."
            ]
            continue
        _normalize_identifiers(values)
        values.setdefault("attributes", {})
        if not isinstance(values.get("ci_type"), CIType) or not values.get("name"):
            errors.setdefault(index, {})["non_field_errors"] = [
                "Every item needs a name and a CI type."
            ]
            continue
        try:
            validate_attributes(values["ci_type"], values["attributes"])
            ci = ConfigurationItem(**values)
            ci.clean_fields(exclude=["ci_type", "owner", "department", "site"])
        except ValidationError as exc:
            errors.setdefault(index, {}).update(exc.message_dict)
            continue
        if ci.status not in CI_INITIAL_STATUSES:
            allowed = ", ".join(s for s in CIStatus.values if s in CI_INITIAL_STATUSES)
            errors.setdefault(index, {})["status"] = [
                f"A new CI cannot start as '{ci.status}'. Allowed: {allowed}."
            ]
        cis.append(ci)
    for checks in (_check_batch_repeats(prepared), _check_batch_hostnames(prepared)):
        for index, item_errors in checks.items():
            for field, messages in item_errors.items():
                errors.setdefault(index, {}).setdefault(field, []).extend(messages)
    if errors:  # refused anyway: report clashes with existing CIs in the same answer
        for index, item_errors in _check_batch_taken(prepared).items():
            for field, messages in item_errors.items():
                errors.setdefault(index, {}).setdefault(field, []).extend(messages)
        _refuse(errors)
    try:
        # The unique indexes decide; only when they refuse do we look up which items clash.
        with transaction.atomic():
            created = ConfigurationItem.objects.bulk_create(cis, batch_size=2000)
    except IntegrityError as exc:
        taken = _check_batch_taken(prepared)
        if taken:
            _refuse(taken)
        raise ConflictError(
            "A CI with one of these identifiers was created meanwhile; nothing was created."
        ) from exc
    record_many(
        new_entry(
            ci=ci, kind=HistoryEntry.Kind.CREATED, changes=diff({}, snapshot(ci)), context=context
        )
        for ci in created
    )
    return created


def ci_update_prepare(
    *, ci: ConfigurationItem, data: Mapping[str, Any], expected_version: int | None
) -> dict[str, dict[str, Any]]:
    """The rules of `ci_update`, applied in memory to a CI the caller has locked (or is only
    planning to change): fields allowed, version check (409), identifiers normalised,
    attributes checked against the type's schema, fields validated, version + 1.

    Returns the changes (`{}`: nothing to write, the CI is left as it was). Raises
    ApplicationError, ConflictError or ValidationError. `ci_update` saves one CI with it; the
    CSV import plans every row with it and writes the changed CIs in bulk.
    """
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError(
            f"These fields cannot be changed here: {', '.join(sorted(unknown))}."
        )
    if expected_version is not None and ci.version != expected_version:
        raise ConflictError(
            f"The CI was changed by someone else (version {ci.version}, you sent {expected_version}). "
            "Reload it and apply your change again.",
            extra={"current_version": ci.version},
        )
    values = dict(data)
    _normalize_identifiers(values)
    before = snapshot(ci)
    for field, value in values.items():
        setattr(ci, field, value)
    changes = diff(before, snapshot(ci))
    if not changes:
        return {}
    if "attributes" in changes or "ci_type" in changes:
        validate_attributes(ci.ci_type, ci.attributes)
    _validate(ci, unchanged=[f for f in ("hostname", "uuid") if f not in changes])
    ci.version += 1
    return changes


@transaction.atomic
def ci_update(
    *, context: ChangeContext, ci_id: int, data: Mapping[str, Any], expected_version: int | None
) -> ConfigurationItem:
    """Change editable fields of a CI. A stale `expected_version` answers 409; no-op changes write nothing."""
    require_permission(context, "cmdb.change_configurationitem")
    ci = _lock_ci(ci_id)
    changes = ci_update_prepare(ci=ci, data=data, expected_version=expected_version)
    if not changes:
        return ci
    _save_unique(ci)
    record_change(ci=ci, kind=HistoryEntry.Kind.UPDATED, changes=changes, context=context)
    return ci


@transaction.atomic
def ci_transition(
    *, context: ChangeContext, ci_id: int, to_status: str, expected_version: int | None = None
) -> ConfigurationItem:
    """Move a CI through its lifecycle. Refuses moves the lifecycle does not allow; records every move."""
    require_permission(context, "cmdb.transition_ci")
    if to_status not in CIStatus.values:
        raise ApplicationError(
            f"'{to_status}' is not a lifecycle status.", extra={"field": "status"}
        )
    ci = _lock_ci(ci_id)
    if expected_version is not None and ci.version != expected_version:
        raise ConflictError(
            "The CI was changed by someone else; reload it.", extra={"current_version": ci.version}
        )
    if to_status not in CI_TRANSITIONS[ci.status]:
        current, target = CIStatus(ci.status).label, CIStatus(to_status).label
        allowed = ", ".join(CIStatus(s).label for s in allowed_moves(ci.status))
        raise ApplicationError(
            f"A CI cannot move from {current} to {target}. "
            f"Allowed from {current}: {allowed or 'none, it is final'}.",
            extra={"status": ci.status, "allowed": sorted(CI_TRANSITIONS[ci.status])},
        )
    if to_status == CIStatus.DISPOSED and not (context.reason or "").strip():
        message = "Give a reason to dispose of a CI: disposal is final."
        raise ApplicationError(message, extra={"reason": [message]})
    from_status = ci.status
    ci.status = to_status
    ci.version += 1
    ci.save(update_fields=["status", "version", "updated"])
    StatusChange.objects.create(
        ci=ci,
        from_status=from_status,
        to_status=to_status,
        actor=context.actor,
        source=context.source,
        reason=context.reason,
    )
    record_change(
        ci=ci,
        kind=HistoryEntry.Kind.STATUS,
        changes={"status": {"old": from_status, "new": to_status}},
        context=context,
    )
    return ci


@transaction.atomic
def ci_delete(*, context: ChangeContext, ci_id: int) -> None:
    """Delete a CI (admins only; normally a CI is disposed, not deleted). History stays."""
    require_permission(context, "cmdb.delete_configurationitem")
    ci = _lock_ci(ci_id)
    # Its relationships go with it: each neighbour records the removal (history, as-of view).
    links = Relationship.objects.filter(Q(source=ci) | Q(target=ci)).select_related(
        "type", "source", "target"
    )
    record_many(
        new_entry(
            ci=rel.target if rel.source_id == ci.pk else rel.source,
            kind=HistoryEntry.Kind.RELATIONSHIP,
            changes={"added": [], "removed": [_relationship_repr(rel)]},
            context=context,
        )
        for rel in links
    )
    record_change(
        ci=ci, kind=HistoryEntry.Kind.DELETED, changes=diff(snapshot(ci), {}), context=context
    )
    ci.delete()


# --- roles --------------------------------------------------------------------------------


@transaction.atomic
def ci_set_roles(
    *, context: ChangeContext, ci_id: int, roles: Iterable[tuple[Any, str]]
) -> list[CIRole]:
    """Replace the people responsible for a CI with `(user, role)` pairs; record who was added and removed."""
    require_permission(context, "cmdb.change_configurationitem")
    ci = _lock_ci(ci_id)
    wanted = {(user.pk, role) for user, role in roles}
    for _, role in wanted:
        if role not in CIRoleKind.values:
            raise ApplicationError(f"'{role}' is not a CI role.")
    existing = {(r.user_id, r.role): r for r in ci.roles.all()}
    removed = [existing[key] for key in existing.keys() - wanted]
    added = [
        CIRole(ci=ci, user_id=user_id, role=role) for user_id, role in wanted - existing.keys()
    ]
    if not removed and not added:
        return list(existing.values())
    CIRole.objects.filter(pk__in=[r.pk for r in removed]).delete()
    CIRole.objects.bulk_create(added)
    record_change(
        ci=ci,
        kind=HistoryEntry.Kind.ROLE,
        changes={
            "added": sorted([[r.user_id, r.role] for r in added]),
            "removed": sorted([[r.user_id, r.role] for r in removed]),
        },
        context=context,
    )
    return list(ci.roles.all())


def _check_role(role: str) -> None:
    if role not in CIRoleKind.values:
        raise ValidationError({"role": [f"'{role}' is not a CI role."]})


@transaction.atomic
def ci_role_add(*, context: ChangeContext, ci_id: int, user: Any, role: str) -> CIRole:
    """Give `user` the `role` on a CI, under the CI's row lock (concurrent edits all count)."""
    require_permission(context, "cmdb.change_configurationitem")
    _check_role(role)
    ci = _lock_ci(ci_id)
    existing = CIRole.objects.filter(ci=ci, user=user, role=role).first()
    if existing is not None:
        return existing
    added = CIRole.objects.create(ci=ci, user=user, role=role)
    record_change(
        ci=ci,
        kind=HistoryEntry.Kind.ROLE,
        changes={"added": [[user.pk, role]], "removed": []},
        context=context,
    )
    return added


@transaction.atomic
def ci_role_remove(*, context: ChangeContext, ci_id: int, user: Any, role: str) -> bool:
    """Take `role` on a CI away from `user`, under the CI's row lock; False if they had none."""
    require_permission(context, "cmdb.change_configurationitem")
    ci = _lock_ci(ci_id)
    deleted, _ = CIRole.objects.filter(ci=ci, user=user, role=role).delete()
    if not deleted:
        return False
    record_change(
        ci=ci,
        kind=HistoryEntry.Kind.ROLE,
        changes={"added": [], "removed": [[user.pk, role]]},
        context=context,
    )
    return True


# --- relationships ------------------------------------------------------------------------


def _relationship_repr(rel: Relationship) -> dict[str, Any]:
    return {"id": rel.pk, "source": rel.source_id, "target": rel.target_id, "type": rel.type.slug}


@transaction.atomic
def relationship_create(
    *,
    context: ChangeContext,
    source: ConfigurationItem,
    target: ConfigurationItem,
    type: RelationshipType,
) -> Relationship:
    """Link two CIs. A duplicate or a self-link is refused with a 400."""
    require_permission(context, "cmdb.add_relationship")
    if source.pk == target.pk:
        raise ApplicationError(
            "A CI cannot be related to itself.", extra={"target": ["Must differ from source."]}
        )
    if Relationship.objects.filter(source=source, target=target, type=type).exists():
        raise ApplicationError(
            "This relationship already exists.",
            extra={"non_field_errors": ["Duplicate relationship."]},
        )
    try:
        with transaction.atomic():
            rel = Relationship.objects.create(source=source, target=target, type=type)
    except IntegrityError as exc:
        raise ApplicationError("This relationship already exists.") from exc
    change = {"added": [_relationship_repr(rel)], "removed": []}
    record_change(ci=source, kind=HistoryEntry.Kind.RELATIONSHIP, changes=change, context=context)
    record_change(ci=target, kind=HistoryEntry.Kind.RELATIONSHIP, changes=change, context=context)
    return rel


@transaction.atomic
def relationship_delete(*, context: ChangeContext, relationship: Relationship) -> None:
    """Remove a link, recording it on both CIs."""
    require_permission(context, "cmdb.delete_relationship")
    change = {"added": [], "removed": [_relationship_repr(relationship)]}
    record_change(
        ci=relationship.source, kind=HistoryEntry.Kind.RELATIONSHIP, changes=change, context=context
    )
    record_change(
        ci=relationship.target, kind=HistoryEntry.Kind.RELATIONSHIP, changes=change, context=context
    )
    relationship.delete()


# --- installed software -------------------------------------------------------------------

SoftwareKey = tuple[str, str, str]  # (name, vendor, version) as given


def _software_key(item: Mapping[str, Any]) -> SoftwareKey:
    return (
        str(item.get("name") or "").strip()[:255],
        str(item.get("vendor") or "").strip()[:255],
        str(item.get("version") or "").strip()[:100],
    )


def software_versions_resolve(keys: Iterable[SoftwareKey]) -> dict[SoftwareKey, int]:
    """Map (name, vendor, version) to catalogue version ids, creating what is missing.

    Products are unique by (lower(name), lower(vendor)); a handful of queries whatever the
    number of keys, and safe against a concurrent writer creating the same product.
    """
    keys = {k for k in keys if k[0]}
    if not keys:
        return {}
    product_of = {(n, v): (software_key(n), software_key(v)) for n, v, _ in keys}
    product_keys = {pk: nv for nv, pk in product_of.items()}
    name_keys = {nk for nk, _ in product_keys}

    def load_products() -> dict[tuple[str, str], int]:
        rows = sql.products_by_name_key(name_keys)
        return {(nk, vk): pid for nk, vk, pid in rows if (nk, vk) in product_keys}

    products = load_products()
    missing = [
        SoftwareProduct(name=n, vendor=v, name_key=k[0], vendor_key=k[1])
        for k, (n, v) in product_keys.items()
        if k not in products
    ]
    if missing:
        SoftwareProduct.objects.bulk_create(missing, ignore_conflicts=True, batch_size=1000)
        products = load_products()

    wanted = {(products[product_of[(n, v)]], ver) for n, v, ver in keys}

    def load_versions() -> dict[tuple[int, str], int]:
        rows = sql.versions_by_product({p for p, _ in wanted})
        return {(p, ver): vid for p, ver, vid in rows if (p, ver) in wanted}

    versions = load_versions()
    missing_versions = [
        SoftwareVersion(product_id=p, version=ver) for p, ver in wanted if (p, ver) not in versions
    ]
    if missing_versions:
        SoftwareVersion.objects.bulk_create(
            missing_versions, ignore_conflicts=True, batch_size=1000
        )
        versions = load_versions()
    return {(n, v, ver): versions[(products[product_of[(n, v)]], ver)] for n, v, ver in keys}


def _install(ci: ConfigurationItem, version_ids: set[int], source: str) -> None:
    """Record versions as installed on a CI (already installed ones are left alone)."""
    if connection.vendor == "postgresql":
        # One statement with one array, no model instances: a new machine brings hundreds.
        sql.install_versions(ci_id=ci.pk, version_ids=version_ids, source=source, at=timezone.now())
        return
    InstalledSoftware.objects.bulk_create(
        [InstalledSoftware(ci=ci, software_id=v, source=source) for v in version_ids],
        ignore_conflicts=True,
        batch_size=1000,
    )


@transaction.atomic
def software_replace(
    *, context: ChangeContext, ci: ConfigurationItem, items: Sequence[Mapping[str, Any]]
) -> dict[str, list[dict[str, str]]]:
    """Make the CI's installed software exactly `items`, as a diff; record added and removed.

    What is installed is compared first (by catalogue key: name and vendor case-folded, the
    version exact), so only what was added is looked up in, or added to, the catalogue.
    Returns `{"added": [...], "removed": [...]}`; an unchanged list writes nothing.
    """
    require_permission(context, "cmdb.change_configurationitem")
    keys = [_software_key(item) for item in items]
    empty = [i for i, key in enumerate(keys) if not key[0]]
    if empty:
        raise ApplicationError(
            "Every software entry needs a name.", extra={"errors": {"indexes": empty}}
        )
    list(
        ConfigurationItem.objects.select_for_update().filter(pk=ci.pk).order_by().values_list("pk")
    )
    reported = {(software_key(n), software_key(v), ver): (n, v, ver) for n, v, ver in keys}
    installed = {
        (name_key, vendor_key, version): (row_id, name, vendor, version)
        for row_id, name_key, vendor_key, version, name, vendor in InstalledSoftware.objects.filter(
            ci=ci
        ).values_list(
            "id",
            "software__product__name_key",
            "software__product__vendor_key",
            "software__version",
            "software__product__name",
            "software__product__vendor",
        )
    }
    added = [reported[key] for key in reported.keys() - installed.keys()]
    removed = [installed[key] for key in installed.keys() - reported.keys()]
    if not added and not removed:
        return {"added": [], "removed": []}
    InstalledSoftware.objects.filter(pk__in=[row[0] for row in removed]).delete()
    version_ids = software_versions_resolve(added)
    _install(ci, set(version_ids.values()), context.source)
    change = {
        "added": _describe(added),
        "removed": _describe(row[1:] for row in removed),
    }
    record_change(ci=ci, kind=HistoryEntry.Kind.SOFTWARE, changes=change, context=context)
    return change


def _describe(keys: Iterable[SoftwareKey]) -> list[dict[str, str]]:
    return [
        {"name": name, "vendor": vendor, "version": version}
        for name, vendor, version in sorted(keys)
    ]


# CI types and relationship types: written in type_services, offered here with the rest.
from .type_services import (  # noqa: E402, F401
    CI_TYPE_FIELDS,
    RELATIONSHIP_TYPE_FIELDS,
    REVALIDATION_EXAMPLES,
    ci_type_create,
    ci_type_delete,
    ci_type_schema_problems,
    ci_type_update,
    record_type_change,
    relationship_type_create,
    relationship_type_delete,
    relationship_type_update,
)
