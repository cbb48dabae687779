from django.urls import path

from . import portal_views

app_name = "portal"

urlpatterns = [
    path("", portal_views.home, name="home"),
    path("tickets/", portal_views.ticket_list, name="tickets"),
    path("tickets/<int:pk>/", portal_views.ticket, name="ticket"),
    path("tickets/<int:pk>/comment/", portal_views.ticket_comment, name="comment"),
    path("tickets/<int:pk>/confirm/", portal_views.ticket_confirm, name="confirm"),
    path("tickets/<int:pk>/reopen/", portal_views.ticket_reopen, name="reopen"),
    path("known-errors/", portal_views.known_errors, name="known-errors"),
]
