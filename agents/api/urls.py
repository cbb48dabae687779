from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("enrollment-tokens", views.EnrollmentTokenViewSet, basename="enrollmenttoken")
router.register("policies", views.AgentGroupViewSet, basename="agentgroup")
router.register("inventory-reports", views.InventoryReportViewSet, basename="inventoryreport")
router.register("events", views.CIEventViewSet, basename="cievent")
router.register("discrepancies", views.DiscrepancyViewSet, basename="discrepancy")
router.register("security-log", views.SecurityEventViewSet, basename="securityevent")
router.register("", views.AgentViewSet, basename="agent")

urlpatterns = [
    path("enroll/", views.EnrollView.as_view(), name="agent-enroll"),
    path("reports/", views.ReportView.as_view(), name="agent-reports"),
    path("policy/", views.PolicyView.as_view(), name="agent-policy"),
    path("rotate-key/", views.RotateKeyView.as_view(), name="agent-rotate-key"),
    path("health/", views.HealthView.as_view(), name="cmdb-health"),
    *router.urls,
]
