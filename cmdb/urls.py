from django.urls import path

from . import import_views, lookups, views

app_name = "cmdb"

urlpatterns = [
    path("cis/", views.ci_list, name="ci-list"),
    path("cis/new/", views.ci_create, name="ci-create"),
    path("cis/<int:pk>/", views.ci_detail, name="ci-detail"),
    path("cis/<int:pk>/edit/", views.ci_edit, name="ci-edit"),
    path("cis/<int:pk>/transition/", views.ci_transition, name="ci-transition"),
    path("cis/<int:pk>/impact/", views.ci_impact, name="ci-impact"),
    path("cis/<int:pk>/relationships/add/", views.relationship_add, name="relationship-add"),
    path(
        "cis/<int:pk>/relationships/<int:rel_pk>/remove/",
        views.relationship_remove,
        name="relationship-remove",
    ),
    path("cis/<int:pk>/roles/add/", views.role_add, name="role-add"),
    path("cis/<int:pk>/roles/<int:role_pk>/remove/", views.role_remove, name="role-remove"),
    path("lookup/users/", lookups.lookup_users, name="lookup-users"),
    path("lookup/cis/", lookups.lookup_cis, name="lookup-cis"),
    path("cis/attribute-fields/", lookups.ci_attribute_fields, name="ci-attribute-fields"),
    path("relationships/", views.relationship_list, name="relationship-list"),
    path("import/", import_views.import_page, name="import"),
    path("export/cis.csv", import_views.export_cis_view, name="export-cis"),
    path(
        "export/relationships.csv",
        import_views.export_relationships_view,
        name="export-relationships",
    ),
]
