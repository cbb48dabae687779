"""The service desk's REST routes, mounted at /api/v1/ (contract paths `incidents/`, …).

The problems helper registers `problems`, `known-errors` and `reports` on this `router` from
their own modules; everything here is under /api/v1/ directly, not under /api/v1/incidents/.
"""

from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.include_root_view = False
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("quick-log-templates", views.QuickLogTemplateViewSet, basename="quicklogtemplate")
router.register("sla-policies", views.SlaPolicyViewSet, basename="slapolicy")

urlpatterns = [*router.urls]

# Problem management (incidents/api/problem_views.py).
from . import problem_views  # noqa: E402

router.register("problems", problem_views.ProblemViewSet, basename="problem")
router.register("known-errors", problem_views.KnownErrorViewSet, basename="knownerror")
router.register("reports", problem_views.ReportViewSet, basename="report")
urlpatterns = [*router.urls]
