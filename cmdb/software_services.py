"""Writes of the software catalogue and of what is installed on a CI (offered by `cmdb.services` too).

The catalogue is keyed case-insensitively by product name and vendor; a CI's installed
software is replaced as a diff (`software_replace`, the whole list) or changed package by
package (`software_apply`, what a deployment installed and removed), and recorded with the
`ChangeContext` it was given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from itsm.exceptions import ApplicationError
from itsm.permissions import require_permission

from . import sql
from .history import ChangeContext, record_change
from .models import (
    ConfigurationItem,
    HistoryEntry,
    InstalledSoftware,
    SoftwareProduct,
    SoftwareVersion,
    software_key,
)

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
    # Usually everything is catalogued already: one statement then.
    catalogued = {
        (name_key, vendor_key, version): pk
        for name_key, vendor_key, version, pk in sql.versions_by_name_key(
            {software_key(n) for n, _, _ in keys}
        )
    }
    known = {k: catalogued.get((software_key(k[0]), software_key(k[1]), k[2])) for k in keys}
    if all(known.values()):
        return known  # type: ignore[return-value]
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


@transaction.atomic
def software_apply(
    *,
    context: ChangeContext,
    ci_id: int,
    install: Sequence[Mapping[str, Any]] = (),
    remove: Iterable[str] = (),
) -> dict[str, list[dict[str, str]]]:
    """Install packages on a CI and remove others, leaving the rest of its software alone: a
    diff applied, where `software_replace` takes the whole list. A package is known by its
    name (case-folded): installing one replaces whatever version (or vendor) of that name is
    there; removing one removes every version of it. Only the named packages are read.

    Returns `{"added": [...], "removed": [...]}` as `software_replace` does, recorded in the
    CI's history; nothing changed writes nothing. Refused (400): an entry without a name.
    """
    require_permission(context, "cmdb.change_configurationitem")
    keys = [_software_key(item) for item in install]
    remove = [str(name).strip()[:255] for name in remove]
    if any(not key[0] for key in keys) or any(not name for name in remove):
        raise ApplicationError("Every software entry needs a name.")
    wanted = {software_key(n): (n, v, ver) for n, v, ver in keys}
    exact = {(software_key(n), software_key(v), ver) for n, v, ver in wanted.values()}
    touched = set(wanted) | {software_key(name) for name in remove}
    found = sql.installed_by_name_locked(ci_id=ci_id, name_keys=touched)
    if found is None:
        raise ApplicationError("No such configuration item.")
    # The history entry names the CI: its id and name are all it needs.
    ci = ConfigurationItem.from_db(connection.alias, ["id", "name"], [ci_id, found[0]])
    installed = found[1]
    present = {(row[1], row[2], row[3]) for row in installed}
    added = [
        item
        for item in wanted.values()
        if (software_key(item[0]), software_key(item[1]), item[2]) not in present
    ]
    removed = [row for row in installed if (row[1], row[2], row[3]) not in exact]
    if not added and not removed:
        return {"added": [], "removed": []}
    if removed:
        InstalledSoftware.objects.filter(pk__in=[row[0] for row in removed]).delete()
    version_ids = software_versions_resolve(added)
    _install(ci, set(version_ids.values()), context.source)
    change = {
        "added": _describe(added),
        "removed": _describe((row[4], row[5], row[3]) for row in removed),
    }
    record_change(ci=ci, kind=HistoryEntry.Kind.SOFTWARE, changes=change, context=context)
    return change


def _describe(keys: Iterable[SoftwareKey]) -> list[dict[str, str]]:
    return [
        {"name": name, "vendor": vendor, "version": version}
        for name, vendor, version in sorted(keys)
    ]
