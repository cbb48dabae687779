"""Concurrent CMDB edits on PostgreSQL: none is lost (issue 6 part 2 item 2, CI roles)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections
from django.test import Client

from cmdb import relationship_services, services
from cmdb.models import HistoryEntry
from itsm import roles
from tests.factories import SYSTEM, CIFactory, server_type


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # reference data comes back through conftest
def test_two_people_adding_roles_at_once_both_count(make_user, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite serialises writers anyway")
    ci = CIFactory(ci_type=server_type(), attributes={"os": "L"})
    manager = make_user(roles.CMDB_MANAGER)
    people = [make_user(None, username=f"p{i}") for i in range(2)]

    # Hold the CI's lock a moment once taken, so the second edit surely overlaps the first:
    # an edit that read the roles before the lock (and then replaced them) would lose one.
    lock_ci = relationship_services._lock_ci

    def slow_lock(ci_id):
        locked = lock_ci(ci_id)
        time.sleep(0.3)
        return locked

    monkeypatch.setattr(relationship_services, "_lock_ci", slow_lock)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def add(person):
        try:
            client = Client()
            client.force_login(manager)
            barrier.wait()
            response = client.post(
                f"/cmdb/cis/{ci.pk}/roles/add/",
                {"user": person.username, "role": "systems_manager"},
            )
            assert response.status_code == 302, response.status_code
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=add, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert set(ci.roles.values_list("user__username", flat=True)) == {"p0", "p1"}
    assert HistoryEntry.objects.filter(ci=ci, kind="role").count() == 2

    # and removing two at once removes both
    def remove(person):
        try:
            services.ci_role_remove(
                context=SYSTEM, ci_id=ci.pk, user=person, role="systems_manager"
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    remove_threads = [threading.Thread(target=remove, args=(p,)) for p in people]
    for thread in remove_threads:
        thread.start()
    for thread in remove_threads:
        thread.join(30)
    assert not errors
    assert not ci.roles.exists()
