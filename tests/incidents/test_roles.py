"""The End User role: self-service permissions only, the default for new users who are not
staff and got no role."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from itsm import roles

pytestmark = pytest.mark.django_db


def test_end_users_hold_only_self_service_permissions():
    perms = set(
        Group.objects.get(name=roles.END_USER).permissions.values_list("codename", flat=True)
    )
    assert perms == {"report_incident"}


def test_a_new_user_without_a_role_becomes_an_end_user(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        user = get_user_model().objects.create_user("newcomer", password="x-Passw0rd!")
    assert list(user.groups.values_list("name", flat=True)) == [roles.END_USER]
    assert user.has_perm("incidents.report_incident")
    assert not user.has_perm("incidents.view_incident")


def test_staff_and_users_given_a_role_at_creation_are_left_alone(
    django_capture_on_commit_callbacks,
):
    user_model = get_user_model()
    with django_capture_on_commit_callbacks(execute=True):
        admin = user_model.objects.create_user("boss", password="x-Passw0rd!", is_staff=True)
        analyst = user_model.objects.create_user("analyst", password="x-Passw0rd!")
        analyst.groups.add(Group.objects.get(name=roles.SERVICE_DESK))
    assert not admin.groups.exists()
    assert list(analyst.groups.values_list("name", flat=True)) == [roles.SERVICE_DESK]
