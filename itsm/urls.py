"""Root URLs: the web UI, the admin, and the REST API under /api/v1/."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views

api_v1 = [
    path("cmdb/", include("cmdb.api.urls")),
    # The agent executor's signed endpoints (releases uses agents; agents never imports it).
    path("agents/deployments/", include("releases.agent_urls")),
    path("agents/", include("agents.api.urls")),
    path("changes/", include("changes.api.urls")),
    path("", include("incidents.api.urls")),
    path("", include("releases.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", login_not_required(views.LoginView.as_view()), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("account/tokens/", views.api_tokens, name="api-tokens"),
    path("account/tokens/<int:pk>/revoke/", views.api_token_revoke, name="api-token-revoke"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("cmdb/", include("cmdb.urls")),
    path("agents/", include("agents.urls")),
    path("changes/", include("changes.urls")),
    path("", include("incidents.problem_urls")),
    path("releases/", include("releases.urls")),
    path("incidents/", include("incidents.urls")),
    path("portal/", include("incidents.portal_urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
]

handler403 = "itsm.views.permission_denied"
handler404 = "itsm.views.page_not_found"
handler500 = "itsm.views.server_error"
