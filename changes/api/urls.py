"""The change-management API, mounted at /api/v1/changes/ (the RFCs at its root)."""

from rest_framework.routers import SimpleRouter

from . import views

# SimpleRouter: the RFC list sits at the root, where DefaultRouter would put its API index.
# Sub-resources first, so their prefixes are never read as an RFC id.
router = SimpleRouter()
router.register("templates", views.TemplateViewSet, basename="changetemplate")
router.register("blackouts", views.BlackoutViewSet, basename="blackout")
router.register("cab-meetings", views.CabMeetingViewSet, basename="cabmeeting")
router.register("approval-bodies", views.ApprovalBodyViewSet, basename="approvalbody")
router.register("approval-rules", views.ApprovalRuleViewSet, basename="approvalrule")
router.register("", views.ChangeViewSet, basename="change")

urlpatterns = router.urls
