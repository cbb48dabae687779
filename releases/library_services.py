"""The definitive software library (artifacts: created, never edited) and release packages."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from itsm.audit import ChangeContext, record
from itsm.exceptions import ApplicationError, ConflictError
from itsm.permissions import require_permission

from .choices import StepModule, StepPhase
from .models import PackageStep, ReleasePackage, SoftwareArtifact

__all__ = [
    "artifact_create",
    "package_create",
    "package_set_steps",
]

SHA256 = re.compile(r"^[0-9a-f]{64}$")
REQUIRED = ("name", "version", "author", "source", "licence")


def _digest(upload: UploadedFile) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
    upload.seek(0)
    return digest.hexdigest(), size


@transaction.atomic
def artifact_create(
    *,
    context: ChangeContext,
    name: str,
    version: str,
    author: str,
    source: str,
    licence: str,
    description: str = "",
    file: UploadedFile | None = None,
    reference_url: str = "",
    sha256: str = "",
    size: int | None = None,
) -> SoftwareArtifact:
    """Add a version of an artifact to the library: an uploaded file (its SHA-256 computed
    here from the bytes; a `sha256` sent with it must match, else 400) or a reference URL with
    the SHA-256 its publisher gives. Name and version are unique (a new version, never an
    edit: an existing pair answers 409)."""
    require_permission(context, "releases.add_softwareartifact")
    values = {
        "name": name,
        "version": version,
        "author": author,
        "source": source,
        "licence": licence,
    }
    missing = [k for k in REQUIRED if not str(values[k] or "").strip()]
    if missing:
        raise ApplicationError(
            f"Required: {', '.join(missing)}.", extra={k: ["Required."] for k in missing}
        )
    claimed = (sha256 or "").strip().lower()
    if claimed and not SHA256.match(claimed):
        raise ApplicationError("sha256 is 64 hexadecimal digits.", extra={"sha256": ["Invalid."]})
    if bool(file) == bool(reference_url):
        raise ApplicationError("Give either a file or a reference URL.")
    if file:
        computed, computed_size = _digest(file)
        if claimed and claimed != computed:
            raise ApplicationError(
                "The checksum sent does not match the file's.",
                extra={"sha256": [f"The file's SHA-256 is {computed}."]},
            )
        claimed, size = computed, computed_size
    elif not claimed:
        raise ApplicationError(
            "A reference needs the SHA-256 of what it points to.",
            extra={"sha256": ["Required with a reference."]},
        )
    if SoftwareArtifact.objects.filter(name=name.strip(), version=version.strip()).exists():
        raise ConflictError(
            f"{name} {version} is already in the library: artifacts are never replaced, "
            "add a new version."
        )
    artifact = SoftwareArtifact(
        **{k: str(v).strip() for k, v in values.items()},
        description=description,
        reference_url=reference_url,
        sha256=claimed,
        size=size or 0,
        created_by=context.actor,
    )
    artifact.full_clean(exclude=["file", "sha256"])
    try:
        with transaction.atomic():
            if file:
                artifact.file.save(file.name or "artifact", file, save=False)
            artifact.save()
    except IntegrityError as exc:
        raise ConflictError(f"{name} {version} is already in the library.") from exc
    record(
        obj=artifact,
        kind="created",
        changes={
            "sha256": {"old": None, "new": artifact.sha256},
            "size": {"old": None, "new": artifact.size},
        },
        context=context,
    )
    return artifact


def _check_step(index: int, step: Mapping[str, Any]) -> dict[str, Any]:
    where = f"Step {index + 1}"
    phase = step.get("phase", StepPhase.INSTALL)
    module = step.get("module")
    if phase not in StepPhase.values:
        raise ApplicationError(f"{where}: phase is install, verify or backout.")
    if module not in StepModule.values:
        raise ApplicationError(f"{where}: module is one of {', '.join(StepModule.values)}.")
    if not str(step.get("name") or "").strip():
        raise ApplicationError(f"{where}: a name is required.")
    for key in ("params", "condition", "success_test"):
        if not isinstance(step.get(key) or {}, dict):
            raise ApplicationError(f"{where}: {key} is an object.")
    condition = step.get("condition") or {}
    if set(condition) - {"unless_installed"}:
        raise ApplicationError(f"{where}: the only condition is unless_installed.")
    if "unless_installed" in condition and not (condition["unless_installed"] or {}).get("name"):
        raise ApplicationError(f"{where}: unless_installed needs a name.")
    return {
        "phase": phase,
        "module": module,
        "name": str(step["name"]).strip()[:200],
        "params": step.get("params") or {},
        "condition": condition,
        "success_test": step.get("success_test") or {},
        "artifact": step.get("artifact"),
        "idempotent": bool(step.get("idempotent", True)),
    }


@transaction.atomic
def package_create(
    *,
    context: ChangeContext,
    name: str,
    version: str,
    description: str = "",
    artifacts: Iterable[SoftwareArtifact] = (),
    steps: Sequence[Mapping[str, Any]] = (),
) -> ReleasePackage:
    """Build a package from library artifacts, with its ordered install, verify and backout
    steps."""
    require_permission(context, "releases.add_releasepackage")
    if not (name or "").strip() or not (version or "").strip():
        raise ApplicationError("A package needs a name and a version.")
    if ReleasePackage.objects.filter(name=name.strip(), version=version.strip()).exists():
        raise ConflictError(f"Package {name} {version} exists already.")
    package = ReleasePackage.objects.create(
        name=name.strip()[:200],
        version=version.strip()[:100],
        description=description,
        created_by=context.actor,
    )
    package.artifacts.set(list(artifacts))
    _write_steps(package, steps)
    record(
        obj=package,
        kind="created",
        changes={"artifacts": {"added": [str(a) for a in package.artifacts.all()]}},
        context=context,
    )
    return package


def _write_steps(package: ReleasePackage, steps: Sequence[Mapping[str, Any]]) -> None:
    cleaned = [_check_step(i, s) for i, s in enumerate(steps)]
    artifacts = set(package.artifacts.values_list("pk", flat=True))
    counters: dict[str, int] = {}
    rows = []
    for item in cleaned:
        artifact = item.pop("artifact")
        artifact_id = getattr(artifact, "pk", artifact)
        if artifact_id is not None and artifact_id not in artifacts:
            raise ApplicationError(f"Step “{item['name']}” uses an artifact not in the package.")
        counters[item["phase"]] = counters.get(item["phase"], 0) + 1
        rows.append(
            PackageStep(
                package=package, order=counters[item["phase"]], artifact_id=artifact_id, **item
            )
        )
    PackageStep.objects.bulk_create(rows)


@transaction.atomic
def package_set_steps(
    *, context: ChangeContext, package_id: int, steps: Sequence[Mapping[str, Any]]
) -> ReleasePackage:
    """Replace a package's steps (refused, 409, once a deployment of it has started)."""
    require_permission(context, "releases.change_releasepackage")
    package = ReleasePackage.objects.select_for_update().get(pk=package_id)
    if package.releases.filter(deployments__isnull=False).exists():
        raise ConflictError("This package has been deployed: make a new version instead.")
    before = list(package.steps.values_list("phase", "order", "name"))
    package.steps.all().delete()
    _write_steps(package, steps)
    after = list(package.steps.values_list("phase", "order", "name"))
    record(
        obj=package,
        kind="steps",
        changes={"steps": {"old": [list(s) for s in before], "new": [list(s) for s in after]}},
        context=context,
    )
    return package
