"""Impact (ripple set over the CMDB graph) and risk on a small graph with known answers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from changes import impact, services
from changes.choices import ChangeType, RiskLevel
from changes.models import Change, ChangeImpact
from changes.selectors import change_impact
from cmdb.models import CIType
from incidents.models import Incident
from incidents.services import incident_open
from itsm.audit import ChangeContext
from tests.changes.conftest import ctx
from tests.factories import link

pytestmark = pytest.mark.django_db

SYSTEM = ChangeContext(source="system", source_ref="tests")


@pytest.fixture
def graph(make_ci):
    """db → app1 → shop (business service, high) ; db → app2 ; app1 → app3 → app4 → app5;
    app4 → app1 (a cycle)."""
    service_type = CIType.objects.get(builtin_key="business-service")
    cis = {name: make_ci(name) for name in ("db", "app1", "app2", "app3", "app4", "app5")}
    cis["shop"] = make_ci("shop", ci_type=service_type, attributes={"criticality": "high"})
    for source, target in [
        ("db", "app1"), ("app1", "shop"), ("db", "app2"), ("app1", "app3"), ("app3", "app4"),
        ("app4", "app5"), ("app4", "app1"),
    ]:  # fmt: skip
        link(cis[source], cis[target], "feeds")
    return cis


def depths_by_name(ripple, cis):
    names = {ci.pk: name for name, ci in cis.items()}
    return {names[pk]: depth for pk, depth in ripple.depths.items()}


def test_ripple_of_one_ci(graph):
    ripple = impact.ripple([graph["db"].pk])
    assert depths_by_name(ripple, graph) == {
        "db": 0, "app1": 1, "app2": 1, "shop": 2, "app3": 2, "app4": 3,
    }  # fmt: skip
    assert ripple.business_services == {graph["shop"].pk}


def test_ripple_is_the_union_at_the_shortest_depth(graph):
    ripple = impact.ripple([graph["db"].pk, graph["app4"].pk])
    assert depths_by_name(ripple, graph) == {
        "db": 0, "app4": 0, "app1": 1, "app2": 1, "app5": 1, "shop": 2, "app3": 2,
    }  # fmt: skip


def test_ripple_of_a_leaf_is_itself(graph):
    assert depths_by_name(impact.ripple([graph["app5"].pk]), graph) == {"app5": 0}


def test_risk_reasons_on_the_small_graph(graph):
    ripple = impact.ripple([graph["db"].pk])
    risk = impact.assess_risk(
        ci_ids=[graph["db"].pk], ripple_set=ripple, change_type=ChangeType.NORMAL
    )
    points = {r["factor"]: r["points"] for r in risk.reasons}
    assert points == {"impact_size": 5, "business_services": 5, "criticality": 20}
    assert (risk.score, risk.level) == (30, RiskLevel.MEDIUM)
    assert "shop is high" in next(r["detail"] for r in risk.reasons if r["factor"] == "criticality")


def test_recent_incidents_and_failed_changes_raise_the_risk(graph, make_change):
    db = graph["db"]
    for title in ("Slow", "Down"):
        incident_open(context=SYSTEM, title=title, cis=[db])
    old = incident_open(context=SYSTEM, title="Long ago", cis=[db])
    Incident.objects.filter(pk=old.pk).update(created=timezone.now() - dt.timedelta(days=100))
    earlier = make_change(cis=[db])
    Change.objects.filter(pk=earlier.pk).update(outcome="backed_out")
    risk = impact.assess_risk(
        ci_ids=[db.pk], ripple_set=impact.ripple([db.pk]), change_type=ChangeType.EMERGENCY
    )
    points = {r["factor"]: r["points"] for r in risk.reasons}
    assert points["recent_incidents"] == 10
    assert points["failed_changes"] == 10
    assert points["emergency"] == 10
    assert (risk.score, risk.level) == (60, RiskLevel.HIGH)


def test_impact_is_stored_at_submit_and_refreshed_on_demand(graph, make_change, requester, cab):
    change = make_change(cis=[graph["app3"]])
    change = services.change_submit(context=ctx(requester), change=change)
    stored = change_impact(change)
    assert [(n["name"], n["depth"]) for n in stored["nodes"]] == [
        ("app3", 0), ("app4", 1), ("app1", 2), ("app5", 2), ("shop", 3),
    ]  # fmt: skip
    assert [n["name"] for n in stored["business_services"]] == ["shop"]
    assert stored["risk"]["level"] == change.risk
    # The CMDB changes: a new consumer of app3 appears only after a refresh.
    link(graph["app3"], graph["app2"], "feeds")
    assert not ChangeImpact.objects.filter(change=change, ci=graph["app2"]).exists()
    services.change_impact_refresh(context=ctx(requester), change=change)
    assert ChangeImpact.objects.get(change=change, ci=graph["app2"]).depth == 1


def test_impact_api(graph, make_change, requester, cab):
    from rest_framework.test import APIClient

    change = services.change_submit(context=ctx(requester), change=make_change(cis=[graph["db"]]))
    client = APIClient()
    client.force_authenticate(requester)
    body = client.get(f"/api/v1/changes/{change.pk}/impact/").json()
    assert body["count"] == 6
    assert {r["factor"] for r in body["risk"]["reasons"]} >= {"impact_size", "criticality"}
    refreshed = client.post(f"/api/v1/changes/{change.pk}/impact/refresh/")
    assert refreshed.status_code == 200
    assert refreshed.json()["count"] == 6


def test_the_impact_answer_lists_the_nearest_and_counts_all(
    graph, make_change, requester, cab, monkeypatch
):
    from changes import selectors

    change = services.change_submit(context=ctx(requester), change=make_change(cis=[graph["db"]]))
    monkeypatch.setattr(selectors, "MAX_IMPACT_LISTED", 3)
    answer = change_impact(change)
    assert answer["count"] == 6 and answer["truncated"]
    assert [n["name"] for n in answer["nodes"]] == ["db", "app1", "app2"]
