"""Who may call each route of the CMDB API: generated from the router (tests/permission_matrix)."""

from __future__ import annotations

import pytest

from cmdb.api.urls import router
from itsm import roles
from tests.factories import CIFactory, CITypeFactory, RelationshipTypeFactory, link, server_type
from tests.permission_matrix import Matrix

pytestmark = pytest.mark.django_db


def _ci():
    return CIFactory(ci_type=server_type(), attributes={"os": "Debian"})


def _relationship():
    return link(_ci(), _ci(), "runs-on")


MATRIX = Matrix(
    router=router,
    prefix="/api/v1/cmdb/",
    objects={
        "ci": _ci,
        "citype": lambda: CITypeFactory(),
        "relationshiptype": lambda: RelationshipTypeFactory(),
        "relationship": _relationship,
    },
    writers={roles.CMDB_MANAGER},
    list_bodies={"PUT ci.software", "PUT ci.roles"},
    queries={"GET ci.as-of": "at=2026-01-01T00:00:00Z"},
)


@pytest.mark.parametrize("caller", MATRIX.callers)
@pytest.mark.parametrize("route", MATRIX.routes, ids=str)
def test_permission_matrix(route, caller, make_user):
    MATRIX.check(route, caller, make_user)


def test_the_matrix_covers_every_route():
    names = {str(route) for route in MATRIX.routes}
    assert {"GET ci.list", "POST ci.create", "DELETE ci.destroy", "POST ci.transition"} <= names
    assert "DELETE relationship.destroy" in names
