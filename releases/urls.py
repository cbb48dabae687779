"""URLs of the release UI (included at `releases/`)."""

from django.urls import path

from . import library_views, views

app_name = "releases"

urlpatterns = [
    path("", views.release_list, name="release-list"),
    path("<int:pk>/", views.release_detail, name="release-detail"),
    path("<int:pk>/progress/", views.release_progress, name="release-progress"),
    path("<int:pk>/readiness/", views.readiness, name="readiness"),
    path("<int:pk>/deploy/", views.deploy, name="deploy"),
    path("<int:pk>/pause/", views.pause, name="pause"),
    path("<int:pk>/resume/", views.resume, name="resume"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
    path("<int:pk>/fail/", views.fail, name="fail"),
    path("<int:pk>/window/", views.deployment_window, name="deployment-window"),
    path("<int:pk>/backout/", views.backout, name="backout"),
    path("<int:pk>/waves/<int:wave_id>/sign-off/", views.wave_sign_off, name="wave-sign-off"),
    path(
        "<int:pk>/waves/<int:wave_id>/technician/",
        views.wave_technician,
        name="wave-technician",
    ),
    path("targets/", views.targets, name="targets"),
    path("targets/<int:target_id>/technician/", views.target_technician, name="target-technician"),
    path("targets/<int:target_id>/retry/", views.target_retry, name="target-retry"),
    path("targets/<int:target_id>/backout/", views.target_backout, name="target-backout"),
    path("software-library/", library_views.artifact_list, name="artifact-list"),
    path("software-library/new/", library_views.artifact_create, name="artifact-create"),
    path("software-library/<int:pk>/", library_views.artifact_detail, name="artifact-detail"),
]
