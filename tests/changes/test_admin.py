"""The admin of change management: rules and bodies editable (audited), templates and blackouts
through their services, RFCs read-only."""

from __future__ import annotations

import pytest

from changes.models import Blackout, Change, StandardChangeTemplate
from itsm.audit import entries_for

pytestmark = pytest.mark.django_db


def test_admin_pages_answer(admin_client, approved):
    change = approved()
    for url in ("/admin/changes/approvalrule/", "/admin/changes/approvalbody/",
                "/admin/changes/standardchangetemplate/", "/admin/changes/blackout/",
                "/admin/changes/change/", f"/admin/changes/change/{change.pk}/change/",
                "/admin/changes/cabmeeting/", "/admin/changes/blackout/add/"):  # fmt: skip
        assert admin_client.get(url).status_code == 200, url


def test_rfcs_are_read_only_in_the_admin(admin_client, make_change):
    change = make_change()
    response = admin_client.post(f"/admin/changes/change/{change.pk}/change/", {"title": "X"})
    assert response.status_code == 403
    assert Change.objects.get(pk=change.pk).title == change.title


def test_a_blackout_added_in_the_admin_goes_through_the_service(admin_client, ci_type):
    response = admin_client.post(
        "/admin/changes/blackout/add/",
        {"name": "Audit week", "start_0": "2027-03-01", "start_1": "00:00:00",
         "end_0": "2027-03-08", "end_1": "00:00:00", "reason": "Auditors on site",
         "ci_types": [ci_type.pk]},
    )  # fmt: skip
    assert response.status_code == 302, response.content[:500]
    blackout = Blackout.objects.get()
    assert list(blackout.ci_types.all()) == [ci_type]
    assert entries_for(blackout).get().source == "admin"


def test_a_template_edited_in_the_admin_is_recorded(admin_client):
    template = StandardChangeTemplate.objects.first()
    response = admin_client.post(
        f"/admin/changes/standardchangetemplate/{template.pk}/change/",
        {"name": template.name, "category": template.category, "description": "New text",
         "implementation_plan": "p", "backout_plan": "b", "active": "on"},
    )  # fmt: skip
    assert response.status_code == 302, response.content[:500]
    assert entries_for(template).get().changes["description"]["new"] == "New text"
