"""Web pages of the CSV import (dry run, then "Import now") and the CSV downloads.

After a clean dry run the checked file is kept in the session (zlib-compressed) under a random
token; "Import now" posts only the token, so the browser does not send the file twice and the
import runs on exactly the bytes that were checked (validated again, all or nothing).
"""

from __future__ import annotations

import base64
import json
import secrets
import zlib
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render

from itsm.exceptions import ApplicationError
from itsm.permissions import permission_required

from . import imports
from .api.import_views import csv_response
from .choices import ChangeSource
from .filtersets import CIFilterSet, RelationshipFilterSet
from .forms import ImportForm
from .history import ChangeContext
from .models import ConfigurationItem, Relationship
from .views import CI_ORDERINGS

SESSION_KEY = "cmdb_import_pending"
MATCH_LABELS = {
    "": "id when the file has an id column, else create only",
    "none": "nothing: every row creates a CI",
    "id": "id",
    "serial_number": "serial number",
    "asset_tag": "asset tag",
    "hostname": "host name",
    "uuid": "UUID",
}


class CIImportForm(ImportForm):
    """The import form with the key CI rows are matched on (ignored for relationships)."""

    field_order = ["kind", "match_on", "file", "dry_run"]

    match_on = forms.ChoiceField(
        required=False,
        choices=[(key, label) for key, label in MATCH_LABELS.items()],
        label="Match rows to existing CIs on",
        help_text="A row changes an existing CI only through this key; every other "
        "identifier in the row must not belong to another CI.",
    )


#: Rows of the plan and bad rows shown on the page; the counts always cover the whole file.
SHOWN_ROWS = 500


def _styled(form: CIImportForm) -> CIImportForm:
    form.fields["kind"].widget.attrs.setdefault("class", "form-select")
    form.fields["match_on"].widget.attrs.setdefault("class", "form-select")
    form.fields["file"].widget.attrs.setdefault("class", "form-control")
    form.fields["file"].widget.attrs.setdefault("accept", ".csv,text/csv")
    form.fields["dry_run"].widget.attrs.setdefault("class", "form-check-input")
    return form


def _run(request: HttpRequest, *, kind: str, name: str, data: bytes, dry_run: bool, match_on: str):
    context = ChangeContext(
        actor=request.user, source=ChangeSource.IMPORT, source_ref=f"web {name}"[:100]
    )
    return imports.import_csv(
        context=context, kind=kind, data=data, dry_run=dry_run, match_on=match_on or None
    )


def _remember(request: HttpRequest, *, kind: str, name: str, data: bytes, match_on: str) -> str:
    token = secrets.token_urlsafe(16)
    request.session[SESSION_KEY] = {
        "token": token,
        "kind": kind,
        "name": name,
        "match_on": match_on,
        "data": base64.b64encode(zlib.compress(data, 6)).decode("ascii"),
    }
    return token


def _recall(request: HttpRequest, token: str) -> dict | None:
    pending = request.session.get(SESSION_KEY)
    if not pending or not token or not secrets.compare_digest(pending["token"], token):
        return None
    del request.session[SESSION_KEY]
    return {**pending, "data": zlib.decompress(base64.b64decode(pending["data"]))}


@permission_required("cmdb.import_ci", raise_exception=True)
def import_page(request: HttpRequest) -> HttpResponse:
    """Upload a CSV of CIs or relationships: a dry run lists every bad row; then import it."""
    form = _styled(CIImportForm())
    result = None
    token = ""
    name = ""
    if request.method == "POST" and "confirm" in request.POST:
        pending = _recall(request, request.POST.get("confirm", ""))
        if pending is None:
            messages.error(request, "The checked file is no longer available; upload it again.")
            return redirect("cmdb:import")
        name = pending["name"]
        match_on = pending.get("match_on", "")
        form = _styled(
            CIImportForm(initial={"kind": pending["kind"], "dry_run": True, "match_on": match_on})
        )
        try:
            result = _run(
                request,
                kind=pending["kind"],
                name=name,
                data=pending["data"],
                dry_run=False,
                match_on=match_on,
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
    elif request.method == "POST":
        form = _styled(CIImportForm(request.POST, request.FILES))
        if form.is_valid():
            upload = form.cleaned_data["file"]
            kind = form.cleaned_data["kind"]
            name = upload.name
            if upload.size > imports.MAX_IMPORT_BYTES:
                form.add_error(
                    "file",
                    f"The file is larger than {imports.MAX_IMPORT_BYTES // (1024 * 1024)} MB.",
                )
            else:
                data = upload.read()
                dry_run = form.cleaned_data["dry_run"]
                match_on = form.cleaned_data["match_on"] if kind == "cis" else ""
                try:
                    result = _run(
                        request,
                        kind=kind,
                        name=name,
                        data=data,
                        dry_run=dry_run,
                        match_on=match_on,
                    )
                except ApplicationError as exc:
                    field = "match_on" if "match_on" in exc.extra.get("errors", {}) else "file"
                    form.add_error(field, exc.message)
                else:
                    request.session.pop(SESSION_KEY, None)
                    if result.ok and dry_run and (result.created or result.updated):
                        token = _remember(
                            request, kind=kind, name=name, data=data, match_on=match_on
                        )
    context = {
        "form": form,
        "result": result,
        "file_name": name,
        "token": token,
        "row_errors": result.row_errors[:SHOWN_ROWS] if result else [],
        "plan": [_shown(r) for r in result.rows if r["action"] != "unchanged"][:SHOWN_ROWS]
        if result
        else [],
        "shown_rows": SHOWN_ROWS,
        "match_label": MATCH_LABELS.get(result.match_on, "") if result else "",
        "ci_columns": imports.CI_COLUMNS,
        "relationship_columns": imports.RELATIONSHIP_COLUMNS,
        "max_mb": imports.MAX_IMPORT_BYTES // (1024 * 1024),
    }
    bad = bool(form.errors) or (result is not None and not result.ok)
    return render(request, "cmdb/import.html", context, status=400 if bad else 200)


def _text(value: Any) -> str:
    """A planned value as a person reads it: JSON for lists and objects, "—" for nothing."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _shown(planned: dict[str, Any]) -> dict[str, Any]:
    """A plan row with its changes as (column, old, new) texts for the table."""
    changes = planned.get("changes") or {}
    diff = [(name, _text(c["old"]), _text(c["new"])) for name, c in changes.items()]
    return {**planned, "diff": diff}


@permission_required("cmdb.view_configurationitem", raise_exception=True)
def export_cis_view(request: HttpRequest) -> HttpResponse:
    """CIs as CSV, with the filters and ordering of the CI list (`?status=production…`)."""
    filterset = CIFilterSet(request.GET or None, queryset=ConfigurationItem.objects.all())
    if filterset.is_bound and not filterset.is_valid():
        return _bad_filters(filterset)
    ordering = request.GET.get("ordering", "id")
    queryset = filterset.qs.order_by(ordering if ordering in CI_ORDERINGS else "id", "id")
    return csv_response(imports.export_cis(queryset), "cis")


@permission_required(
    ["cmdb.view_configurationitem", "cmdb.view_relationship"], raise_exception=True
)
def export_relationships_view(request: HttpRequest) -> HttpResponse:
    """Relationships as CSV, with the filters of the relationship list."""
    filterset = RelationshipFilterSet(request.GET or None, queryset=Relationship.objects.all())
    if filterset.is_bound and not filterset.is_valid():
        return _bad_filters(filterset)
    return csv_response(imports.export_relationships(filterset.qs.order_by("id")), "relationships")


def _bad_filters(filterset) -> HttpResponse:
    problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in filterset.errors.items())
    return HttpResponseBadRequest(
        f"Invalid filters, nothing exported: {problems}", content_type="text/plain; charset=utf-8"
    )
