"""Writes of CI types and relationship types (offered by `cmdb.services` too).

Each service checks the actor's permission, validates (a CI type's schema with
`cmdb.schemas`; a schema change re-validates the CIs of the type), writes in one transaction
and records the change with its `ChangeContext`. Deleting a type still in use is a 409 that
says how much uses it. Built-in CI types (`builtin_key`) may be renamed: agents find them by key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, RestrictedError

from itsm import audit, caching
from itsm.exceptions import ApplicationError, ConflictError
from itsm.permissions import require_permission

from .history import ChangeContext, diff
from .models import CIType, ConfigurationItem, Relationship, RelationshipType
from .schemas import attribute_errors

CI_TYPE_FIELDS = (
    "name",
    "slug",
    "description",
    "attribute_schema",
    "is_hardware",
    "agent_capable",
    "impact_direction",
)
RELATIONSHIP_TYPE_FIELDS = ("name", "slug", "forward_label", "reverse_label")
#: How many CIs a refused schema change names.
REVALIDATION_EXAMPLES = 5

audit_log = logging.getLogger("cmdb.audit")


def record_type_change(
    *, obj: CIType | RelationshipType, action: str, changes: dict[str, Any], context: ChangeContext
) -> None:
    """Record a change of a CI type or relationship type with its context.

    The change goes to the audit log (`itsm.audit.record`, readable per object) and to the
    `cmdb.audit` logger, one line of JSON per change. Call before deleting `obj`.
    """
    audit.record(obj=obj, kind=action, changes=changes, context=context)
    audit_log.info(
        json.dumps(
            {
                "object": obj._meta.label,
                "id": obj.pk,
                "slug": obj.slug,
                "action": action,
                "actor": context.actor_name,
                "source": context.source,
                "source_ref": context.source_ref,
                "reason": context.reason,
                "changes": changes,
            },
            default=str,
        )
    )


def _fields_of(obj: Any, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in names}


def _locked_and_changed(
    model: Any, pk: int, data: Mapping[str, Any], fields: Sequence[str], label: str
) -> tuple[Any, dict[str, Any]]:
    """The row locked, `data` set on it (unsaved), and what that changed (`{field: old/new}`)."""
    _check_fields(data, fields)
    try:
        obj = model.objects.select_for_update().get(pk=pk)
    except model.DoesNotExist as exc:
        raise ApplicationError(f"{label} {pk} does not exist.") from exc
    before = _fields_of(obj, fields)
    for field, value in data.items():
        setattr(obj, field, value)
    return obj, diff(before, _fields_of(obj, fields))


def _check_fields(data: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = set(data) - set(allowed)
    if unknown:
        raise ApplicationError(f"Unknown fields: {', '.join(sorted(unknown))}.")


def _cis_failing_schema(ci_type: CIType) -> tuple[int, list[str]]:
    """How many CIs of the type its (new) schema refuses, and the first few, described."""
    failing = 0
    examples: list[str] = []
    rows = ConfigurationItem.objects.filter(ci_type=ci_type).order_by("pk")
    for pk, name, attributes in rows.values_list("pk", "name", "attributes").iterator(2000):
        messages = attribute_errors(ci_type, attributes)
        if messages:
            failing += 1
            if len(examples) < REVALIDATION_EXAMPLES:
                examples.append(f"{name} (id {pk}): {messages[0]}")
    return failing, examples


def ci_type_schema_problems(ci_type: CIType) -> list[str]:
    """Messages naming the CIs of `ci_type` that its (unsaved, new) schema would refuse;
    empty when every CI still validates. For the service and for forms that want to say it."""
    failing, examples = _cis_failing_schema(ci_type)
    if not failing:
        return []
    return [
        f"{failing} CI(s) of this type would no longer validate; fix them or the schema first.",
        *examples,
    ]


@transaction.atomic
def ci_type_create(*, context: ChangeContext, name: str, slug: str, **fields: Any) -> CIType:
    """Create a CI class after checking its attribute schema (see `cmdb.schemas`)."""
    require_permission(context, "cmdb.add_citype")
    _check_fields(fields, CI_TYPE_FIELDS)
    ci_type = CIType(name=name, slug=slug, **fields)
    ci_type.full_clean()  # CIType.clean checks the schema
    ci_type.save()
    record_type_change(
        obj=ci_type,
        action="created",
        changes=diff({}, _fields_of(ci_type, CI_TYPE_FIELDS)),
        context=context,
    )
    return ci_type


@transaction.atomic
def ci_type_update(*, context: ChangeContext, ci_type_id: int, data: Mapping[str, Any]) -> CIType:
    """Change a CI class. A new schema is checked, and refused (400) while CIs of the type
    would no longer validate against it; the first few are named.

    The slug of a built-in type may change: agents find built-in types by `builtin_key`.
    """
    require_permission(context, "cmdb.change_citype")
    ci_type, changes = _locked_and_changed(CIType, ci_type_id, data, CI_TYPE_FIELDS, "CI type")
    if not changes:
        return ci_type
    ci_type.full_clean()
    if "attribute_schema" in changes:
        problems = ci_type_schema_problems(ci_type)
        if problems:
            raise ValidationError({"attribute_schema": problems})
    ci_type.save()
    caching.bump("cmdb")  # list pages show the type's name and slug
    record_type_change(obj=ci_type, action="updated", changes=changes, context=context)
    return ci_type


@transaction.atomic
def ci_type_delete(*, context: ChangeContext, ci_type_id: int) -> None:
    """Delete a CI class that no CI uses and that is not built in; otherwise a 409 (saying
    how many CIs use it)."""
    require_permission(context, "cmdb.delete_citype")
    try:
        ci_type = CIType.objects.select_for_update().get(pk=ci_type_id)
    except CIType.DoesNotExist as exc:
        raise ApplicationError(f"CI type {ci_type_id} does not exist.") from exc
    if ci_type.builtin_key:
        raise ConflictError(
            f"The CI type {ci_type.name} is built in (agents create CIs of it); it cannot be "
            "deleted.",
            extra={"builtin_key": ci_type.builtin_key},
        )
    _delete_unused(
        ci_type,
        what=f"The CI type {ci_type.name}",
        used=ConfigurationItem.objects.filter(ci_type=ci_type).count(),
        users="cis",
        fields=CI_TYPE_FIELDS,
        context=context,
    )


@transaction.atomic
def relationship_type_create(
    *, context: ChangeContext, name: str, slug: str, **fields: Any
) -> RelationshipType:
    """Create a kind of relationship."""
    require_permission(context, "cmdb.add_relationshiptype")
    _check_fields(fields, RELATIONSHIP_TYPE_FIELDS)
    rel_type = RelationshipType(name=name, slug=slug, **fields)
    rel_type.full_clean()
    rel_type.save()
    record_type_change(
        obj=rel_type,
        action="created",
        changes=diff({}, _fields_of(rel_type, RELATIONSHIP_TYPE_FIELDS)),
        context=context,
    )
    return rel_type


@transaction.atomic
def relationship_type_update(
    *, context: ChangeContext, relationship_type_id: int, data: Mapping[str, Any]
) -> RelationshipType:
    """Change a kind of relationship (names and labels)."""
    require_permission(context, "cmdb.change_relationshiptype")
    rel_type, changes = _locked_and_changed(
        RelationshipType, relationship_type_id, data, RELATIONSHIP_TYPE_FIELDS, "Relationship type"
    )
    if not changes:
        return rel_type
    rel_type.full_clean()
    rel_type.save()
    record_type_change(obj=rel_type, action="updated", changes=changes, context=context)
    return rel_type


@transaction.atomic
def relationship_type_delete(*, context: ChangeContext, relationship_type_id: int) -> None:
    """Delete a kind of relationship no link uses; in use it is a 409 with the count."""
    require_permission(context, "cmdb.delete_relationshiptype")
    try:
        rel_type = RelationshipType.objects.select_for_update().get(pk=relationship_type_id)
    except RelationshipType.DoesNotExist as exc:
        raise ApplicationError(f"Relationship type {relationship_type_id} does not exist.") from exc
    _delete_unused(
        rel_type,
        what=f"The relationship type {rel_type.name}",
        used=Relationship.objects.filter(type=rel_type).count(),
        users="relationships",
        fields=RELATIONSHIP_TYPE_FIELDS,
        context=context,
    )


def _delete_unused(
    obj: Any,
    *,
    what: str,
    used: int,
    users: str,
    fields: Sequence[str],
    context: ChangeContext,
) -> None:
    """Delete a type nothing uses, recorded; 409 naming how many `users` still use it."""
    if used:
        raise ConflictError(
            f"{what} is used by {used} {users.replace('cis', 'CI(s)')}; it cannot be deleted.",
            extra={"in_use": {users: used}},
        )
    record_type_change(
        obj=obj, action="deleted", changes=diff(_fields_of(obj, fields), {}), context=context
    )
    try:
        with transaction.atomic():
            obj.delete()
    except (ProtectedError, RestrictedError, IntegrityError) as exc:
        raise ConflictError(f"{what} is still in use; it cannot be deleted.") from exc
