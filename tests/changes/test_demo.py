"""The demo step of change management: RFCs at each step, made through the services, twice
changing nothing the second time."""

from __future__ import annotations

import pytest

from changes import demo
from changes.models import Blackout, Change
from cmdb import demo as cmdb_demo
from cmdb.models import CIType, ConfigurationItem
from itsm import roles

pytestmark = pytest.mark.django_db


def test_the_demo_step_is_registered_and_idempotent(make_user):
    assert demo.seed_demo_step in cmdb_demo.extensions
    make_user(roles.SERVICE_DESK, username=demo.REQUESTER)
    make_user(roles.CHANGE_MANAGER, username=demo.MANAGER)
    for name in demo.CAB:
        make_user(roles.CAB_MEMBER, username=name)
    for key in ("database", "network-device", "server", "desktop"):
        ci_type = CIType.objects.get(builtin_key=key)
        for i in range(2):
            # set-up only: the types' schemas do not matter to the step
            ConfigurationItem.objects.create(ci_type=ci_type, name=f"{key}-{i}")
    rows = demo.seed_demo_step()
    assert rows[0] == ("RFCs", 5, 5)
    statuses = dict(Change.objects.values_list("title", "status"))
    assert statuses["Rotate the mail gateway certificates"] == "reviewed"
    assert statuses["Add two nodes to the VM cluster"] == "scheduled"
    assert statuses["Upgrade the shop database to PostgreSQL 16"] == "submitted"
    assert statuses["Install approved desktop software for the finance team"] == "approved"
    assert Blackout.objects.count() == 1
    assert demo.seed_demo_step()[0] == ("RFCs", 0, 5)
