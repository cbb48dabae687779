"""URLs of the agents web UI, mounted under /agents/."""

from django.urls import path

from . import views

app_name = "agents"

urlpatterns = [
    path("", views.agent_list, name="agent-list"),
    path("<int:pk>/", views.agent_detail, name="agent-detail"),
    path("<int:pk>/update/", views.agent_update, name="agent-update"),
    path("<int:pk>/approve/", views.agent_approve, name="agent-approve"),
    path("<int:pk>/revoke/", views.agent_revoke, name="agent-revoke"),
    path("tokens/", views.token_list, name="token-list"),
    path("policies/", views.policy_list, name="policy-list"),
    path("policies/new/", views.policy_create, name="policy-create"),
    path("policies/<int:pk>/edit/", views.policy_edit, name="policy-edit"),
    path("discrepancies/", views.discrepancy_list, name="discrepancy-list"),
    path("discrepancies/<int:pk>/close/", views.discrepancy_close, name="discrepancy-close"),
    path(
        "discrepancies/<int:pk>/approve-binding/",
        views.discrepancy_binding,
        {"decision": "approve"},
        name="discrepancy-approve-binding",
    ),
    path(
        "discrepancies/<int:pk>/refuse-binding/",
        views.discrepancy_binding,
        {"decision": "refuse"},
        name="discrepancy-refuse-binding",
    ),
    path("health/", views.health, name="health"),
    path("security-log/", views.security_log, name="security-log"),
]
