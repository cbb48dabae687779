"""The change-management API: drafts, workflow actions, votes, log, filters, catalogue."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from rest_framework.test import APIClient

from changes.choices import ChangeStatus
from changes.models import Change, StandardChangeTemplate, Vote
from itsm import roles
from tests.changes.conftest import NOW

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def draft_body(ci, **extra):
    return {
        "title": "Upgrade the database",
        "description": "PostgreSQL 16",
        "cis": [ci.pk],
        "implementation_plan": "pg_upgrade",
        "backout_plan": "Restore the snapshot",
        "change_type": "normal",
        "category": "software_update",
        "reason": "end_of_life",
        "priority": "routine",
        "estimated_hours": "3.50",
        "resources": "2 DBAs",
        "planned_start": (NOW + dt.timedelta(days=2)).isoformat(),
        "planned_end": (NOW + dt.timedelta(days=2, hours=3)).isoformat(),
        **extra,
    }


def test_create_read_edit_a_draft(requester, make_ci):
    client = api(requester)
    response = client.post("/api/v1/changes/", draft_body(make_ci()), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    for field in ("number", "title", "description", "originator", "cis", "implementation_plan",
                  "backout_plan", "change_type", "category", "reason", "priority",
                  "estimated_hours", "resources", "risk", "status", "planned_start",
                  "planned_end"):  # fmt: skip
        assert field in body, field
    assert body["status"] == "draft" and body["originator"] == requester.pk
    url = f"/api/v1/changes/{body['id']}/"
    patched = client.patch(url, {"title": "Upgrade PG", "version": body["version"]}, format="json")
    assert patched.status_code == 200 and patched.json()["title"] == "Upgrade PG"
    stale = client.patch(url, {"title": "Again", "version": body["version"]}, format="json")
    assert stale.status_code == 409
    assert client.patch(url, {"status": "approved"}, format="json").json()["status"] == "draft"
    assert client.get(url).status_code == 200


def test_a_window_that_ends_before_it_starts_is_a_400(requester, make_ci):
    body = draft_body(make_ci(), planned_end=(NOW - dt.timedelta(days=1)).isoformat())
    response = api(requester).post("/api/v1/changes/", body, format="json")
    assert response.status_code == 400
    assert "planned_end" in response.json()
    assert not Change.objects.exists()


def test_a_normal_change_without_plans_is_a_400_at_submit(requester, make_ci):
    client = api(requester)
    created = client.post(
        "/api/v1/changes/", draft_body(make_ci(), backout_plan=""), format="json"
    ).json()
    response = client.post(f"/api/v1/changes/{created['id']}/submit/")
    assert response.status_code == 400
    assert "backout_plan" in response.json()
    assert Change.objects.get().status == ChangeStatus.DRAFT


def test_submit_vote_and_log_through_the_api(
    requester, cab, make_ci, django_capture_on_commit_callbacks
):
    created = api(requester).post("/api/v1/changes/", draft_body(make_ci()), format="json").json()
    base = f"/api/v1/changes/{created['id']}"
    with django_capture_on_commit_callbacks(execute=True):
        submitted = api(requester).post(f"{base}/submit/")
    assert submitted.status_code == 200
    assert submitted.json()["status"] == "submitted"
    assert submitted.json()["approver"] == "cab"
    assert {m.to[0] for m in mail.outbox} == {u.email for u in cab}  # the approvers are told
    mail.outbox.clear()
    first = api(cab[0]).post(
        f"{base}/votes/", {"decision": "approve", "comment": "ok"}, format="json"
    )
    assert first.status_code == 201 and first.json()["change_status"] == "submitted"
    again = api(cab[0]).post(f"{base}/votes/", {"decision": "reject"}, format="json")
    assert again.status_code == 400
    assert (
        api(requester).post(f"{base}/votes/", {"decision": "approve"}, format="json").status_code
        == 403
    )
    bad = api(cab[1]).post(f"{base}/votes/", {"decision": "perhaps"}, format="json")
    assert bad.status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        second = api(cab[1]).post(f"{base}/votes/", {"decision": "approve"}, format="json")
    assert second.json()["change_status"] == "approved"
    assert [m.to for m in mail.outbox] == [[requester.email]]  # the requester hears
    votes = api(requester).get(f"{base}/votes/").json()
    assert [v["comment"] for v in votes["results"]] == ["ok", ""]
    late = api(cab[2]).post(f"{base}/votes/", {"decision": "reject"}, format="json")
    assert late.status_code == 400
    log = api(requester).get(f"{base}/log/").json()
    assert [e["kind"] for e in log["results"]] == [
        "approved", "vote", "vote", "submitted", "impact", "created",
    ]  # fmt: skip
    assert Vote.objects.count() == 2


def test_request_info_and_resubmit(requester, cab, make_ci, django_capture_on_commit_callbacks):
    created = api(requester).post("/api/v1/changes/", draft_body(make_ci()), format="json").json()
    base = f"/api/v1/changes/{created['id']}"
    api(requester).post(f"{base}/submit/")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        asked = api(cab[0]).post(
            f"{base}/request-info/", {"comment": "Which version?"}, format="json"
        )
    assert asked.status_code == 200 and asked.json()["status"] == "info_requested"
    assert [m.to for m in mail.outbox] == [[requester.email]]
    assert (
        api(cab[0]).post(f"{base}/votes/", {"decision": "approve"}, format="json").status_code
        == 400
    )
    again = api(requester).post(f"{base}/resubmit/", {"comment": "16.2"}, format="json")
    assert again.status_code == 200 and again.json()["vote_round"] == 2


def test_the_whole_way_to_closed(approved, manager, requester, django_capture_on_commit_callbacks):
    change = approved()
    client = api(manager)
    base = f"/api/v1/changes/{change.pk}"
    start = NOW + dt.timedelta(days=5)
    mail.outbox.clear()
    window = {"start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat()}
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"{base}/schedule/", window, format="json").status_code == 200
    assert [m.to for m in mail.outbox] == [[requester.email]]  # no implementer: the requester
    assert client.post(f"{base}/close/").status_code == 400
    assert client.post(f"{base}/implement/", {"note": "done"}, format="json").status_code == 200
    bad = client.post(f"{base}/review/", {"outcome": "meh"}, format="json")
    assert bad.status_code == 400
    reviewed = client.post(f"{base}/review/", {"outcome": "failed", "incidents": []}, format="json")
    assert reviewed.json()["outcome"] == "failed"
    assert client.post(f"{base}/close/").json()["status"] == "closed"
    assert client.post(f"{base}/cancel/").status_code == 400


def test_cancel_and_delete(make_change, requester):
    client = api(requester)
    draft = make_change()
    assert client.delete(f"/api/v1/changes/{draft.pk}/").status_code == 204
    other = make_change()
    assert client.post(f"/api/v1/changes/{other.pk}/cancel/", {"reason": "no longer"},
                       format="json").json()["status"] == "cancelled"  # fmt: skip
    assert client.delete(f"/api/v1/changes/{other.pk}/").status_code == 400


def test_filters(submitted, make_change, make_ci, requester):
    ci = make_ci()
    a = submitted(cis=[ci], title="Alpha")
    b = make_change(title="Beta", priority="urgent")
    client = api(requester)

    def ids(query):
        response = client.get("/api/v1/changes/?" + query)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids("status=submitted") == {a.pk}
    assert ids("priority=urgent") == {b.pk}
    assert ids(f"ci={ci.pk}") == {a.pk}
    assert ids("q=beta") == {b.pk}
    assert ids(f"q={a.number}") == {a.pk}
    assert ids(f"originator={requester.pk}&change_type=normal") == {a.pk, b.pk}
    window = (NOW + dt.timedelta(days=1, hours=1)).isoformat().replace("+00:00", "Z")
    assert ids(f"planned_after={window}") == {a.pk, b.pk}
    assert ids(f"planned_before={window}") == {a.pk, b.pk}
    assert client.get("/api/v1/changes/?stauts=submitted").status_code == 400
    assert client.get("/api/v1/changes/?status=bogus").status_code == 400
    assert client.get("/api/v1/changes/?ordering=secret").status_code == 400


def test_awaiting_my_vote(submitted, cab):
    change = submitted()
    rows = api(cab[0]).get("/api/v1/changes/awaiting-my-vote/").json()["results"]
    assert [r["id"] for r in rows] == [change.pk]


def test_templates_blackouts_and_meetings(manager, requester, submitted, cab, cab_body):
    client = api(manager)
    template = client.post("/api/v1/changes/templates/", {"name": "Reboot a printer",
                           "category": "other", "implementation_plan": "Reboot"}, format="json")  # fmt: skip
    assert template.status_code == 201
    assert (
        api(requester).post("/api/v1/changes/templates/", {"name": "x"}, format="json").status_code
        == 403
    )
    blackout = client.post("/api/v1/changes/blackouts/", {"name": "Freeze",
        "start": NOW.isoformat(), "end": (NOW - dt.timedelta(hours=1)).isoformat()}, format="json")  # fmt: skip
    assert blackout.status_code == 400
    blackout = client.post("/api/v1/changes/blackouts/", {"name": "Freeze",
        "start": NOW.isoformat(), "end": (NOW + dt.timedelta(days=1)).isoformat()}, format="json")  # fmt: skip
    assert blackout.status_code == 201
    change = submitted()
    meeting = client.post("/api/v1/changes/cab-meetings/", {"body": cab_body.pk, "title": "CAB",
                          "start": NOW.isoformat()}, format="json")  # fmt: skip
    assert meeting.status_code == 201
    assert [i["change"] for i in meeting.json()["items"]] == [change.pk]
    decided = client.post(f"/api/v1/changes/cab-meetings/{meeting.json()['id']}/decision/",
                          {"change": change.pk, "decision": "reject", "notes": "Too risky"},
                          format="json")  # fmt: skip
    assert decided.status_code == 200
    assert decided.json()["items"][0]["decision"] == "reject"
    assert Change.objects.get(pk=change.pk).status == "rejected"
    minutes = client.post(
        f"/api/v1/changes/cab-meetings/{meeting.json()['id']}/minutes/",
        {"minutes": "Rejected RFC for risk."},
        format="json",
    )
    assert minutes.status_code == 200 and minutes.json()["minutes"] == "Rejected RFC for risk."
    assert (
        api(requester)
        .post(
            f"/api/v1/changes/cab-meetings/{meeting.json()['id']}/minutes/",
            {"minutes": "x"},
            format="json",
        )
        .status_code
        == 403
    )


def test_a_used_template_is_not_deleted(manager, make_change):
    template = StandardChangeTemplate.objects.first()
    make_change(change_type="standard", template=template)
    assert api(manager).delete(f"/api/v1/changes/templates/{template.pk}/").status_code == 409


def test_attachments(make_change, requester, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path)}}}  # fmt: skip
    change = make_change()
    client = api(requester)
    upload = SimpleUploadedFile("plan.txt", b"step 1", content_type="text/plain")
    response = client.post(f"/api/v1/changes/{change.pk}/attachments/", {"file": upload},
                           format="multipart")  # fmt: skip
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "plan.txt"
    listed = client.get(f"/api/v1/changes/{change.pk}/attachments/").json()
    assert listed["count"] == 1


def test_metrics_api(requester):
    client = api(requester)
    response = client.get("/api/v1/changes/metrics/")
    assert response.status_code == 200
    assert {"emergency_ratio", "success_rate", "mean_lead_time_hours", "causing_incidents"} <= set(
        response.json()
    )
    assert client.get("/api/v1/changes/metrics/?start=bad").status_code == 400
    assert (
        client.get(
            "/api/v1/changes/metrics/?start=2026-02-01T00:00:00Z&end=2026-01-01T00:00:00Z"
        ).status_code
        == 400
    )


def test_service_desk_may_raise_rfcs_but_cab_members_may_not(make_user, make_ci):
    body = draft_body(make_ci())
    assert (
        api(make_user(roles.CAB_MEMBER)).post("/api/v1/changes/", body, format="json").status_code
        == 403
    )
    assert (
        api(make_user(roles.READ_ONLY)).post("/api/v1/changes/", body, format="json").status_code
        == 403
    )
    assert (
        api(make_user(roles.CHANGE_MANAGER))
        .post("/api/v1/changes/", body, format="json")
        .status_code
        == 201
    )
