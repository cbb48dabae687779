"""Every write to the CMDB: one function per business action, one transaction each.

Each service checks the actor's permission (an actor of None is the system itself: an agent
report, a release step, a migration), validates, writes, and records history through
`record_change()` with the `ChangeContext` it was given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from itsm.exceptions import ApplicationError, ConflictError, PermissionDeniedError  # noqa: F401 - re-exported
from itsm.permissions import require_permission  # also imported from here by other apps

from . import fields as ci_fields
from .choices import CI_INITIAL_STATUSES, CI_TRANSITIONS, CIStatus, allowed_moves
from .history import ChangeContext, diff, new_entry, record_change, record_many, snapshot
from .identifiers import normalize_hostname, normalize_serial, normalize_uuid
from .locks import lock_ci as _lock_ci
from .models import (
    CIType,
    ConfigurationItem,
    HistoryEntry,
    Relationship,
    StatusChange,
)
from .relationship_services import _relationship_repr
from .schemas import (  # noqa: F401 - attribute_errors and the schema check are offered here too
    _validators,
    attribute_errors,
    validate_attribute_schema,
    validate_attributes,
)

#: Fields a caller may set on create or update; status moves only through ci_transition.
EDITABLE_FIELDS = ci_fields.EDITABLE
IDENTIFIER_FIELDS = ci_fields.IDENTIFIERS


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


# CI types and relationship types: written in type_services, offered here with the rest.
# Roles and relationships, installed software: written in their own modules, offered here too.
from .relationship_services import (  # noqa: E402, F401
    ci_role_add,
    ci_role_remove,
    ci_set_roles,
    relationship_create,
    relationship_delete,
)
from .software_services import (  # noqa: E402, F401
    SoftwareKey,
    software_apply,
    software_replace,
    software_versions_resolve,
)
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
