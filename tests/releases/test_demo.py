"""The demo step of release management: a release in readiness and one deployed in two waves
with the simulated executor, made through the services on the changes demo's RFCs; a second
run creates nothing."""

from __future__ import annotations

import pytest

from changes import demo as changes_demo
from changes.models import Blackout, Change
from cmdb import demo as cmdb_demo
from cmdb.models import CIType, ConfigurationItem, HistoryEntry
from itsm import roles
from releases import demo
from releases.choices import DeploymentStatus, ReleaseStatus, TargetState, WaveStatus
from releases.models import ReadinessReview, Release, SoftwareArtifact

pytestmark = pytest.mark.django_db


def _people_and_cis(make_user, *, with_changes_demo: bool = True) -> None:
    make_user(roles.RELEASE_MANAGER, username=demo.RELEASE_MANAGER)
    make_user(roles.SERVICE_DESK, username=changes_demo.REQUESTER)
    make_user(roles.CHANGE_MANAGER, username=changes_demo.MANAGER)
    for name in changes_demo.CAB:
        make_user(roles.CAB_MEMBER, username=name)
    for key, count in (("database", 2), ("network-device", 2), ("server", 2), ("desktop", 3)):
        ci_type = CIType.objects.get(builtin_key=key)
        for i in range(count):
            # set-up only: the types' schemas do not matter to the steps
            ConfigurationItem.objects.create(
                ci_type=ci_type, name=f"{key}-{i}", status="production"
            )
    # A disposed desktop is no target.
    ConfigurationItem.objects.create(
        ci_type=CIType.objects.get(builtin_key="desktop"), name="desktop-old", status="disposed"
    )
    if with_changes_demo:
        changes_demo.seed_demo_step()
        # The year-end freeze would hold the rest wave back when the suite runs in late
        # December (the step then finishes the deployment on a later run).
        Blackout.objects.all().delete()


def test_the_demo_step_is_registered_and_idempotent(make_user):
    assert demo.seed_demo_step in cmdb_demo.extensions
    _people_and_cis(make_user)

    assert demo.seed_demo_step() == [("releases", 2, 2)]
    assert demo.seed_demo_step() == [("releases", 0, 2)]

    assert Release.objects.filter(title=demo.DEPLOYED.title).count() == 1
    assert Release.objects.filter(title=demo.READY.title).count() == 1
    assert SoftwareArtifact.objects.count() == 2

    deployed = Release.objects.get(title=demo.DEPLOYED.title)
    assert deployed.status == ReleaseStatus.DEPLOYED
    deployment = deployed.deployments.get()
    assert deployment.executor == "simulated" and deployment.status == DeploymentStatus.SUCCEEDED
    waves = list(deployment.waves.order_by("order"))
    assert [(w.name, w.status, w.targets.count()) for w in waves] == [
        ("Pilot", WaveStatus.SUCCEEDED, 1),
        ("Rest of the finance team", WaveStatus.SUCCEEDED, 2),
    ]
    assert {t.state for t in deployment.targets.all()} == {TargetState.SUCCEEDED}
    assert "desktop-old" not in deployment.targets.values_list("ci__name", flat=True)
    rfc = deployed.changes.get()
    assert (rfc.title, rfc.status) == (demo.DEPLOYED.rfc, "implemented")
    # The CIs' history shows the release.
    ci_ids = list(deployment.targets.values_list("ci_id", flat=True))
    assert HistoryEntry.objects.filter(
        source="release", source_ref=deployed.number, ci__in=ci_ids
    ).exists()

    ready = Release.objects.get(title=demo.READY.title)
    assert ready.status == ReleaseStatus.READINESS and not ready.deployments.exists()
    assert ready.changes.get().status in ("approved", "scheduled")
    review = ReadinessReview.objects.get(release=ready)
    assert review.decision == ""
    ticked = [item for item in ReadinessReview.CHECKLIST if getattr(review, item)]
    assert ticked == list(demo.TICKED)
    assert ready.package.steps.filter(phase="backout").exists()
    assert ready.test_results.filter(passed=True, proves_backout=True).exists()


def test_without_an_approved_rfc_a_standard_change_is_raised(make_user):
    _people_and_cis(make_user, with_changes_demo=False)

    assert demo.seed_demo_step() == [("releases", 2, 2)]

    for spec in (demo.DEPLOYED, demo.READY):
        rfc = Release.objects.get(title=spec.title).changes.get()
        assert rfc.title == spec.rfc and rfc.change_type == "standard"
    assert Change.objects.count() == 2
    assert Release.objects.get(title=demo.DEPLOYED.title).status == ReleaseStatus.DEPLOYED
