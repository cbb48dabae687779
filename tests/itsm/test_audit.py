"""The one audit log (itsm.audit): request ids, record/entries_for, the old names still
importable, what the agents and CMDB services record, and an admin that cannot forge it."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agents import services as agent_services
from agents.models import Agent, Discrepancy
from cmdb import services as cmdb_services
from cmdb.models import ConfigurationItem, HistoryEntry
from itsm.audit import ChangeContext, current_request_id, entries_for, record, request_id_var
from itsm.exceptions import PermissionDeniedError
from itsm.models import AuditEntry
from itsm.permissions import require_permission
from tests.agents.conftest import make_agent, public_b64
from tests.factories import SYSTEM, CIFactory, server_type

pytestmark = pytest.mark.django_db


# --- request ids --------------------------------------------------------------------------


def test_every_response_carries_a_request_id(client):
    first, second = client.get("/healthz"), client.get("/healthz")
    assert len(first["X-Request-ID"]) == 32
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_a_well_formed_incoming_request_id_is_kept_and_a_bad_one_replaced(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="lb-42.abc")["X-Request-ID"] == "lb-42.abc"
    forged = client.get("/healthz", HTTP_X_REQUEST_ID="<script>" + "x" * 100)["X-Request-ID"]
    assert forged != "<script>" and len(forged) == 32


def test_changes_made_in_a_request_carry_its_id(manager_api):
    server_type()
    response = manager_api.post(
        "/api/v1/cmdb/cis/",
        {"name": "web-01", "ci_type": "test-server", "attributes": {"os": "Debian"}},
        format="json",
        HTTP_X_REQUEST_ID="req-123",
    )
    assert response.status_code == 201, response.content
    assert response["X-Request-ID"] == "req-123"
    entry = HistoryEntry.objects.get(ci_id=response.json()["id"])
    assert entry.request_id == "req-123"
    history = manager_api.get(f"/api/v1/cmdb/cis/{entry.object_id}/history/").json()
    assert history["results"][0]["request_id"] == "req-123"
    assert current_request_id() == ""  # reset after the request


def test_change_context_takes_the_request_id_of_its_moment():
    token = request_id_var.set("abc")
    try:
        assert ChangeContext().request_id == "abc"
    finally:
        request_id_var.reset(token)
    assert ChangeContext().request_id == ""


# --- record and read ----------------------------------------------------------------------


def test_record_and_read_per_object(make_user):
    user = make_user(None)
    ci_a = CIFactory(ci_type=server_type(), attributes={"os": "x"})
    ci_b = CIFactory(ci_type=server_type(), attributes={"os": "x"})
    context = ChangeContext(actor=user, source="api", source_ref="RFC-7", reason="planned")
    entry = record(
        obj=user, kind="updated", changes={"email": {"old": "", "new": "a@b"}}, context=context
    )
    assert (entry.actor_name, entry.source, entry.source_ref, entry.reason) == (
        user.username,
        "api",
        "RFC-7",
        "planned",
    )
    assert list(entries_for(user)) == [entry]
    # the same id in another table is another object
    assert entry not in entries_for(ci_a) and entries_for(ci_b).filter(kind="updated").count() == 0


def test_old_names_still_import_from_cmdb():
    from cmdb import history, services

    assert history.ChangeContext is ChangeContext
    assert services.require_permission is require_permission
    for name in ("record_change", "new_entry", "record_many", "collected_history"):
        assert callable(getattr(history, name))


def test_require_permission_refuses_a_user_without_it(make_user):
    with pytest.raises(PermissionDeniedError):
        require_permission(ChangeContext(actor=make_user(None)), "cmdb.add_citype")
    require_permission(ChangeContext(), "cmdb.add_citype")  # the system itself may act


# --- what services record -----------------------------------------------------------------


def test_agent_approval_and_revocation_are_recorded(cmdb_manager):
    agent = make_agent(status="pending").agent
    context = ChangeContext(actor=cmdb_manager, source="api")
    agent_services.agent_approve(context=context, agent_id=agent.pk)
    agent_services.agent_revoke(context=context, agent_id=agent.pk)
    kinds = [(e.kind, e.changes["status"]["new"], e.actor) for e in entries_for(agent)]
    assert kinds == [("revoked", "revoked", cmdb_manager), ("approved", "active", cmdb_manager)]


def test_key_rotation_is_recorded(client):
    signed = make_agent()
    new_key = Ed25519PrivateKey.generate()
    new_public = public_b64(new_key)
    message = agent_services.rotation_message(signed.agent.key_id, new_public)
    proof = base64.b64encode(new_key.sign(message)).decode()
    response = signed.post(
        client, {"public_key": new_public, "proof": proof}, path="/api/v1/agents/rotate-key/"
    )
    assert response.status_code == 200, response.content
    entry = entries_for(Agent.objects.get()).get()
    assert entry.kind == "key_rotated" and entry.source == "agent"
    assert entry.changes["public_key"]["new"] == new_public
    assert entry.request_id == response["X-Request-ID"]


def test_discrepancy_close_is_recorded(cmdb_manager):
    from django.utils import timezone

    ci = CIFactory(ci_type=server_type(), attributes={"os": "x"})
    item = Discrepancy.objects.create(
        ci=ci, kind="unapproved_software", key="", message="m", last_seen=timezone.now()
    )
    agent_services.discrepancy_close(
        context=ChangeContext(actor=cmdb_manager, reason="known"),
        discrepancy_id=item.pk,
        status="accepted",
        resolution="expected",
    )
    entry = entries_for(item).get()
    assert entry.kind == "closed" and entry.changes["status"]["new"] == "accepted"
    assert entry.reason == "known" and entry.actor == cmdb_manager


def test_ci_type_creation_is_recorded():
    ci_type = cmdb_services.ci_type_create(context=SYSTEM, name="Label maker", slug="label-maker")
    entry = entries_for(ci_type).get()
    assert entry.kind == "created" and entry.changes["slug"] == {"old": None, "new": "label-maker"}


# --- the admin cannot forge the audit trail -----------------------------------------------


@pytest.mark.parametrize(
    "model",
    [
        "itsm/auditentry",
        "cmdb/historyentry",
        "cmdb/statuschange",
        "agents/securityevent",
        "agents/inventoryreport",
        "agents/cievent",
    ],
)
def test_audit_tables_are_read_only_in_the_admin(admin_client, model):
    ci = CIFactory(ci_type=server_type(), attributes={"os": "x"})
    cmdb_services.ci_transition(context=SYSTEM, ci_id=ci.pk, to_status="received")
    assert admin_client.get(f"/admin/{model}/").status_code == 200
    assert admin_client.get(f"/admin/{model}/add/").status_code == 403
    assert admin_client.post(f"/admin/{model}/add/", {}).status_code == 403
    if model in ("itsm/auditentry", "cmdb/historyentry", "cmdb/statuschange"):
        # the CI's lifecycle move: a StatusChange row and its audit entry
        pk = ci.status_changes.get().pk if "status" in model else AuditEntry.objects.latest("id").pk
        view = admin_client.get(f"/admin/{model}/{pk}/change/")
        assert view.status_code == 200 and b'name="_save"' not in view.content
        forged = admin_client.post(f"/admin/{model}/{pk}/change/", {"kind": "deleted"})
        assert forged.status_code == 403
        assert admin_client.post(f"/admin/{model}/{pk}/delete/", {"post": "yes"}).status_code == 403
    assert ConfigurationItem.objects.filter(pk=ci.pk).exists()


def test_reference_tables_edited_in_the_admin_are_recorded(admin_client, admin_user):
    from cmdb.models import FieldOwner

    owner = FieldOwner.objects.get(ci_type=None, field="hostname")
    url = f"/admin/cmdb/fieldowner/{owner.pk}/change/"
    response = admin_client.post(url, {"ci_type": "", "field": "hostname", "owner": "people"})
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = entries_for(owner).get()
    assert (entry.kind, entry.source, entry.actor) == ("updated", "admin", admin_user)
    assert entry.changes == {"owner": {"old": "agent", "new": "people"}}
    admin_client.post(f"/admin/cmdb/fieldowner/{owner.pk}/delete/", {"post": "yes"})
    assert entries_for(owner).first().kind == "deleted"


@pytest.mark.django_db
def test_changes_with_dates_are_stored_by_one_entry_and_by_many():
    """The same `changes` go through record() and record_many(): dates become ISO text."""
    import datetime as dt

    from django.contrib.auth import get_user_model

    from itsm.audit import ChangeContext, entries_for, new, record, record_many

    user = get_user_model().objects.create_user("dated")
    when = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
    context = ChangeContext(source="system")
    record(obj=user, kind="updated", changes={"at": {"old": None, "new": when}}, context=context)
    record_many([new(obj=user, kind="updated", changes={"at": {"new": when}}, context=context)] * 2)
    stored = [e.changes["at"]["new"] for e in entries_for(user)]
    assert stored == ["2026-12-04T12:00:00Z"] * 3
