"""After a deployment, the next agent report is checked against what the release recorded."""

from __future__ import annotations

import pytest

from agents.choices import DiscrepancyKind
from agents.models import Discrepancy
from agents.sections import Outcome, _apply_software
from itsm.audit import ChangeContext
from releases import services
from releases.engine.local import run_until_quiet
from tests.releases.conftest import SYSTEM, make_release

pytestmark = pytest.mark.django_db

AGENT = ChangeContext(actor=None, source="agent", source_ref="report:1")
ALL = [{"name": "All", "selector": {}, "gate": {"kind": "automatic"}}]


def deployed(make_cis):
    (ci,) = make_cis(1)
    release = make_release(wave_plan=ALL)
    deployment = services.deployment_start(
        context=SYSTEM, release_id=release.pk, executor="simulated"
    )
    assert run_until_quiet(deployment.pk).status == "succeeded"
    return ci, release


def report(ci, software):
    out = Outcome()
    _apply_software(ci, software, AGENT, out, True)
    return out


def test_a_report_missing_what_the_release_installed_opens_a_discrepancy(make_cis):
    ci, release = deployed(make_cis)
    out = report(ci, [{"name": "acme-agent", "vendor": "Acme", "version": "1.9"}])
    item = Discrepancy.objects.get(kind=DiscrepancyKind.RELEASE_MISMATCH)
    assert item.ci == ci and release.number in item.message and "1.9" in item.message
    assert f"release_mismatch:{release.number}:acme-agent" in out.discrepancies


def test_a_report_that_agrees_opens_nothing(make_cis):
    ci, _ = deployed(make_cis)
    report(
        ci,
        [
            {"name": "acme-agent", "vendor": "Acme", "version": "2.0"},
            {"name": "vim", "vendor": "", "version": "9"},
        ],
    )
    assert not Discrepancy.objects.filter(kind=DiscrepancyKind.RELEASE_MISMATCH).exists()


def test_after_a_backout_the_release_expects_nothing(make_cis, release_manager):
    ci, release = deployed(make_cis)
    services.deployment_backout(context=ChangeContext(actor=release_manager), release_id=release.pk)
    run_until_quiet(release.deployments.get().pk)
    report(ci, [{"name": "other", "vendor": "", "version": "1"}])
    assert not Discrepancy.objects.filter(kind=DiscrepancyKind.RELEASE_MISMATCH).exists()
