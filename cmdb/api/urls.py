from django.urls import path
from rest_framework.routers import DefaultRouter

from . import import_views, views

router = DefaultRouter()
router.register("ci-types", views.CITypeViewSet, basename="citype")
router.register("cis", views.CIViewSet, basename="ci")
router.register("relationship-types", views.RelationshipTypeViewSet, basename="relationshiptype")
router.register("relationships", views.RelationshipViewSet, basename="relationship")

urlpatterns = [
    *router.urls,
    path("import/cis/", import_views.ImportCIsView.as_view(), name="ci-import"),
    path(
        "import/relationships/",
        import_views.ImportRelationshipsView.as_view(),
        name="relationship-import",
    ),
    path("export/cis/", import_views.ExportCIsView.as_view(), name="ci-export"),
    path(
        "export/relationships/",
        import_views.ExportRelationshipsView.as_view(),
        name="relationship-export",
    ),
]
