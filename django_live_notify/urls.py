"""The history page and the JSON API; include them under any prefix, e.g. ``path("notifications/", ...)``."""

from django.urls import path

from . import views

app_name = "live_notify"

urlpatterns = [
    path("", views.notification_list, name="list"),
    path("<int:pk>/read/", views.mark_read, name="mark_read"),
    path("read-all/", views.mark_all_read, name="mark_all_read"),
    path("<int:pk>/actions/<slug:name>/", views.run_action, name="action"),
    path("preferences/", views.preferences_page, name="preferences"),
    path("api/", views.api_list, name="api_list"),
    path("api/unread-count/", views.api_unread_count, name="api_unread_count"),
    path("api/<int:pk>/read/", views.api_mark_read, name="api_mark_read"),
    path("api/read-all/", views.api_mark_all_read, name="api_mark_all_read"),
    path("api/token/", views.api_token, name="api_token"),
    path("api/preferences/", views.api_preferences, name="api_preferences"),
]
