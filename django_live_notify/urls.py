"""The history page and the JSON API; include them under any prefix, e.g. ``path("notifications/", ...)``."""

from django.urls import path

from . import push_views, views

app_name = "live_notify"

urlpatterns = [
    path("", views.notification_list, name="list"),
    path("<int:pk>/read/", views.mark_read, name="mark_read"),
    path("<int:pk>/unread/", views.mark_unread, name="mark_unread"),
    path("<int:pk>/archive/", views.archive, name="archive"),
    path("read-all/", views.mark_all_read, name="mark_all_read"),
    path("<int:pk>/actions/<slug:name>/", views.run_action, name="action"),
    path("preferences/", views.preferences_page, name="preferences"),
    path("api/", views.api_list, name="api_list"),
    path("api/unread-count/", views.api_unread_count, name="api_unread_count"),
    path("api/<int:pk>/read/", views.api_mark_read, name="api_mark_read"),
    path("api/<int:pk>/unread/", views.api_mark_unread, name="api_mark_unread"),
    path("api/read-all/", views.api_mark_all_read, name="api_mark_all_read"),
    path("api/inbox/", views.api_inbox, name="api_inbox"),
    path("api/seen/", views.api_mark_seen, name="api_mark_seen"),
    path("api/<int:pk>/archive/", views.api_archive, name="api_archive"),
    path("api/<int:pk>/unarchive/", views.api_unarchive, name="api_unarchive"),
    path("api/<int:pk>/snooze/", views.api_snooze, name="api_snooze"),
    path("api/token/", views.api_token, name="api_token"),
    path("api/preferences/", views.api_preferences, name="api_preferences"),
    path("push/sw.js", push_views.service_worker, name="push_service_worker"),
    path("push/subscribe/", push_views.subscribe, name="push_subscribe"),
    path("push/unsubscribe/", push_views.unsubscribe, name="push_unsubscribe"),
    path("push/resubscribe/", push_views.resubscribe, name="push_resubscribe"),
    path("push/read/", push_views.read, name="push_read"),
    path("metrics/", views.metrics_view, name="metrics"),
]
