"""Who may call each route of the service-desk API: generated from the router."""

from __future__ import annotations

import pytest

from incidents import services
from incidents.api.urls import router
from incidents.models import QuickLogTemplate, SlaPolicy
from itsm import roles
from tests.permission_matrix import Matrix

from .conftest import SYSTEM

pytestmark = pytest.mark.django_db

STAFF_WRITERS = {roles.SERVICE_DESK, roles.PROBLEM_MANAGER}
WITH_END_USERS = STAFF_WRITERS | {roles.END_USER}


def _incident():
    return services.incident_open(context=SYSTEM, title="Matrix incident")


MATRIX = Matrix(
    router=router,
    prefix="/api/v1/",
    objects={
        "incident": _incident,
        "quicklogtemplate": lambda: QuickLogTemplate.objects.first(),
        "slapolicy": lambda: SlaPolicy.objects.first(),
    },
    writers=STAFF_WRITERS,
    readers={
        "incident": {
            name for name, perms in roles.ROLE_PERMISSIONS.items() if roles.READ_ALL in perms
        }
        | {roles.END_USER},
    },
    route_writers={
        "POST incident.create": WITH_END_USERS,
        "POST incident.confirm": WITH_END_USERS,
        "POST incident.reopen": WITH_END_USERS,
        "POST incident.worklog": WITH_END_USERS,
    },
    hidden={"incident": {roles.END_USER}},
)


@pytest.mark.parametrize("caller", MATRIX.callers)
@pytest.mark.parametrize("route", MATRIX.routes, ids=str)
def test_permission_matrix(route, caller, make_user):
    MATRIX.check(route, caller, make_user)


def test_the_matrix_covers_every_route():
    names = {str(route) for route in MATRIX.routes}
    assert {
        "GET incident.list",
        "POST incident.create",
        "PATCH incident.partial_update",
        "POST incident.assign",
        "POST incident.resolve",
        "POST incident.close",
        "POST incident.reopen",
        "POST incident.escalate",
        "POST incident.confirm",
        "GET incident.timeline",
        "POST incident.quick-log",
        "GET slapolicy.list",
    } <= names
