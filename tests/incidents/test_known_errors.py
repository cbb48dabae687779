"""The known-error base: full-text search (PostgreSQL) and its icontains fallback (SQLite),
suggestions while an incident's title is typed, and who reads what."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from incidents import problem_services as ps
from incidents.models import KnownError
from incidents.problem_selectors import known_error_search, known_error_suggest
from itsm import roles
from itsm.audit import entries_for
from tests.factories import CIFactory, CITypeFactory

from .problem_factories import SYSTEM, make_known_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def base():
    printer_type = CITypeFactory(name="KE printer", slug="ke-printer")
    printer = CIFactory(ci_type=printer_type, name="prn-01")
    return {
        "jam": make_known_error(
            title="Printer jams on duplex printing",
            symptoms="Paper stuck in the rear tray after two pages",
            workaround="Print single-sided",
            category="Printing",
            ci_types=[printer_type],
            published=True,
        ),
        "vpn": make_known_error(
            title="VPN drops every hour",
            symptoms="The tunnel disconnects when the key is renegotiated",
            workaround="Reconnect",
            category="Network",
            published=True,
        ),
        "draft": make_known_error(
            title="Outlook freezes when printing attachments",
            symptoms="Outlook hangs",
            category="E-mail",
            published=False,
        ),
        "printer": printer,
        "printer_type": printer_type,
    }


def test_search_finds_by_any_text_column_and_prefix(base):
    found = list(known_error_search(KnownError.objects.all(), "printer jam"))
    assert found == [base["jam"]]
    assert list(known_error_search(KnownError.objects.all(), "tunnel")) == [base["vpn"]]
    # "print" is a prefix of words of two known errors; the one saying it in its title first
    found = list(known_error_search(KnownError.objects.all(), "print"))
    assert set(found) == {base["jam"], base["draft"]}
    assert list(known_error_search(KnownError.objects.all(), "kangaroo")) == []
    assert list(known_error_search(KnownError.objects.all(), "!!")) == []


def test_search_survives_query_syntax(base):
    for text in ["printer & | ! ( :*", "'jam'", "jam:*", "a b c d e f g h i j k"]:
        list(known_error_search(KnownError.objects.all(), text))


def test_suggestions_rank_text_ci_and_category(base):
    by_text = known_error_suggest(text="VPN keeps dropping")
    assert by_text[0] == base["vpn"]
    by_ci = known_error_suggest(text="", cis=[base["printer"]])
    assert by_ci == [base["jam"]]  # through the CI's type
    by_category = known_error_suggest(text="", category="e-mail")
    assert by_category == [base["draft"]]
    both = known_error_suggest(text="printing", cis=[base["printer"].pk], category="Printing")
    assert both[0] == base["jam"]
    assert known_error_suggest(text="") == []
    assert len(known_error_suggest(text="print vpn outlook", limit=2)) == 2


def test_end_users_read_published_known_errors_only(base, make_user, api_client):
    end_user = make_user(None)
    end_user.user_permissions.add(Permission.objects.get(codename="view_published_knownerror"))
    api_client.force_authenticate(end_user)
    listed = api_client.get("/api/v1/known-errors/").json()
    assert {r["id"] for r in listed["results"]} == {base["jam"].pk, base["vpn"].pk}
    assert api_client.get(f"/api/v1/known-errors/{base['draft'].pk}/").status_code == 404
    suggested = api_client.get("/api/v1/known-errors/suggest/?title=outlook").json()
    assert suggested == []
    assert (
        api_client.post("/api/v1/known-errors/", {"title": "x"}, format="json").status_code == 403
    )
    nobody = make_user(None)
    api_client.force_authenticate(nobody)
    assert api_client.get("/api/v1/known-errors/").status_code == 403


def test_staff_search_the_api_with_q(base, make_user, api_client):
    api_client.force_authenticate(make_user(roles.SERVICE_DESK))
    body = api_client.get("/api/v1/known-errors/?q=outlook").json()
    assert [r["id"] for r in body["results"]] == [base["draft"].pk]
    assert api_client.get("/api/v1/known-errors/?colour=red").status_code == 400
    body = api_client.get(
        f"/api/v1/known-errors/suggest/?title=printer&ci={base['printer'].pk}"
    ).json()
    assert body[0]["id"] == base["jam"].pk
    assert api_client.get("/api/v1/known-errors/suggest/?ci=abc").status_code == 400


def test_problem_manager_writes_and_publishing_is_recorded(base, make_user, api_client):
    api_client.force_authenticate(make_user(roles.PROBLEM_MANAGER))
    response = api_client.post(
        "/api/v1/known-errors/",
        {
            "title": "Disk full on build agents",
            "ci_types": ["ke-printer"],
            "cis": [base["printer"].pk],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["ci_types"] == ["ke-printer"] and body["cis"] == [base["printer"].pk]
    assert body["published"] is False
    known_error = KnownError.objects.get(pk=body["id"])
    response = api_client.patch(
        f"/api/v1/known-errors/{known_error.pk}/", {"published": True}, format="json"
    )
    assert response.status_code == 200 and response.json()["published_at"]
    assert entries_for(known_error).first().kind == "published"
    bad = api_client.post("/api/v1/known-errors/", {"title": "x", "cis": [999_999]}, format="json")
    assert bad.status_code == 400


def test_updates_keep_the_search_in_step(base):
    ps.known_error_update(
        context=SYSTEM, known_error_id=base["vpn"].pk, data={"title": "Wireless roaming fails"}
    )
    assert list(known_error_search(KnownError.objects.all(), "roaming")) == [base["vpn"]]
    assert list(known_error_search(KnownError.objects.all(), "vpn")) == []
