"""The history page, the preferences page and the JSON API: the signed-in user's notifications over HTTP.

``pages`` holds the HTML pages and their form posts, ``json_api`` the JSON API, ``common`` what both read
requests with (and ``api_view``), ``prometheus`` the metrics view. Every view is importable from here.
"""

from .common import (
    DIGITS,
    FALSE_VALUES,
    MAX_NUMBER,
    TRUE_VALUES,
    InvalidParameter,
    api_view,
)
from .json_api import (
    api_archive,
    api_inbox,
    api_list,
    api_mark_all_read,
    api_mark_read,
    api_mark_seen,
    api_mark_unread,
    api_preferences,
    api_snooze,
    api_token,
    api_unarchive,
    api_unread_count,
)
from .pages import (
    CHANNEL_FIELD_PREFIX,
    CHANNEL_ROW_PREFIX,
    DELIVERY_FIELD_PREFIX,
    archive,
    mark_all_read,
    mark_read,
    mark_unread,
    notification_list,
    preferences_page,
    run_action,
)
from .prometheus import metrics_view

__all__ = [
    "CHANNEL_FIELD_PREFIX",
    "CHANNEL_ROW_PREFIX",
    "DELIVERY_FIELD_PREFIX",
    "DIGITS",
    "FALSE_VALUES",
    "MAX_NUMBER",
    "TRUE_VALUES",
    "InvalidParameter",
    "api_archive",
    "api_inbox",
    "api_list",
    "api_mark_all_read",
    "api_mark_read",
    "api_mark_seen",
    "api_mark_unread",
    "api_preferences",
    "api_snooze",
    "api_token",
    "api_unarchive",
    "api_unread_count",
    "api_view",
    "archive",
    "mark_all_read",
    "mark_read",
    "mark_unread",
    "metrics_view",
    "notification_list",
    "preferences_page",
    "run_action",
]
