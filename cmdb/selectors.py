"""Reads of the CMDB that are more than a filter: impact analysis, as-of views, history."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from . import sql
from .choices import ImpactDirection
from .history import TRACKED_FIELDS, snapshot
from .history_display import Line, ReadableEntry, readable_entries, readable_fields
from .models import (
    CIType,
    ConfigurationItem,
    FieldOwner,
    HistoryEntry,
    InstalledSoftware,
    Relationship,
    RelationshipType,
    SoftwareProduct,
    software_key,
)

MAX_IMPACT_DEPTH = 10
MAX_IMPACT_NODES = 5000


def ci_list_queryset() -> QuerySet[ConfigurationItem]:
    """The CI list with what a list row shows, in a fixed number of queries."""
    return ConfigurationItem.objects.select_related("ci_type", "owner").defer(
        "attributes", "ci_type__attribute_schema", "ci_type__description", "owner__password"
    )


def ci_detail_queryset() -> QuerySet[ConfigurationItem]:
    return ConfigurationItem.objects.select_related("ci_type", "owner", "department", "site")


def field_owners(ci_type: CIType) -> dict[str, str]:
    """Owner (`agent` or `people`) of each field for a CI type: the type's own rows over the
    defaults. One query."""
    owners: dict[str, str] = {}
    rows = FieldOwner.objects.filter(Q(ci_type__isnull=True) | Q(ci_type=ci_type)).values_list(
        "ci_type_id", "field", "owner"
    )
    for _type_id, name, owner in sorted(rows, key=lambda r: r[0] is not None):
        owners[name] = owner
    return owners


def cis_running(queryset: QuerySet[ConfigurationItem], *, product: str, version: str | None = None):
    """CIs of `queryset` with `product` (name, any case) installed, optionally at `version`."""
    product_ids = SoftwareProduct.objects.filter(name_key=software_key(product))
    installs = InstalledSoftware.objects.filter(
        ci=OuterRef("pk"), software__product__in=product_ids.values("pk")
    )
    if version:
        installs = installs.filter(software__version=version.strip())
    return queryset.filter(Exists(installs))


# --- impact analysis ----------------------------------------------------------------------


@dataclass
class ImpactResult:
    """Nodes reached from `root` with their (shortest) depth, and the edges between them."""

    root: ConfigurationItem
    direction: str
    depth: int
    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False


def impact_analysis(
    *, ci: ConfigurationItem, direction: str = ImpactDirection.DOWNSTREAM, depth: int = 3
) -> ImpactResult:
    """Walk the relationship graph from `ci` to `depth` hops, in the database, safe on cycles.

    Downstream follows source→target (who feels a failure of `ci`); upstream follows
    target→source (what `ci` depends on). Nodes carry their shortest depth; edges are those
    between reached nodes. At most MAX_IMPACT_NODES nodes (the nearest first): beyond that the
    result says `truncated`. One statement; on PostgreSQL a breadth-first walk that stops at
    the cap, elsewhere a portable recursive CTE.
    """
    depth = max(0, min(int(depth), MAX_IMPACT_DEPTH))
    rows = sql.impact_rows(
        root_id=ci.pk,
        downstream=direction != ImpactDirection.UPSTREAM,
        depth=depth,
        cap=MAX_IMPACT_NODES + 1,
    )
    type_slugs = dict(CIType.objects.values_list("id", "slug"))
    rel_slugs = dict(RelationshipType.objects.values_list("id", "slug"))
    nodes = sorted(
        (
            {"id": pk, "name": name, "ci_type": type_slugs[type_id], "status": status, "depth": d}
            for kind, pk, d, name, type_id, status in rows
            if kind == "n"
        ),
        key=lambda n: (n["depth"], n["name"], n["id"]),
    )
    result = ImpactResult(
        root=ci, direction=direction, depth=depth, truncated=len(nodes) > MAX_IMPACT_NODES
    )
    result.nodes = nodes[:MAX_IMPACT_NODES]
    kept = {node["id"] for node in result.nodes}
    result.edges = [
        {"source": source, "target": target, "type": rel_slugs[type_id]}
        for kind, source, target, _, type_id, _ in rows
        if kind == "e" and source in kept and target in kept
    ]
    return result


# --- history and the as-of view -----------------------------------------------------------


def ci_history(ci: ConfigurationItem) -> QuerySet[HistoryEntry]:
    """Every recorded change of a CI, newest first."""
    return HistoryEntry.objects.filter(ci=ci).order_by("-at", "-id")


def ci_history_display(ci: ConfigurationItem, *, limit: int = 50) -> list[ReadableEntry]:
    """The latest `limit` changes of a CI with readable lines (names, labels, "—"), in a fixed
    number of queries: the entries, then one per kind of object they name."""
    return readable_entries(ci_history(ci)[:limit])


@dataclass
class CIAsOf:
    """A CI as it stood at a past moment: its fields, relationships and software."""

    at: dt.datetime
    exists: bool
    fields: dict[str, Any]
    relationships: list[dict[str, Any]]
    software: list[dict[str, str]]

    @property
    def readable(self) -> list[Line]:
        """The fields as people read them (names, labels; a query per kind of object)."""
        return readable_fields(self.fields)


def _current_relationships(ci: ConfigurationItem) -> dict[int, dict[str, Any]]:
    rels = Relationship.objects.filter(source=ci) | Relationship.objects.filter(target=ci)
    return {
        pk: {"id": pk, "source": s, "target": t, "type": slug}
        for pk, s, t, slug in rels.values_list("id", "source_id", "target_id", "type__slug")
    }


def _current_software(ci: ConfigurationItem) -> set[tuple[str, str, str]]:
    return set(
        InstalledSoftware.objects.filter(ci=ci).values_list(
            "software__product__name", "software__product__vendor", "software__version"
        )
    )


def ci_as_of(ci: ConfigurationItem, at: dt.datetime) -> CIAsOf:
    """Rebuild the CI at `at` by undoing, newest first, every change recorded after it."""
    ci = ConfigurationItem.objects.select_related("ci_type").get(pk=ci.pk)
    fields = snapshot(ci)
    relationships = _current_relationships(ci)
    software = _current_software(ci)
    exists = True
    later = HistoryEntry.objects.filter(ci=ci, at__gt=at).order_by("-at", "-id")
    for entry in later.iterator():
        changes = entry.changes or {}
        if entry.kind == HistoryEntry.Kind.CREATED:
            exists = False
        elif entry.kind in (HistoryEntry.Kind.UPDATED, HistoryEntry.Kind.STATUS):
            # Only the CI's own fields: network and storage have kinds of their own.
            for name, change in changes.items():
                if name in TRACKED_FIELDS and isinstance(change, dict):
                    fields[name] = change.get("old")
        elif entry.kind == HistoryEntry.Kind.RELATIONSHIP:
            for rel in changes.get("added", []):
                relationships.pop(rel["id"], None)
            for rel in changes.get("removed", []):
                relationships[rel["id"]] = rel
        elif entry.kind == HistoryEntry.Kind.SOFTWARE:
            for item in changes.get("added", []):
                software.discard((item["name"], item["vendor"], item["version"]))
            for item in changes.get("removed", []):
                software.add((item["name"], item["vendor"], item["version"]))
    return CIAsOf(
        at=at,
        exists=exists,
        fields=fields,
        relationships=sorted(relationships.values(), key=lambda r: r["id"]),
        software=[{"name": n, "vendor": v, "version": ver} for n, v, ver in sorted(software)],
    )


def ci_type_counts() -> list[tuple[CIType, int]]:
    """Number of CIs per type, for the navigation and dashboards."""
    from django.db.models import Count

    return [(t, t.n) for t in CIType.objects.annotate(n=Count("cis")).order_by("name")]
