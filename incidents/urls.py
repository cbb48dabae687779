from django.urls import path

from . import detail_views, views

app_name = "incidents"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("counts/", views.queue_counts, name="counts"),
    path("new/", views.incident_create, name="new"),
    path("quick-log/<int:template_pk>/", views.quick_log, name="quick-log"),
    path("bulk/assign-to-me/", views.bulk_assign_to_me, name="bulk-assign"),
    path("filters/save/", views.saved_filter_save, name="filter-save"),
    path("filters/<int:pk>/delete/", views.saved_filter_delete, name="filter-delete"),
    path("lookup/cis/", views.lookup_cis, name="lookup-cis"),
    path("lookup/caller/", views.lookup_caller, name="lookup-caller"),
    path("<int:pk>/", detail_views.incident_detail, name="detail"),
    path("<int:pk>/edit/", detail_views.incident_edit, name="edit"),
    path("<int:pk>/worklog/", detail_views.worklog_add, name="worklog"),
    path("<int:pk>/link/", detail_views.incident_link, name="link"),
    path("<int:pk>/<slug:action>/", detail_views.incident_action, name="action"),
]
