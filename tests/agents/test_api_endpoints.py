"""API endpoints of the agents app that people (not agents) call: discrepancy close, health."""

from __future__ import annotations

import pytest

from agents.choices import DiscrepancyKind, DiscrepancyStatus
from agents.discrepancies import discrepancy_open_or_refresh
from agents.models import Discrepancy
from tests.factories import CIFactory, server_type

pytestmark = pytest.mark.django_db

HEALTH = "/api/v1/agents/health/"


@pytest.fixture
def discrepancy():
    ci = CIFactory(ci_type=server_type(), attributes={"os": "Debian"})
    item, _ = discrepancy_open_or_refresh(
        ci=ci, kind=DiscrepancyKind.STALE, key="stale", message="Stopped reporting", detail={}
    )
    return item


def close_url(item: Discrepancy) -> str:
    return f"/api/v1/agents/discrepancies/{item.pk}/close/"


def test_close_discrepancy_records_who_and_why(manager_api, discrepancy):
    response = manager_api.post(
        close_url(discrepancy), {"status": "accepted", "resolution": "Decommission planned"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "accepted"
    discrepancy.refresh_from_db()
    assert discrepancy.status == DiscrepancyStatus.ACCEPTED
    assert discrepancy.resolution == "Decommission planned"
    assert discrepancy.resolved_by == manager_api.user
    assert discrepancy.resolved_at is not None


def test_close_refuses_a_closed_discrepancy(manager_api, discrepancy):
    assert manager_api.post(close_url(discrepancy), {"status": "resolved"}).status_code == 200
    again = manager_api.post(close_url(discrepancy), {"status": "accepted"})
    assert again.status_code in (400, 409)
    discrepancy.refresh_from_db()
    assert discrepancy.status == DiscrepancyStatus.RESOLVED


@pytest.mark.parametrize("body", [{}, {"status": "open"}, {"status": "bogus"}])
def test_close_needs_a_closing_status(manager_api, discrepancy, body):
    response = manager_api.post(close_url(discrepancy), body, format="json")
    assert response.status_code == 400
    assert "status" in response.json()
    discrepancy.refresh_from_db()
    assert discrepancy.status == DiscrepancyStatus.OPEN


def test_read_only_cannot_close(readonly_api, discrepancy):
    assert readonly_api.post(close_url(discrepancy), {"status": "accepted"}).status_code == 403
    discrepancy.refresh_from_db()
    assert discrepancy.status == DiscrepancyStatus.OPEN


def test_health_scores_every_type_with_cis(readonly_api, discrepancy):
    body = readonly_api.get(HEALTH).json()
    assert set(body) == {"overall", "ci_types"}
    assert body["overall"]["cis"] == 1
    rows = {row["ci_type"]: row for row in body["ci_types"]}
    assert rows["test-server"]["cis"] == 1
    for key in ("completeness", "correctness", "freshness", "score"):
        assert 0 <= rows["test-server"][key] <= 100


def test_health_refuses_query_parameters(readonly_api):
    assert readonly_api.get(HEALTH, {"ci_type": "server"}).status_code == 400


def test_health_needs_a_login(api_client):
    assert api_client.get(HEALTH).status_code in (401, 403)
