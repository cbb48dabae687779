"""Demo releases for `manage.py seed_demo`, made through the releases services by the demo's
Release Manager: a software-library reference and its package for each, one release waiting in
the Release Readiness Review (checklist partly ticked, no decision: tick, record go and deploy
it with the simulated executor in the UI), and one already deployed in two waves with the
simulated executor, run in-process by `run_until_quiet` (finished progress bars; the CIs'
history shows the release). The RFCs come from the changes demo, which runs before.
Idempotent: a release whose title exists is not created again.

Registered in `ReleasesConfig.ready()` as a `cmdb.demo.extensions` step.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from changes.models import Change, StandardChangeTemplate
from cmdb.models import ConfigurationItem, Department, Site
from itsm.audit import ChangeContext
from itsm.choices import ChangeSource

from . import services
from .choices import ReleaseStatus
from .engine.local import run_until_quiet
from .models import Release, ReleasePackage, SoftwareArtifact
from .rfc_link import APPROVED

RELEASE_MANAGER = "marta.kowalska"
#: The simulated executor without failures or delay, seeded: the same run every time.
SIMULATION = {"failure_rate": 0.0, "step_delay_ms": 0, "seed": "demo"}
AUTOMATIC = {"kind": "automatic", "min_success_pct": 100, "bake_minutes": 0}


@dataclass(frozen=True)
class DemoRelease:
    title: str
    rfc: str  # title of the changes demo's RFC it implements
    software: tuple[str, str, str]  # name, vendor, version
    licence: str
    source: str
    ci_type: str
    site: str = ""  # the targets: production CIs of this type (at this site, in that
    department: str = ""  # department when the demo has them)
    wave_plan: tuple[dict[str, Any], ...] = ()
    deploy: bool = False


READY = DemoRelease(
    title="VMware Tools 12.4 for the data-centre servers",
    rfc="Add two nodes to the VM cluster",
    software=("VMware Tools", "Broadcom", "12.4.0"),
    licence="VMware End User Licence Agreement",
    source="https://packages.broadcom.example/vmware-tools/",
    ci_type="server",
    site="Frankfurt data centre",
    wave_plan=(
        {"name": "Pilot", "selector": {"pilot": 1}, "gate": {"kind": "manual"}},
        {"name": "Remaining servers", "selector": {}, "gate": AUTOMATIC},
    ),
)
DEPLOYED = DemoRelease(
    title="Power BI Desktop 2.131 for the finance team",
    rfc="Install approved desktop software for the finance team",
    software=("Microsoft Power BI Desktop", "Microsoft", "2.131.1203.0"),
    licence="Microsoft Software Licence Terms",
    source="https://download.microsoft.example/power-bi-desktop/",
    ci_type="desktop",
    department="Finance",
    wave_plan=(
        {"name": "Pilot", "selector": {"pilot": 1}, "gate": AUTOMATIC},
        {"name": "Rest of the finance team", "selector": {}, "gate": AUTOMATIC},
    ),
    deploy=True,
)
#: Readiness checklist items ticked on the release left in readiness (the rest are not).
TICKED = ("deployment_order", "plans_signed_off", "resources")


def _context(user) -> ChangeContext:
    return ChangeContext(actor=user, source=ChangeSource.SYSTEM, source_ref="seed_demo")


def _target_filter(spec: DemoRelease) -> dict[str, Any]:
    """Production CIs of the type, narrowed to the site / department when the demo has it."""
    found: dict[str, Any] = {"ci_type": spec.ci_type, "status": "production"}
    site = Site.objects.filter(name=spec.site).first() if spec.site else None
    department = (
        Department.objects.filter(name=spec.department).first() if spec.department else None
    )
    if site is not None:
        found["site"] = site.pk
    if department is not None:
        found["department"] = department.pk
    return found


def _rfc(spec: DemoRelease, context: ChangeContext, cis: list[ConfigurationItem]) -> Change | None:
    """The changes demo's RFC if it is approved; else any approved RFC no release has taken;
    else a standard change from the catalogue, raised and approved through the changes
    services (None when there is no template either)."""
    free = Change.objects.filter(status__in=APPROVED, releases__isnull=True)
    change = free.filter(title=spec.rfc).first() or free.order_by("pk").first()
    if change is not None:
        return change
    template = StandardChangeTemplate.objects.filter(active=True).order_by("name").first()
    if template is None or context.actor is None:
        return None
    from changes import services as change_services

    # The Release Manager raises it; the system files it (a release role raises no RFCs).
    system = _context(None)
    change = change_services.change_create(
        context=system,
        title=spec.rfc,
        cis=cis[:5],
        originator=context.actor,
        change_type="standard",
        template=template,
    )
    return change_services.change_submit(context=system, change=change)


def _package(spec: DemoRelease, context: ChangeContext) -> ReleasePackage:
    """The library reference and the package (install, verify, backout), reused if there."""
    name, vendor, version = spec.software
    artifact = SoftwareArtifact.objects.filter(name=name, version=version).first()
    if artifact is None:
        artifact = services.artifact_create(
            context=context,
            name=name,
            version=version,
            author=vendor,
            source=spec.source,
            licence=spec.licence,
            description=f"{name} {version}, as published by {vendor} (demo reference).",
            reference_url=f"{spec.source}{version}/setup",
            sha256=hashlib.sha256(f"{name} {version}".encode()).hexdigest(),
            size=48 * 1024 * 1024,
        )
    package = ReleasePackage.objects.filter(name=name, version=version).first()
    if package is not None:
        return package
    software = {"name": name, "vendor": vendor, "version": version}
    return services.package_create(
        context=context,
        name=name,
        version=version,
        description=f"Installs {name} {version}; the backout removes it.",
        artifacts=[artifact],
        steps=[
            {
                "phase": "install",
                "name": f"Install {name} {version}",
                "module": "install_package",
                "params": software,
                "artifact": artifact,
                "condition": {"unless_installed": {"name": name, "version": version}},
            },
            {
                "phase": "verify",
                "name": f"Check {name} {version} is installed",
                "module": "check_software",
                "params": {"name": name, "version": version},
                "success_test": {"installed": {"name": name, "version": version}},
            },
            {
                "phase": "backout",
                "name": f"Remove {name}",
                "module": "remove_package",
                "params": {"name": name},
            },
        ],
    )


@transaction.atomic
def _to_readiness(spec: DemoRelease, context: ChangeContext) -> Release | None:
    """Create the release and take it through build and acceptance into readiness."""
    target_filter = _target_filter(spec)
    from .engine.planning import resolve_filter

    cis = list(resolve_filter(target_filter)[:5])
    if not cis:
        return None
    change = _rfc(spec, context, cis)
    if change is None:
        return None
    name, _, version = spec.software
    release = services.release_create(
        context=context,
        title=spec.title,
        description=f"Roll out {name} {version} ({change.number}).",
        release_type="minor",
        target_filter=target_filter,
        wave_plan=list(spec.wave_plan),
        communication="Notice to the users of the machines two days before.",
        support="The service desk has the known issues and the backout procedure.",
    )
    rid = release.pk
    services.release_add_change(context=context, release_id=rid, change_id=change.pk)
    services.release_task_add(context=context, release_id=rid, title="Write the run book")
    services.release_to_build(context=context, release_id=rid)
    services.release_update(
        context=context, release_id=rid, data={"package": _package(spec, context)}
    )
    services.release_to_acceptance(context=context, release_id=rid)
    services.test_result_record(
        context=context,
        release_id=rid,
        name="Install, verify and back out in the lab",
        passed=True,
        proves_backout=True,
    )
    return services.release_to_readiness(context=context, release_id=rid)


def _deploy(release: Release, context: ChangeContext) -> None:
    """Tick everything, record go, deploy with the simulated executor (in a transaction);
    then run the deployment to the end in this process."""
    from .models import ReadinessReview

    with transaction.atomic():
        services.readiness_update(
            context=context,
            release_id=release.pk,
            checklist={item: True for item in ReadinessReview.CHECKLIST},
        )
        services.readiness_decide(context=context, release_id=release.pk, decision="go")
        deployment = services.deployment_start(
            context=context, release_id=release.pk, executor="simulated", simulation=SIMULATION
        )
    run_until_quiet(deployment.pk)


def _finish(title: str) -> None:
    """A demo release left deploying (e.g. the year-end freeze held a wave back): run it on."""
    release = Release.objects.filter(title=title, status=ReleaseStatus.DEPLOYING).first()
    deployment = release and release.deployments.order_by("-created", "-id").first()
    if deployment is not None and deployment.executor == "simulated":
        run_until_quiet(deployment.pk)


def seed_releases() -> int:
    """Create the demo releases that are missing; answers how many were created."""
    user = get_user_model().objects.filter(username=RELEASE_MANAGER).first()
    context = _context(user)
    created = 0
    for spec in (DEPLOYED, READY):
        if Release.objects.filter(title=spec.title).exists():
            if spec.deploy:
                _finish(spec.title)
            continue
        release = _to_readiness(spec, context)
        if release is None:
            continue
        created += 1
        if spec.deploy:
            _deploy(release, context)
        else:
            services.readiness_update(
                context=context,
                release_id=release.pk,
                checklist={item: True for item in TICKED},
                notes="Waiting for the communications and the run-book training.",
            )
    return created


def seed_demo_step() -> list[tuple[str, int, int]]:
    """The `cmdb.demo.extensions` step: summary rows (label, created, total)."""
    created = seed_releases()
    return [("releases", created, Release.objects.count())]
