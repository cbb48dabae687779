"""Web UI of the definitive software library: list and search, upload (a new version, never an
edit), detail with the SHA-256 computed on the server."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from itsm.exceptions import ApplicationError
from itsm.permissions import permission_required

from . import library_services
from .filtersets import ArtifactFilterSet
from .forms import ArtifactForm
from .models import SoftwareArtifact
from .views import _filter_data, _paginate, ui_context

COPIED = ("name", "author", "source", "licence", "description")


@permission_required("releases.view_softwareartifact")
def artifact_list(request: HttpRequest) -> HttpResponse:
    """The library: every artifact version, searchable by name or author."""
    base = SoftwareArtifact.objects.order_by("name", "-created", "-id")
    filterset = ArtifactFilterSet(_filter_data(request.GET), queryset=base)
    queryset = filterset.qs if filterset.is_valid() else base
    page, query = _paginate(request, queryset)
    return render(
        request,
        "releases/artifact_list.html",
        {"page": page, "query": query, "q": request.GET.get("q", "")},
    )


@permission_required("releases.view_softwareartifact")
def artifact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One artifact version, its other versions and the packages using it."""
    artifact = get_object_or_404(SoftwareArtifact.objects.select_related("created_by"), pk=pk)
    versions = SoftwareArtifact.objects.filter(name=artifact.name).exclude(pk=pk)
    return render(
        request,
        "releases/artifact_detail.html",
        {
            "artifact": artifact,
            "versions": list(versions.order_by("-created", "-id")[:50]),
            "packages": list(artifact.packages.order_by("name", "version")[:50]),
        },
    )


@permission_required("releases.add_softwareartifact")
def artifact_create(request: HttpRequest) -> HttpResponse:
    """Upload a file (or record a reference) as a new artifact version; `?from=<id>` starts a
    new version of an existing artifact with its properties copied."""
    if request.method == "POST":
        form = ArtifactForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                artifact = library_services.artifact_create(
                    context=ui_context(request),
                    name=data["name"],
                    version=data["version"],
                    author=data["author"],
                    source=data["source"],
                    licence=data["licence"],
                    description=data["description"],
                    file=data["file"],
                    reference_url=data["reference_url"],
                    sha256=data["sha256"],
                )
            except ApplicationError as exc:
                form.add_error(None, str(exc))
                for field, errors in (exc.extra or {}).items():
                    if field in form.fields and isinstance(errors, list):
                        for error in errors:
                            form.add_error(field, str(error))
            else:
                messages.success(
                    request, f"{artifact} added to the library. SHA-256: {artifact.sha256}"
                )
                return redirect("releases:artifact-detail", pk=artifact.pk)
    else:
        initial = {}
        source = request.GET.get("from", "")
        if source.isdigit():
            previous = SoftwareArtifact.objects.filter(pk=int(source)).first()
            if previous is not None:
                initial = {field: getattr(previous, field) for field in COPIED}
        form = ArtifactForm(initial=initial)
    return render(request, "releases/artifact_form.html", {"form": form})
