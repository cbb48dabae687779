"""The service desk's REST API (mounted at /api/v1/)."""

from rest_framework.routers import DefaultRouter

from . import problem_views

router = DefaultRouter()
router.register("problems", problem_views.ProblemViewSet, basename="problem")
router.register("known-errors", problem_views.KnownErrorViewSet, basename="knownerror")
router.register("reports", problem_views.ReportViewSet, basename="report")

urlpatterns = router.urls
