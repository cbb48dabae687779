"""Root-cause comparison: the planted cause ranks first, the API's selections and refusals."""

from __future__ import annotations

import pytest
from scipy.stats import fisher_exact

from cmdb.models import ConfigurationItem
from incidents import analysis
from itsm import roles
from tests.factories import CIFactory, CITypeFactory

from .analysis_data import N_CRASHING, PLUGIN, planted
from .problem_factories import make_incident, make_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def desktops():
    return planted()


def test_the_planted_plugin_is_ranked_first(desktops, django_assert_max_num_queries):
    crashing, _ = desktops
    with django_assert_max_num_queries(6):
        result = analysis.compare(affected=ConfigurationItem.objects.filter(pk__in=crashing))
    assert result["affected_count"] == N_CRASHING
    assert result["baseline_count"] == 960
    top = result["results"][0]
    assert (top["kind"], top["name"], top["value"]) == ("software", *PLUGIN)
    assert top["affected_share"] == 1.0
    assert top["baseline_share"] == pytest.approx(0.05, abs=0.001)
    assert top["ratio"] == pytest.approx(20, rel=0.05)
    assert top["p_value"] < 1e-10
    # p-values are Fisher's exact test (one-sided) on the 2x2 table
    for row in result["results"][:5]:
        a, b = row["affected_count"], row["baseline_count"]
        _, p = fisher_exact([[a, 40 - a], [b, 960 - b]], alternative="greater")
        assert row["p_value"] == pytest.approx(p)
    # ranked by p-value; only rows more common among the affected
    ps = [r["p_value"] for r in result["results"]]
    assert ps == sorted(ps)
    assert all(r["affected_share"] > r["baseline_share"] for r in result["results"])
    # nested attribute values are not compared
    assert not any(r["name"] == "tags" for r in result["results"])


def test_the_problem_analysis_uses_the_cis_of_its_incidents(desktops, make_user, api_client):
    crashing, _ = desktops
    incidents = [make_incident(cis=[pk], title="Browser crash") for pk in crashing]
    problem = make_problem(incidents=incidents)
    api_client.force_authenticate(make_user(roles.PROBLEM_MANAGER))
    response = api_client.get(f"/api/v1/problems/{problem.pk}/analysis/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["affected_count"] == N_CRASHING
    assert body["results"][0]["name"] == "BrowserPlug" and body["results"][0]["value"] == "2.3"
    assert set(body["results"][0]) >= {
        "kind", "name", "value", "affected_share", "baseline_share", "ratio", "p_value",
    }  # fmt: skip


def test_compare_api_with_ids_and_with_a_filter(desktops, make_user, api_client):
    crashing, others = desktops
    api_client.force_authenticate(make_user(roles.READ_ONLY))
    response = api_client.post(
        "/api/v1/reports/compare/", {"affected": {"ids": crashing}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["results"][0]["value"] == "2.3"
    # the CMDB's CI filters select the affected set (every CI running the plug-in 2.3) and an
    # explicit baseline
    response = api_client.post(
        "/api/v1/reports/compare/",
        {
            "affected": {"filter": {"software": "BrowserPlug", "software_version": "2.3"}},
            "baseline": {"ids": others[:200]},
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["affected_count"] == N_CRASHING + 48
    # CIs in both sets count as affected only
    assert 180 <= body["baseline_count"] < 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"affected": {}},
        {"affected": {"ids": []}},
        {"affected": {"ids": [999_999]}},
        {"affected": {"ids": ["x"]}},
        {"affected": {"filter": {"colour": "red"}}},
        {"affected": {"filter": {"status": "nonsense"}}},
        {"affected": {"filter": {"hostname": "no-such-host"}}},
        {"affected": {"ids": [1], "filter": {}}},
        {"affected": {"filter": {"ci_type": {"nested": 1}}}},
        {"affected": {"ids": [1]}, "baseline": {"filter": {"bogus": 1}}},
    ],
)
def test_compare_refuses_bad_selections(body, make_user, api_client):
    CIFactory(ci_type=CITypeFactory(), name="only-one")
    api_client.force_authenticate(make_user(roles.READ_ONLY))
    response = api_client.post("/api/v1/reports/compare/", body, format="json")
    assert response.status_code == 400, response.content


def test_no_baseline_means_no_rows():
    ci_type = CITypeFactory()
    ci = CIFactory(ci_type=ci_type, name="alone")
    result = analysis.compare(affected=ConfigurationItem.objects.filter(pk=ci.pk))
    assert result == {"affected_count": 1, "baseline_count": 0, "results": []}


@pytest.mark.parametrize("n_a", [1, 5, 40])
@pytest.mark.parametrize("n_b", [1, 30, 960])
def test_the_vectorised_test_is_fishers_exact_test(n_a, n_b):
    tables = [(a, b) for a in range(0, n_a + 1, max(1, n_a // 4)) for b in (0, n_b // 3, n_b)]
    vectorised = analysis.fisher_greater([a for a, _ in tables], [b for _, b in tables], n_a, n_b)
    for (a, b), p in zip(tables, vectorised, strict=True):
        _, expected = fisher_exact([[a, n_a - a], [b, n_b - b]], alternative="greater")
        assert p == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_a_problem_without_cis_has_an_empty_analysis(make_user, api_client):
    problem = make_problem(incidents=[make_incident()])
    api_client.force_authenticate(make_user(roles.PROBLEM_MANAGER))
    body = api_client.get(f"/api/v1/problems/{problem.pk}/analysis/").json()
    assert body == {"affected_count": 0, "baseline_count": 0, "results": []}
    assert api_client.get(f"/api/v1/problems/{problem.pk}/analysis/?limit=x").status_code == 400
