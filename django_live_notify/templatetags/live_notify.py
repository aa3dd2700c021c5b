"""Template tags that put the live client on a page: ``{% load live_notify %}``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django import template
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.context import Context
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.timesince import timesince
from django.utils.translation import get_language, gettext, ngettext, pgettext

from .. import inbox, reading
from ..api_types import User
from ..checks import URLS_HINT
from ..conf import live_settings
from ..models import display_name

register = template.Library()

POSITIONS = ("top-right", "top-left", "bottom-right", "bottom-left")
# gettext plural rules look at n, n % 10 and n % 100, so the forms of 0 to 199 decide every count.
PLURAL_SAMPLES = 200
# The settings that change which catalogs Django reads (it forgets its own on the same signal).
CATALOG_SETTINGS = {"INSTALLED_APPS", "LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS"}
_plurals: dict[tuple[str | None, str], dict[str, Any]] = {}
SAFE_SCHEMES = ("", "http", "https")
URL_STRIPPED = "".join(chr(code) for code in range(33))


@register.simple_tag(takes_context=True)
def live_notifications(
    context: Context,
    ws_url: str | None = None,
    position: str = "top-right",
    sound: bool = False,
    badge: bool = True,
) -> str:
    """Render the client's config, the badge, the toast container and the script for the signed-in user.

    Anonymous users get nothing, so their pages never open a socket.
    """
    if position not in POSITIONS:
        raise template.TemplateSyntaxError(
            f"live_notifications: position must be one of {', '.join(POSITIONS)}; got {position!r}."
        )
    for name, value in (("sound", sound), ("badge", badge)):
        if not isinstance(value, bool):
            raise template.TemplateSyntaxError(f"live_notifications: {name} must be True or False; got {value!r}.")
    request = _request(context, "live_notifications")
    user = _user(request)
    if user is None:
        return ""
    unread_count = reading.unread_count(user)
    history_url = _url("live_notify:list", "live_notifications")
    strings = {"dismiss": gettext("Dismiss")}
    if live_settings.webpush_vapid_public_key:
        # Translators: the title the browser shows for a push notification that arrived without one.
        strings["newNotification"] = gettext("New notification")
    config = {
        "url": ws_url if ws_url is not None else "/" + live_settings.websocket_path,
        "apiUrl": _url("live_notify:api_list", "live_notifications"),
        "historyUrl": history_url,
        "heartbeatInterval": int(live_settings.heartbeat_interval * 1000),
        "position": position,
        "sound": sound,
        "unreadCount": unread_count,
        "lastId": reading.latest_id(user),
        "csrfToken": get_token(request),
        "analytics": live_settings.analytics,
        "ackInterval": live_settings.ack_interval,
        "strings": strings,
    }
    if live_settings.webpush_vapid_public_key:
        config["push"] = _push_config()
    values = {"config": config, "position": position, "badge": badge, **_badge_values(unread_count, history_url)}
    return _render(context, "django_live_notify/live_notifications.html", values)


@register.simple_tag(takes_context=True)
def live_notify_unread_count(context: Context) -> int:
    """Return the signed-in user's unread count, 0 for anonymous users."""
    user = _user(_request(context, "live_notify_unread_count"))
    return 0 if user is None else reading.unread_count(user)


@register.simple_tag(takes_context=True)
def live_notify_badge(context: Context) -> str:
    """Render only the bell and badge (for layouts that place them apart from the client)."""
    user = _user(_request(context, "live_notify_badge"))
    if user is None:
        return ""
    history_url = _url("live_notify:list", "live_notify_badge")
    return _render(context, "django_live_notify/badge.html", _badge_values(reading.unread_count(user), history_url))


def _badge_values(unread_count: int, history_url: str) -> dict[str, Any]:
    """Return what badge.html shows: the count, and for screen readers "N unread" with its forms for the client."""
    unread = _unread_phrase()
    return {
        "unread_count": unread_count,
        "history_url": history_url,
        "unread_plural_json": json.dumps(unread),
        "unread_text": plural_text(unread, unread_count),
    }


def _unread_phrase() -> dict[str, Any]:
    """Return the forms of "N unread": the inbox's summary, and what follows "Notifications" on the bell."""
    # Translators: how many of the user's notifications are unread (the inbox's summary, and the bell's count).
    return plural_forms("unread_summary", lambda count: ngettext("%(counter)s unread", "%(counter)s unread", count))


@register.simple_tag(takes_context=True)
def live_notify_inbox(context: Context) -> str:
    """Render the bell with the unseen badge and the inbox popover it opens (see docs/inbox.rst).

    Live updates come from the client that ``{% live_notifications %}`` starts;
    without it the inbox still works over HTTP. Anonymous users get nothing.
    """
    request = _request(context, "live_notify_inbox")
    user = _user(request)
    if user is None:
        return ""
    counts = inbox.counts(user)
    bell_label = plural_forms(
        "bell_label",
        # Translators: the inbox bell's label for screen readers; %(counter)s notifications were not seen yet.
        lambda count: ngettext("Notifications, %(counter)s new", "Notifications, %(counter)s new", count),
    )
    notifications = gettext("Notifications")
    unread_summary = _unread_phrase()
    config = {
        "inboxUrl": _url("live_notify:api_inbox", "live_notify_inbox"),
        "seenUrl": _url("live_notify:api_mark_seen", "live_notify_inbox"),
        "readAllUrl": _url("live_notify:api_mark_all_read", "live_notify_inbox"),
        # Per-row URLs, with 0 where the id goes.
        "readUrl": reverse("live_notify:api_mark_read", args=[0]),
        "archiveUrl": reverse("live_notify:api_archive", args=[0]),
        "unarchiveUrl": reverse("live_notify:api_unarchive", args=[0]),
        "snoozeUrl": reverse("live_notify:api_snooze", args=[0]),
        "historyUrl": _url("live_notify:list", "live_notify_inbox"),
        "csrfToken": get_token(request),
        "unseenCount": counts["unseen_count"],
        "unreadCount": counts["unread_count"],
        "nextWake": counts["next_wake"],
        "strings": {
            "markRead": gettext("Mark read"),
            "archive": gettext("Archive"),
            "unarchive": gettext("Unarchive"),
            "snooze": gettext("Snooze"),
            "snoozeUntil": gettext("Snooze until"),
            "inOneHour": gettext("1 hour"),
            "tomorrow": gettext("Tomorrow 9:00"),
            "nextWeek": gettext("Next week"),
            "cancel": gettext("Cancel"),
            # Translators: %(time)s is a date and time, such as "Dec 6, 2026, 9:00 AM".
            "snoozedUntilTime": gettext("Snoozed until %(time)s"),
            # Translators: the screen-reader label of a button in one row: "Archive: Invoice paid".
            "controlLabel": gettext("%(action)s: %(title)s"),
            "justNow": gettext("just now"),
            "loading": gettext("Loading…"),
            "failed": gettext("Could not load notifications."),
            "unread": pgettext("state of one notification", "unread"),
            "notifications": notifications,
        },
        "plurals": {"bellLabel": bell_label, "unreadSummary": unread_summary},
    }
    values = {
        "config": config,
        "unseen_count": counts["unseen_count"],
        "unread_count": counts["unread_count"],
        "bell_label": plural_text(bell_label, counts["unseen_count"]) if counts["unseen_count"] else notifications,
        "unread_summary_text": plural_text(unread_summary, counts["unread_count"]),
    }
    return _render(context, "django_live_notify/inbox.html", values)


def plural_forms(name: str, translate: Callable[[int], str]) -> dict[str, Any]:
    """Return the active language's forms of a counted message, and which form each count takes, for a script.

    ``translate`` is the message's ``ngettext()`` for a count; ``name`` names the message in the per-language cache.
    ``index`` holds one digit, the form's position in ``forms``, per count from 0 to 199; a count of 200 or more
    takes the form of 100 + count % 100. The forms keep their ``%(counter)s`` placeholder. Do not change the dict.
    """
    key = (get_language(), name)
    # 200 lookups take about a millisecond: once per language and message, until the catalogs' settings change.
    found = _plurals.get(key)
    if found is None:
        texts = [translate(count) for count in range(PLURAL_SAMPLES)]
        forms = list(dict.fromkeys(texts))
        found = _plurals[key] = {"forms": forms, "index": "".join(str(forms.index(text)) for text in texts)}
    return found


@receiver(setting_changed)
def _forget_plurals(setting: str, **kwargs: Any) -> None:
    if setting in CATALOG_SETTINGS:
        _plurals.clear()


def plural_text(plural: dict[str, Any], count: int) -> str:
    """Return the text ``plural_forms()`` gives for ``count``, as the scripts compute it."""
    position = count if count < PLURAL_SAMPLES else PLURAL_SAMPLES // 2 + count % (PLURAL_SAMPLES // 2)
    return str(plural["forms"][int(plural["index"][position])]) % {"counter": count}


@register.filter
def live_notify_ago(moment: datetime | None) -> str:
    """Return how long ago ``moment`` was: "just now" under a minute, else "5 minutes ago"."""
    if not moment:
        return ""
    if timezone.now() - moment < timedelta(minutes=1):
        return gettext("just now")
    return gettext("%(time)s ago") % {"time": timesince(moment, depth=1)}


@register.filter
def live_notify_type_label(notification_type: object) -> str:
    """Return the human label of a notification type."""
    return live_settings.type_label(str(notification_type))


@register.filter
def live_notify_safe_url(url: object) -> str:
    """Return ``url`` when a link to it is safe (http, https or relative), else ""."""
    # Browsers strip control characters and spaces around a URL and drop tabs and newlines
    # inside it: " java\tscript:" is "javascript:".
    text = str(url or "").strip(URL_STRIPPED)
    cleaned = "".join(character for character in text if character not in "\t\r\n")
    try:
        scheme = urlsplit(cleaned).scheme.lower()
    except ValueError:
        return ""
    return cleaned if cleaned and scheme in SAFE_SCHEMES else ""


@register.filter
def live_notify_display_name(user: User | None) -> str:
    """Return the name shown for a user: the full name, else the username."""
    return display_name(user) if user is not None else ""


def _request(context: Context, tag: str) -> HttpRequest:
    request: HttpRequest | None = context.get("request") or getattr(context, "request", None)
    if request is None:
        raise ImproperlyConfigured(
            f"{{% {tag} %}} needs the request: render the template with a request (render(request, ...)) "
            "or add 'django.template.context_processors.request' to the context processors in TEMPLATES."
        )
    return request


def _url(name: str, tag: str) -> str:
    """Reverse one of the app's URLs, or say how to include them (system check E007 says it too)."""
    try:
        return reverse(name)
    except NoReverseMatch as error:
        raise ImproperlyConfigured(
            f"{{% {tag} %}} cannot find the URL {name!r}: the app's URLs are not included. {URLS_HINT}"
        ) from error


def _push_config() -> dict[str, str]:
    """Return what ``enablePush()`` needs: the VAPID public key, the worker's URL and scope, the endpoints."""
    return {
        "publicKey": live_settings.webpush_vapid_public_key,
        "serviceWorkerUrl": _url("live_notify:push_service_worker", "live_notifications"),
        "scope": live_settings.webpush_service_worker_scope,
        "subscribeUrl": _url("live_notify:push_subscribe", "live_notifications"),
        "unsubscribeUrl": _url("live_notify:push_unsubscribe", "live_notifications"),
    }


def _user(request: HttpRequest) -> User | None:
    """Return the request's authenticated user, or None."""
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _render(context: Context, template_name: str, values: dict[str, Any]) -> SafeString:
    """Render a template of this app with the engine, autoescaping and CSRF token of the calling template."""
    new_context = context.new(values)
    csrf_token = context.get("csrf_token")
    if csrf_token is not None:
        new_context["csrf_token"] = csrf_token
    # Called from a template tag: context.template is the calling template.
    return context.template.engine.get_template(template_name).render(new_context)  # type: ignore[union-attr]
