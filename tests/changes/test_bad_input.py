"""Odd input to the change-management API answers 4xx, never 500, and writes nothing."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from changes.api.urls import router
from changes.models import Change
from itsm import roles

pytestmark = pytest.mark.django_db

PREFIXES = ["/api/v1/changes/" + (p + "/" if p else "") for p, _v, _b in router.registry]
BAD_DATETIMES = ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-12:00", "2026-13-01T00:00:00Z",
                 "not a date", "2026-01-01T00:00:00+20:00"]  # fmt: skip


@pytest.fixture
def manager_client(make_user):
    client = APIClient()
    client.force_authenticate(make_user(roles.CHANGE_MANAGER))
    return client


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("ident", ["abc", "1.5", "%00", "99999999999999999999999"])
def test_odd_ids_answer_4xx(manager_client, prefix, ident):
    for method in ("get", "delete", "patch"):
        response = getattr(manager_client, method)(f"{prefix}{ident}/", {}, format="json")
        assert 400 <= response.status_code < 500, (method, prefix, ident, response.status_code)


@pytest.mark.parametrize("value", BAD_DATETIMES)
def test_bad_datetimes_answer_400(manager_client, value, approved):
    assert (
        manager_client.get(
            "/api/v1/changes/conflicts/", {"start": value, "end": "2026-01-01T00:00:00Z"}
        ).status_code
        == 400
    )
    assert manager_client.get("/api/v1/changes/", {"planned_after": value}).status_code == 400
    response = manager_client.post(
        "/api/v1/changes/", {"title": "x", "planned_start": value}, format="json"
    )
    assert response.status_code == 400
    change = approved()
    response = manager_client.post(
        f"/api/v1/changes/{change.pk}/schedule/",
        {"start": value, "end": "2027-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 400
    assert Change.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [{"title": ""}, {"title": "x" * 201}, {"title": "x", "change_type": "sideways"},
     {"title": "x", "cis": [999999]}, {"title": "x", "estimated_hours": "-1"},
     {"title": "x", "estimated_hours": "1e30"}, {"title": "x", "template": "abc"}, []],
)  # fmt: skip
def test_bad_rfc_bodies_answer_400(manager_client, body):
    assert manager_client.post("/api/v1/changes/", body, format="json").status_code == 400
    assert not Change.objects.exists()
