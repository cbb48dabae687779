"""The trend report page: a form, a Chart.js chart (static/js/trends.js, data through a
`json_script` tag) and the table with the rising groups flagged."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from itsm.exceptions import ApplicationError
from itsm.permissions import permission_required

from .problem_forms import TrendForm
from .trends import trend_report


@permission_required("incidents.view_incident")
def trends_page(request: HttpRequest) -> HttpResponse:
    form = TrendForm(request.GET or None)
    report, error = None, ""
    params = {"group_by": "category", "period": "week"}
    if form.is_bound and not form.is_valid():
        error = "Choose a grouping, a period and valid dates."
    else:
        if form.is_bound:
            params = {k: v for k, v in form.cleaned_data.items() if v}
        try:
            report = trend_report(**params)
        except ApplicationError as exc:
            error = exc.message
    csv_query = urlencode({**{k: str(v) for k, v in params.items()}, "format": "csv"})
    chart = None
    if report:
        chart = {
            "labels": report["buckets"],
            "series": [
                {"label": s["label"], "counts": s["counts"], "rising": s["rising"]}
                for s in report["series"][:10]
            ],
        }
    return render(
        request,
        "incidents/trends.html",
        {"form": form, "report": report, "chart": chart, "error": error, "csv_query": csv_query},
    )
