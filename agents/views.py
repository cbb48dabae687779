"""Web UI of the agents app: agents, enrolment tokens, policies, audit, CMDB health and the
security log. Server-rendered pages with htmx partials; every write goes through services."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from cmdb.choices import ChangeSource
from cmdb.history import ChangeContext
from itsm.exceptions import ApplicationError, ConflictError
from itsm.permissions import permission_required

from . import binding, policies, selectors, services
from .choices import AgentStatus, DiscrepancyKind, DiscrepancyStatus, RejectionReason
from .filtersets import AgentFilterSet, DiscrepancyFilterSet, SecurityEventFilterSet
from .forms import AgentGroupForm, AgentUpdateForm, CloseDiscrepancyForm, EnrollmentTokenForm
from .models import Agent, AgentGroup, Discrepancy, EnrollmentToken, InventoryReport, SecurityEvent

PAGE_SIZE = 50
REPORTS_SHOWN = 20


def ui_context(request: HttpRequest) -> ChangeContext:
    return ChangeContext(actor=request.user, source=ChangeSource.USER)


def _paginate(request: HttpRequest, queryset: QuerySet, query: QueryDict | None = None):
    """A page of `queryset` and the query string of the other parameters (for page links)."""
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    params = (query if query is not None else request.GET).copy()
    params.pop("page", None)
    return page, params.urlencode()


def _filter_data(query: QueryDict) -> QueryDict:
    """The filters without their empty values: an "All …" option (value "") filters nothing."""
    data = query.copy()
    for key in list(data):
        data.setlist(key, [value for value in data.getlist(key) if value.strip()])
    return data


def _wants_partial(request: HttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.boosted


def _redirect_back(request: HttpRequest, fallback: str) -> HttpResponse:
    """Back to the page the button was on (`next`), if it is one of ours."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback)


# --- agents -------------------------------------------------------------------------------


@permission_required("agents.view_agent", raise_exception=True)
def agent_list(request: HttpRequest) -> HttpResponse:
    """Enrolled agents with search, status and policy filters; pending ones can be approved here."""
    base = Agent.objects.select_related("group", "ci")
    filterset = AgentFilterSet(_filter_data(request.GET), queryset=base)
    queryset = filterset.qs if filterset.is_valid() else base
    page, query = _paginate(request, queryset.order_by("name", "id"))
    context = {
        "filterset": filterset,
        "page": page,
        "query": query,
        "status_values": request.GET.getlist("status"),
        "policy_value": request.GET.get("policy", ""),
        "next": request.get_full_path(),
    }
    if _wants_partial(request):
        return render(request, "agents/_agent_table.html", context)
    context.update(
        policies=list(AgentGroup.objects.values_list("name", flat=True)),
        statuses=AgentStatus.choices,
        pending=Agent.objects.filter(status=AgentStatus.PENDING).count(),
    )
    return render(request, "agents/agent_list.html", context)


def _render_agent(
    request: HttpRequest, pk: int, form: AgentUpdateForm | None = None, status: int = 200
) -> HttpResponse:
    agent = get_object_or_404(
        Agent.objects.select_related("group", "ci__ci_type", "approved_by", "revoked_by"), pk=pk
    )
    reports = InventoryReport.objects.filter(agent=agent)
    context = {
        "agent": agent,
        "reports": list(reports.defer("body").select_related("ci")[:REPORTS_SHOWN]),
        "report_count": reports.count(),
        "holds": list(
            Discrepancy.objects.filter(
                kind=DiscrepancyKind.IDENTITY_HOLD, key=agent.key_id, status=DiscrepancyStatus.OPEN
            ).select_related("ci__ci_type")
        ),
        "form": form
        or AgentUpdateForm(initial={"group": agent.group_id, "is_collector": agent.is_collector}),
    }
    return render(request, "agents/agent_detail.html", context, status=status)


@permission_required("agents.view_agent", raise_exception=True)
def agent_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One agent: its key, status, policy, bound CI and what its recent reports changed."""
    return _render_agent(request, pk)


@require_POST
@permission_required("agents.change_agent", raise_exception=True)
def agent_update(request: HttpRequest, pk: int) -> HttpResponse:
    """Change an agent's policy and network-collector flag."""
    agent = get_object_or_404(Agent, pk=pk)
    form = AgentUpdateForm(request.POST)
    if not form.is_valid():
        return _render_agent(request, agent.pk, form, status=400)
    try:
        services.agent_update(
            context=ui_context(request),
            agent_id=agent.pk,
            group=form.cleaned_data["group"],
            is_collector=form.cleaned_data["is_collector"],
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Saved {agent.name}.")
    return redirect("agents:agent-detail", pk=agent.pk)


@require_POST
@permission_required("agents.enroll_agent", raise_exception=True)
def agent_approve(request: HttpRequest, pk: int) -> HttpResponse:
    agent = get_object_or_404(Agent, pk=pk)
    try:
        services.agent_approve(context=ui_context(request), agent_id=agent.pk)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Approved {agent.name}: its reports are accepted from now on.")
    return _redirect_back(request, reverse("agents:agent-detail", args=[agent.pk]))


@require_POST
@permission_required("agents.revoke_agent", raise_exception=True)
def agent_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    agent = get_object_or_404(Agent, pk=pk)
    try:
        services.agent_revoke(context=ui_context(request), agent_id=agent.pk)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Revoked {agent.name}: its requests are refused from now on.")
    return _redirect_back(request, reverse("agents:agent-detail", args=[agent.pk]))


# --- enrolment tokens ---------------------------------------------------------------------


def server_url(request: HttpRequest) -> str:
    """This site's base URL as an agent reaches it (scheme, host and any script prefix)."""
    return request.build_absolute_uri(reverse("home")).rstrip("/")


@permission_required("agents.enroll_agent", raise_exception=True)
def token_list(request: HttpRequest) -> HttpResponse:
    """Enrolment tokens and a form for a new one. The secret appears once, in the POST answer."""
    form = EnrollmentTokenForm(request.POST if request.method == "POST" else None)
    created = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            secret, token = services.enrollment_token_create(
                context=ui_context(request),
                expires_in_hours=data["expires_in_hours"],
                auto_approve=data["auto_approve"],
                group=data["group"],
                note=data["note"],
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            command = f"itsm-agent enroll --server {server_url(request)} --token {secret}"
            created = {"secret": secret, "token": token, "command": command}
            form = EnrollmentTokenForm()
    page, query = _paginate(
        request, EnrollmentToken.objects.select_related("created_by", "group"), QueryDict()
    )
    response = render(
        request,
        "agents/token_list.html",
        {"form": form, "page": page, "query": query, "created": created, "now": timezone.now()},
        status=400 if form.errors else 200,
    )
    if created:
        add_never_cache_headers(response)  # the secret must not stay in any cache
    return response


# --- policies -----------------------------------------------------------------------------


@permission_required("agents.view_agentgroup", raise_exception=True)
def policy_list(request: HttpRequest) -> HttpResponse:
    """Collection policies (agent groups) with the number of agents following each."""
    groups = AgentGroup.objects.select_related("default_ci_type").annotate(
        agent_count=Count("agents")
    )
    page, query = _paginate(request, groups.order_by("name"))
    return render(request, "agents/policy_list.html", {"page": page, "query": query})


def _fingerprint(group: AgentGroup) -> str:
    """What the editor loaded, to refuse a save over someone else's change (the version the
    API shows too)."""
    return policies.policy_version(group)


def _policy_values(form: AgentGroupForm) -> dict:
    return {name: form.cleaned_data[name] for name in policies.POLICY_FIELDS}


@permission_required("agents.add_agentgroup", raise_exception=True)
def policy_create(request: HttpRequest) -> HttpResponse:
    form = AgentGroupForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            group = policies.policy_create(context=ui_context(request), values=_policy_values(form))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Created the policy {group.name}.")
            return redirect("agents:policy-list")
    return render(
        request,
        "agents/policy_form.html",
        {"form": form, "group": None},
        status=400 if form.errors else 200,
    )


@permission_required("agents.change_agentgroup", raise_exception=True)
def policy_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a policy; a save over a change made meanwhile by someone else is refused (409)."""
    group = get_object_or_404(AgentGroup, pk=pk)
    if request.method != "POST":
        form = AgentGroupForm(instance=group)
        return render(
            request,
            "agents/policy_form.html",
            {"form": form, "group": group, "fingerprint": _fingerprint(group)},
        )
    status = 400
    form = AgentGroupForm(request.POST, instance=group)
    if form.is_valid():
        try:
            group = policies.policy_update(
                context=ui_context(request),
                policy_id=group.pk,
                values=_policy_values(form),
                expected_version=request.POST.get("fingerprint", ""),
            )
        except ConflictError:
            form.add_error(
                None,
                "Someone changed this policy since you opened it. "
                "Reload the page to see their change, then edit again.",
            )
            status = 409
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Saved the policy {group.name}.")
            return redirect("agents:policy-list")
    return render(
        request,
        "agents/policy_form.html",
        {"form": form, "group": group, "fingerprint": request.POST.get("fingerprint", "")},
        status=status,
    )


# --- audit: discrepancies -----------------------------------------------------------------


@permission_required("agents.view_discrepancy", raise_exception=True)
def discrepancy_list(request: HttpRequest) -> HttpResponse:
    """Where the CMDB and the machines disagree; open ones by default, counted per kind."""
    data = request.GET.copy()
    if "status" not in data:  # "Any status" sends status= and filters nothing
        data["status"] = DiscrepancyStatus.OPEN
    base = Discrepancy.objects.select_related("ci__ci_type", "resolved_by")
    filterset = DiscrepancyFilterSet(_filter_data(data), queryset=base)
    valid = filterset.is_valid()
    queryset = filterset.qs if valid else base
    page, query = _paginate(request, queryset.order_by("-last_seen", "-id"), data)

    # Counts per kind under the other filters, each a link that narrows to the kind.
    others = data.copy()
    others.pop("kind", None)
    others.pop("page", None)
    counts_set = DiscrepancyFilterSet(_filter_data(others), queryset=Discrepancy.objects.all())
    counted = counts_set.qs if valid and counts_set.is_valid() else Discrepancy.objects.all()
    counts = dict(counted.order_by().values_list("kind").annotate(n=Count("id")))
    summary = []
    for value, label in DiscrepancyKind.choices:
        link = others.copy()
        link["kind"] = value
        summary.append(
            {
                "kind": value,
                "label": label,
                "count": counts.get(value, 0),
                "query": link.urlencode(),
                "active": data.getlist("kind") == [value],
            }
        )
    context = {
        "filterset": filterset,
        "page": page,
        "query": query,
        "summary": summary,
        "all_kinds_query": others.urlencode(),
        "statuses": DiscrepancyStatus.choices,
        "kinds": DiscrepancyKind.choices,
        "status_values": data.getlist("status"),
        "next": request.get_full_path(),
    }
    template = "agents/_discrepancy_table.html" if _wants_partial(request) else None
    return render(request, template or "agents/discrepancy_list.html", context)


@require_POST
@permission_required("agents.resolve_discrepancy", raise_exception=True)
def discrepancy_close(request: HttpRequest, pk: int) -> HttpResponse:
    """Resolve (fixed) or accept (expected) a discrepancy, with an optional note."""
    item = get_object_or_404(Discrepancy.objects.select_related("ci"), pk=pk)
    form = CloseDiscrepancyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose to resolve or to accept the discrepancy.")
    else:
        try:
            services.discrepancy_close(
                context=ui_context(request),
                discrepancy_id=item.pk,
                status=form.cleaned_data["status"],
                resolution=form.cleaned_data["resolution"],
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            verb = "Resolved" if form.cleaned_data["status"] == "resolved" else "Accepted"
            messages.success(request, f"{verb}: {item.get_kind_display()} on {item.ci.name}.")
    return _redirect_back(request, reverse("agents:discrepancy-list"))


@require_POST
@permission_required("agents.bind_agent", raise_exception=True)
def discrepancy_binding(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    """Approve or refuse the binding a held report asks for (identity_hold discrepancies)."""
    item = get_object_or_404(Discrepancy.objects.select_related("ci"), pk=pk)
    service = binding.binding_approve if decision == "approve" else binding.binding_refuse
    try:
        service(
            context=ui_context(request),
            discrepancy_id=item.pk,
            note=request.POST.get("resolution", "")[:2000],
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        verb = "Approved" if decision == "approve" else "Refused"
        messages.success(request, f"{verb} binding key {item.key} to {item.ci.name}.")
    return _redirect_back(request, reverse("agents:discrepancy-list"))


# --- CMDB health --------------------------------------------------------------------------


@permission_required("cmdb.view_configurationitem", raise_exception=True)
def health(request: HttpRequest) -> HttpResponse:
    """Completeness, correctness and freshness of the CMDB per CI type and overall."""
    scores, overall = selectors.cmdb_health()
    open_by_type = dict(
        Discrepancy.objects.filter(status=DiscrepancyStatus.OPEN)
        .order_by()
        .values_list("ci__ci_type__slug")
        .annotate(n=Count("id"))
    )
    rows = [{"score": score, "open": open_by_type.get(score.slug, 0)} for score in scores]
    return render(
        request,
        "agents/health.html",
        {"rows": rows, "overall": overall, "open_total": sum(open_by_type.values())},
    )


# --- security log -------------------------------------------------------------------------


@permission_required("agents.view_securityevent", raise_exception=True)
def security_log(request: HttpRequest) -> HttpResponse:
    """Refused agent requests, newest first, with a count per reason over the last day."""
    base = SecurityEvent.objects.all()
    filterset = SecurityEventFilterSet(_filter_data(request.GET), queryset=base)
    queryset = filterset.qs if filterset.is_valid() else base
    page, query = _paginate(request, queryset.order_by("-at", "-id"))
    keys = {event.key_id for event in page.object_list if event.key_id}
    agents = {a.key_id: a for a in Agent.objects.filter(key_id__in=keys).only("pk", "key_id")}
    since = timezone.now() - dt.timedelta(hours=24)
    labels = dict(RejectionReason.choices)
    last_day = [
        {"reason": reason, "label": labels.get(reason, reason), "count": n}
        for reason, n in SecurityEvent.objects.filter(at__gte=since)
        .order_by()
        .values_list("reason")
        .annotate(n=Count("id"))
        .order_by("-n")
    ]
    context = {
        "filterset": filterset,
        "page": page,
        "query": query,
        "rows": [(event, agents.get(event.key_id)) for event in page.object_list],
        "reasons": RejectionReason.choices,
        "reason_values": request.GET.getlist("reason"),
        "last_day": last_day,
    }
    return render(request, "agents/security_log.html", context)
