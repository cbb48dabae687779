"""Web UI of release management: the release list and page (plan, strategy, RFCs, package,
acceptance, readiness, live deployment progress and its controls) and the technicians' target
list. Thin views: every write calls a service; a refused move shows as a message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_POST

from itsm.audit import ChangeContext
from itsm.choices import ChangeSource
from itsm.exceptions import ApplicationError
from itsm.permissions import permission_required

from . import (
    backout_services,
    deployment_services,
    readiness_services,
    selectors,
    technician_services,
)
from .choices import (
    DEPLOYMENT_ACTIVE,
    ReleasePriority,
    ReleaseStatus,
    ReleaseType,
    TargetState,
)
from .filtersets import ReleaseFilterSet, TargetFilterSet
from .forms import DeployForm, DeploymentWindowForm, ReadinessForm, ReasonForm
from .models import DeploymentTarget, DeploymentWave, PackageStep, ReadinessReview, Release

PAGE_SIZE = 50
#: The progress fragment polls every 2 s while the deployment is in one of these.
POLLING = DEPLOYMENT_ACTIVE
FINISHING = (TargetState.RUNNING, TargetState.BACKING_OUT)


def ui_context(request: HttpRequest) -> ChangeContext:
    return ChangeContext(actor=request.user, source=ChangeSource.USER)


def _filter_data(query: QueryDict) -> QueryDict:
    """The filters without empty values (an "All …" option filters nothing), nor the page."""
    data = query.copy()
    data.pop("page", None)
    for key in list(data):
        data.setlist(key, [v for v in data.getlist(key) if v.strip()])
    return data


def _paginate(request: HttpRequest, queryset: QuerySet):
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return page, params.urlencode()


def _act(request: HttpRequest, action: Callable[[], Any], done: str, back: str) -> HttpResponse:
    """Run a service; its refusal becomes an error message. Back to `back` either way."""
    try:
        action()
    except ApplicationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect(back)


# --- list and page ----------------------------------------------------------------------------


@permission_required("releases.view_release")
def release_list(request: HttpRequest) -> HttpResponse:
    """Releases with search (number, title), status / type / priority filters and pages."""
    base = Release.objects.select_related("package").order_by("-created", "-id")
    filterset = ReleaseFilterSet(_filter_data(request.GET), queryset=base)
    queryset = filterset.qs if filterset.is_valid() else base
    page, query = _paginate(request, queryset)
    return render(
        request,
        "releases/release_list.html",
        {
            "page": page,
            "query": query,
            "q": request.GET.get("q", ""),
            "statuses": ReleaseStatus.choices,
            "status_values": request.GET.getlist("status"),
            "types": ReleaseType.choices,
            "type_values": request.GET.getlist("release_type"),
            "priorities": ReleasePriority.choices,
            "priority_values": request.GET.getlist("priority"),
        },
    )


def _progress_context(release: Release, user: Any) -> dict[str, Any]:
    progress = selectors.release_progress(release)
    for wave in progress["waves"]:
        for target in wave["targets"]:
            target["may_act"] = technician_services.may_act(
                user, technician=target["technician"], ci_owner_id=target["ci_owner"]
            )
    # A cancelled or failed deployment still has targets finishing a step: keep polling.
    finishing = any(progress.get("counts", {}).get(state) for state in FINISHING)
    return {
        "release": release,
        "progress": progress,
        "polling": progress["status"] in POLLING or finishing,
        # The window form starts from the deployment's window: submitted unchanged, it keeps it.
        "window_form": DeploymentWindowForm(
            current=(progress.get("window_start"), progress.get("window_end"))
        ),
    }


@permission_required("releases.view_release")
def release_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The release page: plan, strategy, RFCs, package and steps, acceptance, readiness and the
    deployment's live progress with its controls."""
    release = get_object_or_404(Release.objects.select_related("package", "created_by"), pk=pk)
    review = ReadinessReview.objects.filter(release=release).select_related("decided_by").first()
    steps = (
        list(PackageStep.objects.filter(package_id=release.package_id).select_related("artifact"))
        if release.package_id
        else []
    )
    progress = _progress_context(release, request.user)
    context = {
        **progress,
        **_technician_context(request, progress["progress"].get("deployment")),
        "tasks": list(release.tasks.select_related("owner")),
        "changes": list(release.changes.all().order_by("number")),
        "steps": steps,
        "artifacts": list(release.package.artifacts.all()) if release.package_id else [],
        "test_results": list(release.test_results.select_related("recorded_by")),
        "review": review,
        "readiness_form": ReadinessForm(review=review),
        "can_decide": release.status == ReleaseStatus.READINESS
        and request.user.has_perm("releases.decide_readiness"),
        "deploy_form": DeployForm(),
        "log": list(selectors.release_log(release)[:20]),
    }
    return render(request, "releases/release_detail.html", context)


@permission_required("releases.view_release")
def release_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress fragment (htmx polls it every 2 s until the deployment is finished)."""
    release = get_object_or_404(Release, pk=pk)
    response = render(request, "releases/_progress.html", _progress_context(release, request.user))
    add_never_cache_headers(response)
    return response


# --- readiness --------------------------------------------------------------------------------


@require_POST
@permission_required("releases.decide_readiness")
def readiness(request: HttpRequest, pk: int) -> HttpResponse:
    """Save the checklist, and record go / no-go when one is chosen (Release Manager)."""
    release = get_object_or_404(Release, pk=pk)
    back = reverse("releases:release-detail", args=[pk]) + "#readiness"
    form = ReadinessForm(request.POST, review=None)
    if not form.is_valid():
        messages.error(request, "The readiness form is invalid: " + form.errors.as_text())
        return redirect(back)
    context = ui_context(request)
    data = form.cleaned_data

    def save() -> None:
        readiness_services.readiness_update(
            context=context,
            release_id=release.pk,
            checklist={item: data[item] for item in ReadinessReview.CHECKLIST},
            notes=data["notes"],
        )
        if data["decision"]:
            readiness_services.readiness_decide(
                context=context, release_id=release.pk, decision=data["decision"]
            )

    done = "Readiness review saved" + (
        f": decision {data['decision']}." if data["decision"] else "."
    )
    return _act(request, save, done, back)


# --- deployment control -----------------------------------------------------------------------


@require_POST
@permission_required("releases.control_deployment")
def deploy(request: HttpRequest, pk: int) -> HttpResponse:
    """Start a deployment with the chosen executor (the simulated one with its parameters)."""
    release = get_object_or_404(Release, pk=pk)
    back = reverse("releases:release-detail", args=[pk]) + "#deployment"
    form = DeployForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The deployment form is invalid: " + form.errors.as_text())
        return redirect(back)
    executor = form.cleaned_data["executor"]
    simulation = form.simulation() if executor == "simulated" else None
    return _act(
        request,
        lambda: deployment_services.deployment_start(
            context=ui_context(request),
            release_id=release.pk,
            executor=executor,
            simulation=simulation,
        ),
        f"Deployment started ({executor} executor).",
        back,
    )


def _control(service: Callable[..., Any], done: str, *, with_reason: bool = False) -> Callable:
    @require_POST
    @permission_required("releases.control_deployment")
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        release = get_object_or_404(Release, pk=pk)
        back = reverse("releases:release-detail", args=[pk]) + "#deployment"
        kwargs: dict[str, Any] = {}
        if with_reason:
            form = ReasonForm(request.POST)
            if not form.is_valid():
                messages.error(request, "The reason is too long (at most 1000 characters).")
                return redirect(back)
            kwargs["reason"] = form.cleaned_data["reason"]
        return _act(
            request,
            lambda: service(context=ui_context(request), release_id=release.pk, **kwargs),
            done,
            back,
        )

    view.__name__ = service.__name__
    return view


pause = _control(deployment_services.deployment_pause, "Deployment paused.", with_reason=True)
resume = _control(deployment_services.deployment_resume, "Deployment resumed.")
cancel = _control(deployment_services.deployment_cancel, "Deployment cancelled.", with_reason=True)
fail = _control(deployment_services.deployment_fail, "Deployment marked failed.", with_reason=True)


@require_POST
@permission_required("releases.control_deployment")
def deployment_window(request: HttpRequest, pk: int) -> HttpResponse:
    """Give the deployment under way a new window (outside its window, it then resumes by
    itself when the window opens). The form shows the current window: an end left as shown
    keeps its value, an emptied one is open."""
    release = get_object_or_404(Release, pk=pk)
    back = reverse("releases:release-detail", args=[pk]) + "#deployment"
    deployment = selectors.latest_deployment(release)
    current = (deployment.window_start, deployment.window_end) if deployment else (None, None)
    form = DeploymentWindowForm(request.POST, current=current)
    if not form.is_valid():
        said = " ".join(
            f"{form.fields[name].label}: {' '.join(map(str, errors))}"
            for name, errors in form.errors.items()
        )
        messages.error(request, f"The window is invalid. {said}")
        return redirect(back)
    start, end = form.cleaned_data["window_start"], form.cleaned_data["window_end"]
    return _act(
        request,
        lambda: deployment_services.deployment_set_window(
            context=ui_context(request),
            release_id=release.pk,
            window_start=start,
            window_end=end,
            expected_window=form.cleaned_data["shown"],
        ),
        "Deployment window set.",
        back,
    )


@require_POST
@permission_required("releases.control_deployment")
def backout(request: HttpRequest, pk: int) -> HttpResponse:
    """Back out the whole release, or one wave (`wave`), or one target (`target`)."""
    release = get_object_or_404(Release, pk=pk)
    back = reverse("releases:release-detail", args=[pk]) + "#deployment"

    def as_id(name: str) -> int | None:
        value = request.POST.get(name, "")
        return int(value) if value.isdigit() else None

    wave_id, target_id = as_id("wave"), as_id("target")
    what = "target" if target_id else "wave" if wave_id else "release"
    return _act(
        request,
        lambda: backout_services.deployment_backout(
            context=ui_context(request), release_id=release.pk, wave_id=wave_id, target_id=target_id
        ),
        f"Backout of the {what} started.",
        back,
    )


@require_POST
@permission_required("releases.sign_off_wave")
def wave_sign_off(request: HttpRequest, pk: int, wave_id: int) -> HttpResponse:
    """Open a wave's gate: the next wave starts."""
    back = reverse("releases:release-detail", args=[pk]) + "#deployment"
    get_object_or_404(Release, pk=pk, deployments__waves=wave_id)
    return _act(
        request,
        lambda: deployment_services.wave_sign_off(
            context=ui_context(request), wave_id=wave_id, note=request.POST.get("note", "")[:500]
        ),
        "Wave signed off: the next wave starts.",
        back,
    )


# --- technicians ----------------------------------------------------------------------------


def _technician_context(request: HttpRequest, deployment_id: int | None) -> dict[str, Any]:
    """For a Release Manager: the waves of the release's latest deployment that have not
    finished (each with its technician) and who may be put in charge of them."""
    if deployment_id is None or not request.user.has_perm(technician_services.MANAGES):
        return {}
    waves = list(
        DeploymentWave.objects.filter(
            deployment_id=deployment_id, status__in=technician_services.ASSIGNABLE_WAVE
        )
        .select_related("technician")
        .order_by("order")
    )
    return {
        "assignable_waves": waves,
        "technicians": list(selectors.eligible_technicians()) if waves else [],
    }


@require_POST
@permission_required(technician_services.MANAGES)
def wave_technician(request: HttpRequest, pk: int, wave_id: int) -> HttpResponse:
    """Put a technician in charge of a wave (empty: nobody)."""
    get_object_or_404(Release, pk=pk)
    back = reverse("releases:release-detail", args=[pk]) + "#technicians"
    name = request.POST.get("technician", "").strip()
    return _act(
        request,
        lambda: technician_services.wave_assign_technician(
            context=ui_context(request), wave_id=wave_id, technician=name, release_id=pk
        ),
        f"Technician of the wave: {name}." if name else "The wave has no technician now.",
        back,
    )


@require_POST
@permission_required(technician_services.MANAGES)
def target_technician(request: HttpRequest, target_id: int) -> HttpResponse:
    """Put a technician in charge of one target (empty: its wave's technician)."""
    target = get_object_or_404(DeploymentTarget.objects.select_related("deployment"), pk=target_id)
    name = request.POST.get("technician", "").strip()
    return _act(
        request,
        lambda: technician_services.target_assign_technician(
            context=ui_context(request), target_id=target_id, technician=name
        ),
        f"Technician of the target: {name}." if name else "The target follows its wave again.",
        _target_back(request, target),
    )


# --- targets (Deployment Technicians) ---------------------------------------------------------

#: Whose targets the list shows; a technician sees his own by default, a manager everyone's.
WHOSE = {
    "mine": "Mine (assigned to me, or CIs I own)",
    "unassigned": "Nobody assigned",
    "all": "Everyone's",
}


def _target_back(request: HttpRequest, target: DeploymentTarget) -> str:
    if request.POST.get("from") == "targets":
        return reverse("releases:targets")
    return reverse("releases:release-detail", args=[target.deployment.release_id]) + "#deployment"


@require_POST
@permission_required("releases.change_deploymentstep")
def target_retry(request: HttpRequest, target_id: int) -> HttpResponse:
    """Retry a failed or lost target from its failed step."""
    target = get_object_or_404(DeploymentTarget.objects.select_related("deployment"), pk=target_id)
    return _act(
        request,
        lambda: backout_services.target_retry(context=ui_context(request), target_id=target_id),
        "Target retried.",
        _target_back(request, target),
    )


@require_POST
@permission_required("releases.change_deploymentstep")
def target_backout(request: HttpRequest, target_id: int) -> HttpResponse:
    """Back out one target."""
    target = get_object_or_404(DeploymentTarget.objects.select_related("deployment"), pk=target_id)
    return _act(
        request,
        lambda: backout_services.target_backout(context=ui_context(request), target_id=target_id),
        "Backout of the target started.",
        _target_back(request, target),
    )


@permission_required("releases.deploy_release")
def targets(request: HttpRequest) -> HttpResponse:
    """Deployment targets to look at: those of deployments under way by default (failed and
    lost first), filtered by state, release, and whose they are — "mine" (assigned to me, or
    CIs I own) by default for a technician, everyone's for a Release Manager."""
    user = request.user
    base = DeploymentTarget.objects.select_related(
        "ci", "technician", "wave__technician", "deployment__release"
    )
    data = _filter_data(request.GET)
    whose = (data.pop("whose", None) or [""])[-1]
    legacy_mine = data.pop("mine", None)  # the former "CIs I own" box: ?mine=1
    everything = data.pop("all", None)
    manager = user.has_perm(technician_services.MANAGES)
    if whose not in WHOSE:
        whose = "mine" if legacy_mine or not manager else "all"
    filterset = TargetFilterSet(data, queryset=base, request=request)
    queryset = filterset.qs if filterset.is_valid() else base
    if whose == "mine":
        queryset = queryset.filter(selectors.my_targets(user))
    elif whose == "unassigned":
        queryset = queryset.filter(selectors.UNASSIGNED)
    if not everything:
        queryset = queryset.filter(deployment__status__in=DEPLOYMENT_ACTIVE)
    queryset = queryset.order_by(selectors.ATTENTION.asc(), "-deployment_id", "id")
    page, query = _paginate(request, queryset)
    for target in page:
        technician = target.technician or target.wave.technician
        target.technician_name = technician.get_username() if technician else None
        target.may_act = technician_services.may_act(
            user, technician=target.technician_name, ci_owner_id=target.ci.owner_id
        )
        target.assignable = target.wave.status in technician_services.ASSIGNABLE_WAVE
    return render(
        request,
        "releases/target_list.html",
        {
            "page": page,
            "query": query,
            "states": TargetState.choices,
            "state_values": request.GET.getlist("state"),
            "whose": whose,
            "whose_choices": WHOSE.items(),
            "everything": bool(everything),
            "manager": manager,
            "technicians": list(selectors.eligible_technicians()) if manager else [],
        },
    )
