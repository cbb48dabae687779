"""Fixtures of release management: people in each role, target CIs, an approved RFC, a
package, and a release brought to readiness with a "go"."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from changes.models import Change
from itsm import roles
from itsm.audit import ChangeContext
from releases import services
from releases.choices import ReleaseStatus
from releases.models import ReadinessReview
from tests.factories import CIFactory, CITypeFactory

SYSTEM = ChangeContext(actor=None, source="system")

INSTALL_STEPS = [
    {
        "phase": "install",
        "name": "Install the patch",
        "module": "install_package",
        "params": {"name": "acme-agent", "vendor": "Acme", "version": "2.0"},
        "condition": {"unless_installed": {"name": "acme-agent", "version": "2.0"}},
    },
    {
        "phase": "install",
        "name": "Restart",
        "module": "shell",
        "params": {"cmd": "systemctl restart acme"},
    },
    {
        "phase": "verify",
        "name": "Check it runs",
        "module": "check_software",
        "params": {"name": "acme-agent", "version": "2.0"},
        "success_test": {"installed": {"name": "acme-agent", "version": "2.0"}},
    },
    {
        "phase": "backout",
        "name": "Remove the patch",
        "module": "remove_package",
        "params": {"name": "acme-agent"},
    },
]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    """Uploaded artifacts go to a temporary directory, not the checkout."""
    settings.MEDIA_ROOT = tmp_path / "media"


def ctx(user=None) -> ChangeContext:
    return ChangeContext(actor=user, source="api")


@pytest.fixture
def release_manager(make_user):
    return make_user(roles.RELEASE_MANAGER)


@pytest.fixture
def technician(make_user):
    return make_user(roles.DEPLOYMENT_TECHNICIAN)


@pytest.fixture
def box_type(db):
    return CITypeFactory(name="Workstation", slug="workstation")


@pytest.fixture
def make_cis(box_type):
    def factory(n: int, **kw):
        return [CIFactory(ci_type=box_type, **kw) for _ in range(n)]

    return factory


_counter = {"n": 0}


def approved_change(status: str = "approved", **kw) -> Change:
    from django.contrib.auth.models import User

    _counter["n"] += 1
    kw.setdefault("originator", User.objects.get_or_create(username="rfc-originator")[0])
    return Change.objects.create(
        number=f"RFC-T{_counter['n']:05d}", title="Patch acme", status=status, **kw
    )


def make_package(steps=INSTALL_STEPS, name="acme-agent", version=None):
    _counter["n"] += 1
    version = version or f"2.0.{_counter['n']}"
    artifact = services.artifact_create(
        context=SYSTEM,
        name=name,
        version=version,
        author="Acme",
        source="https://acme.example/",
        licence="MIT",
        file=SimpleUploadedFile("acme.deb", b"package bytes " + version.encode()),
    )
    return services.package_create(
        context=SYSTEM, name=name, version=version, artifacts=[artifact], steps=steps
    )


def make_release(
    *,
    steps=INSTALL_STEPS,
    wave_plan=None,
    status=ReleaseStatus.READINESS,
    go=True,
    proven=True,
    target_filter=None,
):
    """A release with an approved RFC and a package, moved up to `status` (readiness with a
    "go" by default)."""
    CITypeFactory(name="Workstation", slug="workstation")
    release = services.release_create(
        context=SYSTEM,
        title="Acme agent 2.0",
        target_filter=target_filter if target_filter is not None else {"ci_type": "workstation"},
        wave_plan=wave_plan or [],
    )
    if status == ReleaseStatus.PLANNING:
        return release
    services.release_add_change(
        context=SYSTEM, release_id=release.pk, change_id=approved_change().pk
    )
    services.release_to_build(context=SYSTEM, release_id=release.pk)
    services.release_update(
        context=SYSTEM, release_id=release.pk, data={"package": make_package(steps)}
    )
    if status == ReleaseStatus.BUILD:
        return release
    services.release_to_acceptance(context=SYSTEM, release_id=release.pk)
    services.test_result_record(
        context=SYSTEM,
        release_id=release.pk,
        name="Install and back out in the lab",
        passed=True,
        proves_backout=proven,
    )
    if status == ReleaseStatus.ACCEPTANCE:
        return release
    services.release_to_readiness(context=SYSTEM, release_id=release.pk)
    if go:
        services.readiness_update(
            context=SYSTEM,
            release_id=release.pk,
            checklist={item: True for item in ReadinessReview.CHECKLIST},
        )
        services.readiness_decide(context=SYSTEM, release_id=release.pk, decision="go")
    release.refresh_from_db()
    return release


AUTO = {"kind": "automatic", "min_success_pct": 100, "bake_minutes": 0, "max_new_incidents": 0}
TWO_WAVES_AUTO = [
    {"name": "Pilot", "selector": {"pilot": 1}, "gate": AUTO},
    {"name": "Rest", "selector": {}, "gate": AUTO},
]
