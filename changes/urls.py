from django.urls import path

from . import cab_views, page_views, views

app_name = "changes"

urlpatterns = [
    # The web pages (page_views, cab_views); listed first so they take precedence.
    path("", page_views.change_list, name="change-list"),
    path("new/", page_views.change_create, name="change-create"),
    path("template-prefill/", page_views.template_prefill, name="template-prefill"),
    path("<int:pk>/", page_views.change_detail, name="change-detail"),
    path("<int:pk>/edit/", page_views.change_edit, name="change-edit"),
    path("<int:pk>/do/<slug:action>/", page_views.change_action, name="change-action"),
    path("<int:pk>/attachments/", page_views.attachment_add, name="attachment-add"),
    path(
        "<int:pk>/attachments/<int:attachment_pk>/",
        page_views.attachment_download,
        name="attachment-download",
    ),
    path("<int:pk>/schedule-preview/", page_views.schedule_preview, name="schedule-preview"),
    path("cab/", cab_views.cab_page, name="cab"),
    path("cab/<int:pk>/vote/", cab_views.cab_vote, name="cab-vote"),
    path("cab/<int:pk>/details/", cab_views.cab_details, name="cab-details"),
    path("meetings/", cab_views.meeting_list, name="meeting-list"),
    path("meetings/new/", cab_views.meeting_create, name="meeting-create"),
    path("meetings/<int:pk>/", cab_views.meeting_detail, name="meeting-detail"),
    path(
        "meetings/<int:pk>/items/<int:item_pk>/decide/",
        cab_views.meeting_decide,
        name="meeting-decide",
    ),
    path("calendar/", cab_views.calendar_page, name="calendar"),
    path("metrics/", cab_views.metrics_page, name="metrics"),
    path("conflicts/", cab_views.conflicts_page, name="conflicts"),
    # The iCalendar feed (subscribed to from mail clients with a signed per-user token).
    path("calendar.ics", views.calendar_feed, name="calendar-ics"),
]
