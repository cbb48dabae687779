"""Writes of a CI's discovered inventory: its network interfaces and storage volumes.

Services like those of `cmdb.services` (keyword-only arguments, permission check, one
transaction, history through `record_change`), kept in their own module. Agents' reconciliation
calls them with the report as the change's source; each takes the complete list the machine
reported and applies it as a diff, so an unchanged list writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction

from .history import ChangeContext, record_change
from .models import ConfigurationItem, HistoryEntry, NetworkInterface, StorageVolume
from .services import require_permission

__all__ = ["ci_set_network_interfaces", "ci_set_storage_volumes"]


def _describe_interface(row: NetworkInterface) -> dict[str, Any]:
    return {"name": row.name, "mac": row.mac, "ipv4": row.ipv4}


def ci_set_network_interfaces(
    *, context: ChangeContext, ci: ConfigurationItem, interfaces: Sequence[Mapping[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """Make the CI's network interfaces exactly `interfaces` ({name, mac, ipv4, ipv6} each).

    Interfaces are keyed by (name, MAC). Returns `{"added", "removed", "changed"}` (each a list
    of {name, mac, ipv4}); all three empty when nothing changed, and then nothing is written.
    """
    require_permission(context, "cmdb.change_configurationitem")
    with transaction.atomic(savepoint=False):  # no savepoint: called once per agent report
        return _set_interfaces(context, ci, interfaces)


def _set_interfaces(
    context: ChangeContext, ci: ConfigurationItem, interfaces: Sequence[Mapping[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    current = {(row.name, row.mac): row for row in NetworkInterface.objects.filter(ci=ci)}
    wanted = {(item["name"][:100], item.get("mac") or ""): item for item in interfaces}
    removed = [current[key] for key in current.keys() - wanted.keys()]
    added = [
        NetworkInterface(
            ci=ci,
            name=name,
            mac=mac,
            ipv4=list(wanted[(name, mac)].get("ipv4", [])),
            ipv6=list(wanted[(name, mac)].get("ipv6", [])),
        )
        for name, mac in wanted.keys() - current.keys()
    ]
    changed = []
    for key in current.keys() & wanted.keys():
        row, new = current[key], wanted[key]
        if row.ipv4 != new.get("ipv4", []) or row.ipv6 != new.get("ipv6", []):
            row.ipv4, row.ipv6 = list(new.get("ipv4", [])), list(new.get("ipv6", []))
            changed.append(row)
    change = {
        "added": [_describe_interface(row) for row in added],
        "removed": [_describe_interface(row) for row in removed],
        "changed": [_describe_interface(row) for row in changed],
    }
    if not (removed or added or changed):
        return change
    if removed:
        NetworkInterface.objects.filter(pk__in=[row.pk for row in removed]).delete()
    if added:
        NetworkInterface.objects.bulk_create(added)
    if changed:
        NetworkInterface.objects.bulk_update(changed, ["ipv4", "ipv6"])
    record_change(
        ci=ci, kind=HistoryEntry.Kind.NETWORK, changes={"network": change}, context=context
    )
    return change


def _volume_fields(item: Mapping[str, Any]) -> tuple[Any, Any, str, str]:
    return (
        item.get("size_mb"),
        item.get("used_mb"),
        (item.get("device") or "")[:255],
        (item.get("filesystem") or "")[:50],
    )


def ci_set_storage_volumes(
    *, context: ChangeContext, ci: ConfigurationItem, volumes: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Make the CI's storage volumes exactly `volumes` ({mount, device, filesystem, size_mb,
    used_mb} each), keyed by mount point.

    Returns `{"added": [mount], "removed": [mount], "resized": [{mount, old_mb, new_mb}],
    "changed": bool}`. Utilisation moves with every report: it is saved, but history records
    only what changed in the hardware (volumes added, removed or resized).
    """
    require_permission(context, "cmdb.change_configurationitem")
    with transaction.atomic(savepoint=False):  # no savepoint: called once per agent report
        return _set_volumes(context, ci, volumes)


def _set_volumes(
    context: ChangeContext, ci: ConfigurationItem, volumes: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    current = {row.mount: row for row in StorageVolume.objects.filter(ci=ci)}
    wanted = {item["mount"][:255]: item for item in volumes}
    removed = [current[mount] for mount in current.keys() - wanted.keys()]
    added = []
    for mount, item in wanted.items():
        if mount in current:
            continue
        size_mb, used_mb, device, filesystem = _volume_fields(item)
        added.append(
            StorageVolume(
                ci=ci,
                mount=mount,
                device=device,
                filesystem=filesystem,
                size_mb=size_mb,
                used_mb=used_mb,
            )
        )
    resized, changed = [], []
    for mount in current.keys() & wanted.keys():
        row, new = current[mount], _volume_fields(wanted[mount])
        if row.size_mb != new[0] and row.size_mb and new[0]:
            resized.append({"mount": mount, "old_mb": row.size_mb, "new_mb": new[0]})
        if (row.size_mb, row.used_mb, row.device, row.filesystem) != new:
            row.size_mb, row.used_mb, row.device, row.filesystem = new
            changed.append(row)
    result = {
        "added": sorted(row.mount for row in added),
        "removed": sorted(row.mount for row in removed),
        "resized": resized,
        "changed": bool(removed or added or changed),
    }
    if not result["changed"]:
        return result
    if removed:
        StorageVolume.objects.filter(pk__in=[row.pk for row in removed]).delete()
    if added:
        StorageVolume.objects.bulk_create(added)
    if changed:
        StorageVolume.objects.bulk_update(changed, ["size_mb", "used_mb", "device", "filesystem"])
    if added or removed or resized:
        record_change(
            ci=ci,
            kind=HistoryEntry.Kind.STORAGE,
            changes={
                "storage": {
                    "added": result["added"],
                    "removed": result["removed"],
                    "resized": resized,
                }
            },
            context=context,
        )
    return result
