"""Writes of a CI's people (roles) and of the links between CIs (offered by `cmdb.services` too).

Role edits take the CI's row lock, so two people editing at once both count; every change is
recorded on the CI (both CIs, for a link) with the `ChangeContext` it was given.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from itsm.exceptions import ApplicationError
from itsm.permissions import require_permission

from .choices import CIRoleKind
from .history import ChangeContext, record_change
from .locks import lock_ci as _lock_ci
from .models import CIRole, ConfigurationItem, HistoryEntry, Relationship, RelationshipType

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
