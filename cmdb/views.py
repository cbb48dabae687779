"""Web UI of the CMDB: server-rendered pages with htmx partials. Writes go through services."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from itsm.exceptions import ApplicationError
from itsm.permissions import permission_required
from itsm.registry import panels

from . import selectors, services
from .choices import ChangeSource, CIStatus, ImpactDirection, allowed_moves
from .filtersets import CIFilterSet, RelationshipFilterSet
from .forms import AsOfForm, CIForm, ImpactForm, RelationshipForm, RoleForm, TransitionForm
from .history import ChangeContext
from .models import ConfigurationItem, InstalledSoftware, Relationship

PAGE_SIZE = 50
SOFTWARE_PAGE_SIZE = 100
CI_ORDERINGS = {
    "name",
    "-name",
    "status",
    "-status",
    "hostname",
    "-hostname",
    "updated",
    "-updated",
    "ci_type__name",
}


def ui_context(request: HttpRequest, reason: str = "") -> ChangeContext:
    return ChangeContext(actor=request.user, source=ChangeSource.USER, reason=reason)


def _apply_errors(form, exc: ValidationError | ApplicationError) -> None:
    """Show a service's refusal on the form, on the field it concerns where possible."""
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(
            None, getattr(exc, "message", None) or "; ".join(getattr(exc, "messages", [str(exc)]))
        )


@permission_required("cmdb.view_configurationitem", raise_exception=True)
def ci_list(request: HttpRequest) -> HttpResponse:
    """CI list with search, filters, sorting and pagination; htmx swaps only the table."""
    filterset = CIFilterSet(request.GET or None, queryset=selectors.ci_list_queryset())
    if not filterset.is_bound:
        queryset = filterset.queryset
    elif filterset.is_valid():
        queryset = filterset.qs
    else:
        queryset = filterset.queryset.none()  # the page says which filter is wrong
    ordering = request.GET.get("ordering", "name")
    if ordering not in CI_ORDERINGS:
        ordering = "name"
    page = Paginator(queryset.order_by(ordering, "id"), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    sort_query = query.copy()
    sort_query.pop("ordering", None)
    context = {
        "filterset": filterset,
        "page": page,
        "ordering": ordering,
        "query": query.urlencode(),
        "sort_query": sort_query.urlencode(),
    }
    template = (
        "cmdb/_ci_table.html" if request.htmx and not request.htmx.boosted else "cmdb/ci_list.html"
    )
    return render(request, template, context)


@permission_required("cmdb.view_configurationitem", raise_exception=True)
def ci_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Everything about one CI: attributes, roles, relationships, software, history, impact.

    What fits the class: installed software only for classes that carry an agent, the impact
    view in the class's direction; other apps add panels through `itsm.registry.panels`
    (slot "cmdb.ci_detail").
    """
    ci = get_object_or_404(selectors.ci_detail_queryset(), pk=pk)
    relationships = Relationship.objects.filter(Q(source=ci) | Q(target=ci)).select_related(
        "source__ci_type", "target__ci_type", "type"
    )
    software_q = request.GET.get("software_q", "").strip()
    software_page = None
    if ci.ci_type.agent_capable:
        software = InstalledSoftware.objects.filter(ci=ci).select_related("software__product")
        if software_q:
            software = software.filter(software__product__name__icontains=software_q)
        software_page = Paginator(
            software.order_by("software__product__name", "software__version"), SOFTWARE_PAGE_SIZE
        ).get_page(request.GET.get("software_page"))
    as_of = None
    as_of_form = AsOfForm(request.GET if "at" in request.GET else None)
    if as_of_form.is_bound and as_of_form.is_valid():
        as_of = selectors.ci_as_of(ci, as_of_form.cleaned_data["at"])
    context = {
        "ci": ci,
        "roles": ci.roles.select_related("user"),
        "relationships": relationships,
        "show_software": software_page is not None,
        "software_page": software_page,
        "software_q": software_q,
        "history": selectors.ci_history_display(ci, limit=50),
        "transition_form": TransitionForm(ci=ci),
        "allowed_moves": [(status, CIStatus(status).label) for status in allowed_moves(ci.status)],
        "relationship_form": RelationshipForm(),
        "role_form": RoleForm(),
        "impact_form": ImpactForm(),
        "impact_directions": ImpactDirection.choices,
        "impact_direction": ci.ci_type.impact_direction or ImpactDirection.DOWNSTREAM,
        "as_of_form": as_of_form,
        "as_of": as_of,
    }
    if request.htmx and request.htmx.target == "software-panel" and software_page is not None:
        return render(request, "cmdb/_software.html", context)
    # Who owns each field (agents or people): a CMDB read.
    owners = selectors.field_owners(ci.ci_type)
    context["field_owners"] = owners
    context["attribute_rows"] = [
        (key, value, owners.get(f"attributes.{key}", "people"))
        for key, value in (ci.attributes or {}).items()
    ]
    context["panels"] = panels.collect("cmdb.ci_detail", request=request, obj=ci, context=context)
    return render(request, "cmdb/ci_detail.html", context)


@permission_required("cmdb.view_configurationitem", raise_exception=True)
def ci_impact(request: HttpRequest, pk: int) -> HttpResponse:
    """The impact tree partial (htmx): nodes by depth under the CI they were reached from."""
    ci = get_object_or_404(ConfigurationItem, pk=pk)
    form = ImpactForm(request.GET)
    if not form.is_valid():
        return render(
            request, "cmdb/_impact.html", {"ci": ci, "form": form, "tree": None}, status=400
        )
    direction = form.cleaned_data.get("direction") or "downstream"
    depth = form.cleaned_data.get("depth") or 3
    result = selectors.impact_analysis(ci=ci, direction=direction, depth=depth)
    return render(
        request,
        "cmdb/_impact.html",
        {"ci": ci, "form": form, "result": result, "tree": _impact_tree(result)},
    )


def _impact_tree(result: selectors.ImpactResult) -> list[dict]:
    """Nest impact nodes under the first node that reached them (a spanning tree for display)."""
    nodes = {node["id"]: {**node, "children": [], "via": None} for node in result.nodes}
    forward = result.direction == "downstream"

    def ends(edge):
        return (edge["source"], edge["target"]) if forward else (edge["target"], edge["source"])

    placed = {result.root.pk}
    for edge in sorted(result.edges, key=lambda e: nodes.get(ends(e)[0], {}).get("depth", 0)):
        parent, child = ends(edge)
        if child in placed or parent not in nodes or child not in nodes:
            continue
        if nodes[child]["depth"] != nodes[parent]["depth"] + 1:
            continue
        nodes[child]["via"] = edge["type"]
        nodes[parent]["children"].append(nodes[child])
        placed.add(child)
    return [nodes[result.root.pk]] if result.root.pk in nodes else []


@permission_required("cmdb.add_configurationitem", raise_exception=True)
def ci_create(request: HttpRequest) -> HttpResponse:
    form = CIForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        data.pop("version", None)
        try:
            ci = services.ci_create(
                context=ui_context(request),
                ci_type=data.pop("ci_type"),
                name=data.pop("name"),
                **data,
            )
        except (ValidationError, ApplicationError) as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"Created {ci.name}.")
            return redirect(ci)
    return render(
        request, "cmdb/ci_form.html", {"form": form, "ci": None}, status=400 if form.errors else 200
    )


@permission_required("cmdb.change_configurationitem", raise_exception=True)
def ci_edit(request: HttpRequest, pk: int) -> HttpResponse:
    ci = get_object_or_404(ConfigurationItem, pk=pk)
    form = CIForm(request.POST or None, initial=CIForm.initial_for(ci))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        version = data.pop("version")
        try:
            services.ci_update(
                context=ui_context(request), ci_id=ci.pk, data=data, expected_version=version
            )
        except (ValidationError, ApplicationError) as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"Saved {ci.name}.")
            return redirect(ci)
    return render(
        request, "cmdb/ci_form.html", {"form": form, "ci": ci}, status=400 if form.errors else 200
    )


@require_POST
@permission_required("cmdb.transition_ci", raise_exception=True)
def ci_transition(request: HttpRequest, pk: int) -> HttpResponse:
    """A lifecycle button. A move that raced with another user's is refused with a message."""
    ci = get_object_or_404(ConfigurationItem, pk=pk)
    form = TransitionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a lifecycle status to move to.")
        return redirect(ci)
    try:
        services.ci_transition(
            context=ui_context(request, reason=form.cleaned_data["reason"]),
            ci_id=ci.pk,
            to_status=form.cleaned_data["status"],
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"{ci.name} moved to {CIStatus(form.cleaned_data['status']).label}."
        )
    return redirect(ci)


@require_POST
@permission_required("cmdb.add_relationship", raise_exception=True)
def relationship_add(request: HttpRequest, pk: int) -> HttpResponse:
    ci = get_object_or_404(ConfigurationItem, pk=pk)
    form = RelationshipForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect(ci)
    other = form.cleaned_data["other"]
    source, target = (ci, other) if form.cleaned_data["direction"] == "outgoing" else (other, ci)
    try:
        services.relationship_create(
            context=ui_context(request),
            source=source,
            target=target,
            type=form.cleaned_data["type"],
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Relationship added.")
    return redirect(ci)


@require_POST
@permission_required("cmdb.delete_relationship", raise_exception=True)
def relationship_remove(request: HttpRequest, pk: int, rel_pk: int) -> HttpResponse:
    ci = get_object_or_404(ConfigurationItem, pk=pk)
    rel = get_object_or_404(Relationship.objects.filter(Q(source=ci) | Q(target=ci)), pk=rel_pk)
    services.relationship_delete(context=ui_context(request), relationship=rel)
    messages.success(request, "Relationship removed.")
    return redirect(ci)


@require_POST
@permission_required("cmdb.change_configurationitem", raise_exception=True)
def role_add(request: HttpRequest, pk: int) -> HttpResponse:
    ci = get_object_or_404(ConfigurationItem, pk=pk)
    form = RoleForm(request.POST)
    if form.is_valid():
        services.ci_role_add(  # under the CI's lock: concurrent additions all count
            context=ui_context(request),
            ci_id=ci.pk,
            user=form.cleaned_data["user"],
            role=form.cleaned_data["role"],
        )
        messages.success(request, "Role added.")
    else:
        messages.error(request, "Choose a person and a role.")
    return redirect(ci)


@require_POST
@permission_required("cmdb.change_configurationitem", raise_exception=True)
def role_remove(request: HttpRequest, pk: int, role_pk: int) -> HttpResponse:
    ci = get_object_or_404(ConfigurationItem, pk=pk)
    role = ci.roles.filter(pk=role_pk).select_related("user").first()
    if role is not None:
        services.ci_role_remove(
            context=ui_context(request), ci_id=ci.pk, user=role.user, role=role.role
        )
    messages.success(request, "Role removed.")
    return redirect(ci)


@permission_required("cmdb.view_relationship", raise_exception=True)
def relationship_list(request: HttpRequest) -> HttpResponse:
    filterset = RelationshipFilterSet(
        request.GET or None,
        queryset=Relationship.objects.select_related("source", "target", "type"),
    )
    queryset = filterset.qs if filterset.is_bound and filterset.is_valid() else filterset.queryset
    page = Paginator(queryset.order_by("id"), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "cmdb/relationship_list.html",
        {"filterset": filterset, "page": page, "query": query.urlencode()},
    )
