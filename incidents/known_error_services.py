"""Writes of the known-error base: create and update (publishing included), audited, with the
PostgreSQL full-text vector kept in step."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from cmdb.models import CIType, ConfigurationItem
from itsm.audit import ChangeContext, record
from itsm.exceptions import ApplicationError
from itsm.permissions import require_permission

from .models import KnownError

KNOWN_ERROR_TEXT = ("title", "symptoms", "root_cause", "workaround", "solution", "category")


def _refresh_search_vector(known_error: KnownError) -> None:
    """PostgreSQL: recompute the full-text vector (title weighs most, then symptoms)."""
    if connection.vendor != "postgresql":
        return
    from django.contrib.postgres.search import SearchVector

    vector = (
        SearchVector("title", weight="A", config="english")
        + SearchVector("symptoms", weight="B", config="english")
        + SearchVector("root_cause", "workaround", "solution", weight="C", config="english")
    )
    KnownError.objects.filter(pk=known_error.pk).update(search_vector=vector)


def _set_scope(
    known_error: KnownError,
    cis: Iterable[ConfigurationItem] | None,
    ci_types: Iterable[CIType] | None,
    changes: dict[str, Any],
) -> None:
    for name, values in (("cis", cis), ("ci_types", ci_types)):
        if values is None:
            continue
        manager = getattr(known_error, name)
        before = set(manager.values_list("pk", flat=True))
        after = {v.pk for v in values}
        if before != after:
            manager.set(list(after))
            changes[name] = {"added": sorted(after - before), "removed": sorted(before - after)}


@transaction.atomic
def known_error_create(
    *,
    context: ChangeContext,
    title: str,
    symptoms: str = "",
    root_cause: str = "",
    workaround: str = "",
    solution: str = "",
    category: str = "",
    cis: Iterable[ConfigurationItem] = (),
    ci_types: Iterable[CIType] = (),
    published: bool = False,
) -> KnownError:
    """Add a known error to the base (published ones are readable by end users)."""
    require_permission(context, "incidents.add_knownerror")
    known_error = KnownError(
        title=(title or "").strip()[:200],
        symptoms=symptoms,
        root_cause=root_cause,
        workaround=workaround,
        solution=solution,
        category=category[:100],
        published=published,
        published_at=timezone.now() if published else None,
    )
    known_error.full_clean(exclude=["search_vector"])
    known_error.save()
    changes: dict[str, Any] = {
        "title": {"old": None, "new": known_error.title},
        "published": {"old": None, "new": published},
    }
    _set_scope(known_error, cis, ci_types, changes)
    _refresh_search_vector(known_error)
    record(obj=known_error, kind="created", changes=changes, context=context)
    return known_error


@transaction.atomic
def known_error_update(
    *,
    context: ChangeContext,
    known_error_id: int,
    data: Mapping[str, Any],
    cis: Iterable[ConfigurationItem] | None = None,
    ci_types: Iterable[CIType] | None = None,
) -> KnownError:
    """Change a known error's text, scope or published flag (publishing is recorded as such)."""
    require_permission(context, "incidents.change_knownerror")
    unknown = set(data) - {*KNOWN_ERROR_TEXT, "published"}
    if unknown:
        raise ApplicationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    try:
        known_error = KnownError.objects.select_for_update().get(pk=known_error_id)
    except KnownError.DoesNotExist:
        raise ApplicationError(f"No known error with id {known_error_id}.") from None
    changes: dict[str, Any] = {}
    for field, value in data.items():
        if getattr(known_error, field) != value:
            changes[field] = {"old": getattr(known_error, field), "new": value}
            setattr(known_error, field, value)
    if "published" in changes:
        known_error.published_at = timezone.now() if known_error.published else None
    known_error.full_clean(exclude=["search_vector"])
    _set_scope(known_error, cis, ci_types, changes)
    if not changes:
        return known_error
    known_error.save()
    if set(changes) & set(KNOWN_ERROR_TEXT):
        _refresh_search_vector(known_error)
    kind = "updated"
    if set(changes) == {"published"}:
        kind = "published" if known_error.published else "unpublished"
    record(obj=known_error, kind=kind, changes=changes, context=context)
    return known_error
