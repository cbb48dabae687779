from django.urls import path

from . import views

app_name = "changes"

urlpatterns = [
    path("calendar.ics", views.calendar_feed, name="calendar-ics"),
    path("<int:pk>/", views.change_detail, name="change-detail"),
]
