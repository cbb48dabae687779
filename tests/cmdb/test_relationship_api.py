"""Deleting a relationship through the API: recorded on both CIs, refused without permission."""

from __future__ import annotations

import pytest

from cmdb.models import Relationship
from tests.factories import CIFactory, link, server_type

pytestmark = pytest.mark.django_db


@pytest.fixture
def relationship():
    source = CIFactory(name="db-01", ci_type=server_type(), attributes={"os": "Debian"})
    target = CIFactory(name="app-01", ci_type=server_type(), attributes={"os": "Debian"})
    return link(source, target, "provides-data")


def url(rel: Relationship) -> str:
    return f"/api/v1/cmdb/relationships/{rel.pk}/"


def test_delete_removes_the_link_and_records_it_on_both_ends(manager_api, relationship):
    response = manager_api.delete(url(relationship))
    assert response.status_code == 204
    assert not Relationship.objects.filter(pk=relationship.pk).exists()
    for ci in (relationship.source, relationship.target):
        history = manager_api.get(f"/api/v1/cmdb/cis/{ci.pk}/history/").json()["results"]
        removed = [e for e in history if e["changes"].get("removed")]
        assert removed, f"no removal recorded on {ci.name}"
        assert removed[0]["actor"] == manager_api.user.username


def test_delete_of_an_unknown_relationship_is_404(manager_api):
    assert manager_api.delete("/api/v1/cmdb/relationships/999999/").status_code == 404


def test_read_only_cannot_delete(readonly_api, relationship):
    assert readonly_api.delete(url(relationship)).status_code == 403
    assert Relationship.objects.filter(pk=relationship.pk).exists()
