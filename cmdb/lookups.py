"""JSON look-ups behind the search-as-you-type selects of the CMDB forms (Tom Select).

Each answers `?q=` with at most `LIMIT` results as `{"results": [{"id", "text", …}]}` in one
query, and needs a login and the view permission of what it lists.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import permission_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .choices import CIStatus
from .forms import CIForm
from .models import CIType, ConfigurationItem

LIMIT = 20
MAX_QUERY = 100


def _terms(request: HttpRequest) -> list[str]:
    return request.GET.get("q", "")[:MAX_QUERY].split()


def user_label(first_name: str, last_name: str, username: str) -> str:
    full = f"{first_name} {last_name}".strip()
    return f"{full} ({username})" if full else username


@require_GET
@permission_required("cmdb.view_person", raise_exception=True)
def lookup_users(request: HttpRequest) -> JsonResponse:
    """Active users whose username, first or last name or e-mail contain every typed word."""
    queryset = get_user_model().objects.filter(is_active=True)
    for term in _terms(request):
        queryset = queryset.filter(
            Q(username__icontains=term)
            | Q(first_name__icontains=term)
            | Q(last_name__icontains=term)
            | Q(email__icontains=term)
        )
    rows = queryset.order_by("username").values(
        "pk", "username", "first_name", "last_name", "email"
    )[:LIMIT]
    return JsonResponse(
        {
            "results": [
                {
                    "id": row["pk"],
                    "username": row["username"],
                    "text": user_label(row["first_name"], row["last_name"], row["username"]),
                    "email": row["email"],
                }
                for row in rows
            ]
        }
    )


@require_GET
@permission_required("cmdb.view_configurationitem", raise_exception=True)
def lookup_cis(request: HttpRequest) -> JsonResponse:
    """CIs not disposed whose name, host name, serial number or asset tag contain every word."""
    queryset = ConfigurationItem.objects.exclude(status=CIStatus.DISPOSED)
    for term in _terms(request):
        queryset = queryset.filter(
            Q(name__icontains=term)
            | Q(hostname__icontains=term)
            | Q(serial_number__icontains=term)
            | Q(asset_tag__icontains=term)
        )
    rows = queryset.order_by("name", "pk").values(
        "pk", "name", "hostname", "serial_number", "ci_type__name"
    )[:LIMIT]
    return JsonResponse(
        {
            "results": [
                {
                    "id": row["pk"],
                    "text": row["name"],
                    "type": row["ci_type__name"],
                    "hostname": row["hostname"],
                    "serial_number": row["serial_number"],
                }
                for row in rows
            ]
        }
    )


@require_GET
@permission_required("cmdb.view_configurationitem", raise_exception=True)
def ci_attribute_fields(request: HttpRequest) -> HttpResponse:
    """htmx: the attribute fields of the chosen CI type, keeping what the user typed.

    The values typed under the previous type (`attributes_type`) are read with that type's
    fields, so they keep their JSON types; keys the new type does not describe move to the
    "Other attributes" box.
    """
    previous = CIType.objects.filter(pk=_int(request.GET.get("attributes_type"))).first()
    typed = CIForm(request.GET, ci_type=previous)
    typed.is_valid()
    attributes = typed.cleaned_data.get("attributes", {})
    chosen = CIType.objects.filter(pk=_int(request.GET.get("ci_type"))).first()
    fresh = CIForm(initial={"attributes": attributes}, ci_type=chosen)
    return render(request, "cmdb/_ci_attributes.html", {"form": fresh})


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None
