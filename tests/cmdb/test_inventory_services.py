"""cmdb.inventory_services: a CI's network interfaces and storage volumes, written as a diff
with history, by the system (agent reports) or a permitted user."""

from __future__ import annotations

import pytest

from cmdb.history import ChangeContext
from cmdb.inventory_services import ci_set_network_interfaces, ci_set_storage_volumes
from cmdb.models import HistoryEntry, NetworkInterface, StorageVolume
from itsm.exceptions import PermissionDeniedError
from tests.factories import CIFactory

pytestmark = pytest.mark.django_db

SYSTEM = ChangeContext(actor=None, source="agent", source_ref="report:1")
ETH0 = {"name": "eth0", "mac": "52:54:00:00:00:01", "ipv4": ["10.0.0.5"], "ipv6": []}
ROOT = {"mount": "/", "device": "/dev/sda1", "filesystem": "ext4", "size_mb": 100, "used_mb": 10}


def entries(ci, section: str) -> list[dict]:
    return [
        e.changes[section]
        for e in HistoryEntry.objects.filter(ci=ci).order_by("id")
        if section in e.changes
    ]


def test_interfaces_are_replaced_as_a_diff_with_history():
    ci = CIFactory()
    change = ci_set_network_interfaces(context=SYSTEM, ci=ci, interfaces=[ETH0])
    assert [i["name"] for i in change["added"]] == ["eth0"]
    assert ci_set_network_interfaces(context=SYSTEM, ci=ci, interfaces=[ETH0]) == {
        "added": [],
        "removed": [],
        "changed": [],
    }
    moved = {**ETH0, "ipv4": ["10.0.0.6"]}
    eth1 = {"name": "eth1", "mac": "52:54:00:00:00:02", "ipv4": [], "ipv6": []}
    change = ci_set_network_interfaces(context=SYSTEM, ci=ci, interfaces=[moved, eth1])
    assert [i["ipv4"] for i in change["changed"]] == [["10.0.0.6"]]
    assert [i["name"] for i in change["added"]] == ["eth1"]
    assert sorted(NetworkInterface.objects.filter(ci=ci).values_list("name", flat=True)) == [
        "eth0",
        "eth1",
    ]
    assert len(entries(ci, "network")) == 2  # the unchanged list wrote nothing


def test_volumes_record_hardware_changes_not_utilisation():
    ci = CIFactory()
    assert ci_set_storage_volumes(context=SYSTEM, ci=ci, volumes=[ROOT])["added"] == ["/"]
    fuller = ci_set_storage_volumes(context=SYSTEM, ci=ci, volumes=[{**ROOT, "used_mb": 90}])
    assert fuller["changed"] and not (fuller["added"] or fuller["removed"] or fuller["resized"])
    assert StorageVolume.objects.get(ci=ci).used_mb == 90
    bigger = ci_set_storage_volumes(context=SYSTEM, ci=ci, volumes=[{**ROOT, "size_mb": 200}])
    assert bigger["resized"] == [{"mount": "/", "old_mb": 100, "new_mb": 200}]
    gone = ci_set_storage_volumes(context=SYSTEM, ci=ci, volumes=[])
    assert gone["removed"] == ["/"] and not StorageVolume.objects.filter(ci=ci).exists()
    assert len(entries(ci, "storage")) == 3  # added, resized, removed: not the utilisation


def test_a_user_needs_the_permission(make_user):
    ci = CIFactory()
    reader = ChangeContext(actor=make_user("Read Only"), source="user")
    with pytest.raises(PermissionDeniedError):
        ci_set_network_interfaces(context=reader, ci=ci, interfaces=[ETH0])
    with pytest.raises(PermissionDeniedError):
        ci_set_storage_volumes(context=reader, ci=ci, volumes=[ROOT])
    manager = ChangeContext(actor=make_user("CMDB Manager"), source="user")
    assert ci_set_storage_volumes(context=manager, ci=ci, volumes=[ROOT])["added"] == ["/"]
