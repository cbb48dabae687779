"""Who may call each route of the release API: generated from the router."""

from __future__ import annotations

import pytest

from itsm import roles
from releases import services
from releases.api.urls import router
from releases.choices import ReleaseStatus
from releases.models import DeploymentTarget
from tests.factories import CIFactory, CITypeFactory
from tests.permission_matrix import Matrix
from tests.releases.conftest import SYSTEM, make_package, make_release

pytestmark = pytest.mark.django_db


def _target():
    ci_type = CITypeFactory(name="Workstation", slug="workstation")
    CIFactory(ci_type=ci_type)
    release = make_release()
    services.deployment_start(context=SYSTEM, release_id=release.pk, executor="simulated")
    return DeploymentTarget.objects.get()


def _artifact():
    return make_package().artifacts.get()


OBJECTS = {
    "release": lambda: make_release(status=ReleaseStatus.PLANNING),
    "softwareartifact": _artifact,
    "releasepackage": make_package,
    "deploymenttarget": _target,
}
MATRIX = Matrix(router=router, prefix="/api/v1/", objects=OBJECTS, writers={roles.RELEASE_MANAGER})
#: Deployment Technicians act on targets too.
TARGET_MATRIX = Matrix(
    router=router,
    prefix="/api/v1/",
    objects=OBJECTS,
    writers={roles.RELEASE_MANAGER, roles.DEPLOYMENT_TECHNICIAN},
)
TARGET_ACTIONS = {"POST deploymenttarget.retry", "POST deploymenttarget.backout"}


@pytest.mark.parametrize("caller", MATRIX.callers)
@pytest.mark.parametrize(
    "route", [r for r in MATRIX.routes if str(r) not in TARGET_ACTIONS], ids=str
)
def test_permission_matrix(route, caller, make_user):
    MATRIX.check(route, caller, make_user)


@pytest.mark.parametrize("caller", TARGET_MATRIX.callers)
@pytest.mark.parametrize(
    "route", [r for r in TARGET_MATRIX.routes if str(r) in TARGET_ACTIONS], ids=str
)
def test_technicians_act_on_targets(route, caller, make_user):
    TARGET_MATRIX.check(route, caller, make_user)


def test_the_matrix_covers_every_route():
    names = {str(route) for route in MATRIX.routes}
    assert {
        "POST release.deploy",
        "POST release.pause",
        "POST release.resume",
        "POST release.cancel",
        "POST release.backout",
        "GET release.progress",
        "GET release.readiness",
        "PUT release.readiness",
        "POST softwareartifact.create",
    } <= names
    # The library is never edited in place.
    assert not any(n.startswith(("PUT softwareartifact", "PATCH softwareartifact")) for n in names)
    assert "DELETE softwareartifact.destroy" not in names
