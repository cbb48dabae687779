"""Who may call each route of the change-management API, generated from the router
(tests/permission_matrix), with the writers of each workflow action.

Decided: Service Desk and Change Managers raise RFCs; CAB members vote and ask for information;
Change Managers schedule, close, keep the catalogue, blackouts and meetings; Change and Release
Managers record implementation and review. Acting on someone else's RFC (edit, submit, cancel,
delete, attach) is for its originator or a Change Manager: the matrix's RFC was raised by another
user, so Service Desk is refused there."""

from __future__ import annotations

import datetime as dt

import pytest

from changes import services
from changes.api.urls import router
from changes.models import ApprovalBody, ApprovalRule, Blackout, CabMeeting, StandardChangeTemplate
from itsm import roles
from tests.changes.conftest import NOW
from tests.factories import SYSTEM, CIFactory, CITypeFactory
from tests.permission_matrix import Matrix

pytestmark = pytest.mark.django_db

CM, SD, CAB, RM = (roles.CHANGE_MANAGER, roles.SERVICE_DESK, roles.CAB_MEMBER,
                   roles.RELEASE_MANAGER)  # fmt: skip


def _change():
    from django.contrib.auth import get_user_model

    originator = get_user_model().objects.create_user(
        username=f"originator{get_user_model().objects.count()}"
    )
    ci = CIFactory(ci_type=CITypeFactory(slug="box", name="Box"))
    return services.change_create(
        context=SYSTEM,
        originator=originator,
        title="Matrix",
        cis=[ci],
        implementation_plan="a",
        backout_plan="b",
        planned_start=NOW,
        planned_end=NOW + dt.timedelta(hours=1),
    )


def _template():
    return StandardChangeTemplate.objects.create(name=f"T{StandardChangeTemplate.objects.count()}")


def _blackout():
    return Blackout.objects.create(name="B", start=NOW, end=NOW + dt.timedelta(hours=1))


def _meeting():
    return CabMeeting.objects.create(body=ApprovalBody.objects.first(), title="M", start=NOW)


#: Writers per route, where they differ from the Change Manager alone.
ROUTE_WRITERS = {
    "POST change.create": {CM, SD},
    "POST change.votes": {CM, CAB},
    "POST change.request-info": {CM, CAB},
    "POST change.implement": {CM, RM},
    "POST change.review": {CM, RM},
    "POST change.impact/refresh": {CM, SD},
}


class ChangesMatrix(Matrix):
    def may(self, route, caller):
        if route.write and str(route) in ROUTE_WRITERS:
            return caller in ROUTE_WRITERS[str(route)]
        return super().may(route, caller)


MATRIX = ChangesMatrix(
    router=router,
    prefix="/api/v1/changes/",
    objects={
        "change": _change,
        "changetemplate": _template,
        "blackout": _blackout,
        "cabmeeting": _meeting,
        "approvalbody": lambda: ApprovalBody.objects.first(),
        "approvalrule": lambda: ApprovalRule.objects.first(),
    },
    writers={CM},
    queries={
        "GET change.conflicts": "start=2026-01-01T00:00:00Z&end=2026-02-01T00:00:00Z",
    },
)


@pytest.mark.parametrize("caller", MATRIX.callers)
@pytest.mark.parametrize("route", MATRIX.routes, ids=str)
def test_permission_matrix(route, caller, make_user):
    MATRIX.check(route, caller, make_user)


def test_the_matrix_covers_every_route():
    names = {str(route) for route in MATRIX.routes}
    assert {
        "POST change.create", "POST change.submit", "POST change.votes", "GET change.votes",
        "POST change.schedule", "POST change.review", "POST change.cancel", "GET change.impact",
        "GET change.log", "GET change.conflicts", "GET change.metrics",
    } <= names  # fmt: skip


def test_a_requester_acts_on_their_own_draft(make_user):
    from rest_framework.test import APIClient

    requester = make_user(SD)
    change = _change()
    change.originator = requester
    change.save()
    client = APIClient()
    client.force_authenticate(requester)
    assert (
        client.patch(f"/api/v1/changes/{change.pk}/", {"title": "Mine"}, format="json").status_code
        == 200
    )
    assert client.post(f"/api/v1/changes/{change.pk}/submit/").status_code == 200
