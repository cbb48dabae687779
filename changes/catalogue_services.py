"""Writes of the catalogue: standard-change templates and blackout periods (Change Managers).
Re-exported by `changes.services`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction

from itsm.audit import ChangeContext, record
from itsm.exceptions import ApplicationError, ConflictError
from itsm.permissions import require_permission

from .models import Blackout, StandardChangeTemplate

TEMPLATE_FIELDS = (
    "name",
    "description",
    "category",
    "implementation_plan",
    "backout_plan",
    "estimated_hours",
    "active",
)
BLACKOUT_FIELDS = ("name", "start", "end", "reason")


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    return value if isinstance(value, str | int | bool | type(None)) else str(value)


def _save(obj: models.Model) -> None:
    try:
        obj.full_clean()
    except ValidationError as exc:
        raise ApplicationError("Not valid.", extra=exc.message_dict) from exc
    obj.save()


def _apply(obj: models.Model, data: Mapping[str, Any], allowed: Iterable[str]) -> dict:
    unknown = set(data) - set(allowed)
    if unknown:
        raise ApplicationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    changes = {}
    for name, value in data.items():
        old = getattr(obj, name)
        if old != value:
            changes[name] = {"old": _plain(old), "new": _plain(value)}
            setattr(obj, name, value)
    return changes


@transaction.atomic
def template_create(*, context: ChangeContext, data: Mapping[str, Any]) -> StandardChangeTemplate:
    """Add a standard change to the catalogue."""
    require_permission(context, "changes.add_standardchangetemplate")
    template = StandardChangeTemplate()
    changes = _apply(template, data, TEMPLATE_FIELDS)
    _save(template)
    record(obj=template, kind="created", changes=changes, context=context)
    return template


@transaction.atomic
def template_update(
    *, context: ChangeContext, template: StandardChangeTemplate, data: Mapping[str, Any]
) -> StandardChangeTemplate:
    """Edit a catalogue template (RFCs already raised keep their own copy of the plans)."""
    require_permission(context, "changes.change_standardchangetemplate")
    template = StandardChangeTemplate.objects.select_for_update().get(pk=template.pk)
    changes = _apply(template, data, TEMPLATE_FIELDS)
    if changes:
        _save(template)
        record(obj=template, kind="updated", changes=changes, context=context)
    return template


@transaction.atomic
def template_delete(*, context: ChangeContext, template: StandardChangeTemplate) -> None:
    """Remove a template no RFC came from (otherwise 409: deactivate it instead)."""
    require_permission(context, "changes.delete_standardchangetemplate")
    if template.changes.exists():
        raise ConflictError("RFCs came from this template; deactivate it instead.")
    record(obj=template, kind="deleted", changes={}, context=context)
    template.delete()


def _scope(blackout: Blackout, ci_types, cis, changes: dict) -> None:
    if ci_types is not None:
        old = set(blackout.ci_types.values_list("pk", flat=True))
        new = {t.pk for t in ci_types}
        if old != new:
            blackout.ci_types.set(list(new))
            changes["ci_types"] = {"added": sorted(new - old), "removed": sorted(old - new)}
    if cis is not None:
        old = set(blackout.cis.values_list("pk", flat=True))
        new = {c.pk for c in cis}
        if old != new:
            blackout.cis.set(list(new))
            changes["cis"] = {"added": sorted(new - old), "removed": sorted(old - new)}


@transaction.atomic
def blackout_create(
    *, context: ChangeContext, data: Mapping[str, Any], ci_types=None, cis=None
) -> Blackout:
    """Declare a blackout period (no CI types or CIs: it applies to everything)."""
    require_permission(context, "changes.add_blackout")
    blackout = Blackout()
    changes = _apply(blackout, data, BLACKOUT_FIELDS)
    _save(blackout)
    _scope(blackout, ci_types, cis, changes)
    record(obj=blackout, kind="created", changes=changes, context=context)
    return blackout


@transaction.atomic
def blackout_update(
    *, context: ChangeContext, blackout: Blackout, data: Mapping[str, Any], ci_types=None, cis=None
) -> Blackout:
    """Edit a blackout period."""
    require_permission(context, "changes.change_blackout")
    blackout = Blackout.objects.select_for_update().get(pk=blackout.pk)
    changes = _apply(blackout, data, BLACKOUT_FIELDS)
    _save(blackout)
    _scope(blackout, ci_types, cis, changes)
    if changes:
        record(obj=blackout, kind="updated", changes=changes, context=context)
    return blackout


@transaction.atomic
def blackout_delete(*, context: ChangeContext, blackout: Blackout) -> None:
    """Lift a blackout period."""
    require_permission(context, "changes.delete_blackout")
    record(obj=blackout, kind="deleted", changes={}, context=context)
    blackout.delete()
