"""Hot pages and endpoints run exactly the pinned number of queries (tests/query_counts.json).

The data is a small but complete CMDB: CIs with owners, roles, relationships and software, an
agent that reported one of them, discrepancies. Every page is measured after a warm-up request,
as a user who opens it twice would see it.
"""

from __future__ import annotations

import pytest

from agents.choices import DiscrepancyKind
from agents.discrepancies import discrepancy_open_or_refresh
from cmdb import services
from tests.agents.conftest import make_agent, native_report
from tests.factories import SYSTEM, CIFactory, link, server_type
from tests.query_counts import assert_pinned, measure

pytestmark = pytest.mark.django_db


@pytest.fixture
def cmdb_data(make_user):
    ci_type = server_type()
    owner = make_user(None)
    cis = [CIFactory(ci_type=ci_type, attributes={"os": "Debian"}, owner=owner) for _ in range(12)]
    root = cis[0]
    for other in cis[1:8]:
        link(root, other)
    services.software_replace(
        context=SYSTEM, ci=root, items=[{"name": f"pkg{i}", "version": "1"} for i in range(20)]
    )
    services.ci_set_roles(
        context=SYSTEM, ci_id=root.pk, roles=[(make_user(None), "systems_manager")]
    )
    for ci in cis[:5]:
        discrepancy_open_or_refresh(
            ci=ci, kind=DiscrepancyKind.STALE, key="stale", message="Stopped reporting", detail={}
        )
    return root


@pytest.fixture
def reported(client, cmdb_data):
    agent = make_agent(name="web-01")
    response = agent.post(client, native_report())
    assert response.status_code == 202, response.content
    return agent


@pytest.fixture
def web(client, cmdb_manager):
    client.force_login(cmdb_manager)
    return client


PAGES = {
    "page.ci_list": "/cmdb/cis/",
    "page.ci_list_filtered": "/cmdb/cis/?ci_type=test-server&status=ordered&q=ci",
    "page.ci_detail": "/cmdb/cis/{root}/",
    "page.agent_list": "/agents/",
    "page.discrepancy_list": "/agents/discrepancies/",
}

ENDPOINTS = {
    "api.ci_list": "/api/v1/cmdb/cis/",
    "api.ci_detail": "/api/v1/cmdb/cis/{root}/",
    "api.ci_history": "/api/v1/cmdb/cis/{root}/history/",
    "api.ci_impact": "/api/v1/cmdb/cis/{root}/impact/?direction=downstream&depth=6",
    "api.ci_software": "/api/v1/cmdb/cis/{root}/software/",
    "api.agent_list": "/api/v1/agents/",
    "api.report_list": "/api/v1/agents/inventory-reports/",
    "api.discrepancy_list": "/api/v1/agents/discrepancies/",
}


@pytest.mark.parametrize("name", PAGES)
def test_page_query_count(name, web, cmdb_data, reported):
    assert_pinned(name, measure(web, PAGES[name].format(root=cmdb_data.pk)))


@pytest.mark.parametrize("name", ENDPOINTS)
def test_endpoint_query_count(name, manager_api, cmdb_data, reported):
    assert_pinned(name, measure(manager_api, ENDPOINTS[name].format(root=cmdb_data.pk)))


def test_unchanged_report_query_count(client, reported):
    """An agent repeating itself is the hottest path of all (bench: ingest unchanged_report)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = reported.post(client, native_report())
    assert response.status_code == 202
    assert_pinned("ingest.unchanged_report", len(ctx.captured_queries))
