"""Web pages of problems, known errors and trend reports (namespace `problems`)."""

from django.urls import path

from . import known_error_views, problem_views, trend_views

app_name = "problems"

urlpatterns = [
    path("problems/", problem_views.problem_list, name="problem-list"),
    path("problems/new/", problem_views.problem_create, name="problem-create"),
    path("problems/<int:pk>/", problem_views.problem_detail, name="problem-detail"),
    path("problems/<int:pk>/analysis/", problem_views.problem_analysis, name="problem-analysis"),
    path("problems/<int:pk>/edit/", problem_views.problem_edit, name="problem-edit"),
    path("problems/<int:pk>/link/", problem_views.problem_link, name="problem-link"),
    path(
        "problems/<int:pk>/unlink/<int:incident_pk>/",
        problem_views.problem_unlink,
        name="problem-unlink",
    ),
    path(
        "problems/<int:pk>/investigate/",
        problem_views.problem_investigate,
        name="problem-investigate",
    ),
    path("problems/<int:pk>/cause/", problem_views.problem_cause, name="problem-cause"),
    path("problems/<int:pk>/publish/", problem_views.problem_publish, name="problem-publish"),
    path("problems/<int:pk>/resolve/", problem_views.problem_resolve, name="problem-resolve"),
    path("problems/<int:pk>/close/", problem_views.problem_close, name="problem-close"),
    path("problems/<int:pk>/cancel/", problem_views.problem_cancel, name="problem-cancel"),
    path("known-errors/", known_error_views.known_error_list, name="known-error-list"),
    path("known-errors/new/", known_error_views.known_error_create, name="known-error-create"),
    path(
        "known-errors/suggest/",
        known_error_views.known_error_suggest_view,
        name="known-error-suggest",
    ),
    path("known-errors/<int:pk>/", known_error_views.known_error_detail, name="known-error-detail"),
    path(
        "known-errors/<int:pk>/edit/", known_error_views.known_error_edit, name="known-error-edit"
    ),
    path("reports/trends/", trend_views.trends_page, name="trends"),
]
