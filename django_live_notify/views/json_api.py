"""The JSON API: the signed-in user's notifications, read state, inbox, preferences and socket token over HTTP.

Every query starts from ``Notification.objects.for_user(request.user)``, so a
notification of another user is "not found", exactly like a missing one. Read
state only changes through ``reading``, which pushes ``read`` and
``unread_count`` frames to the user's open sockets after commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.paginator import EmptyPage, Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from .. import inbox, preferences, reading, tokens
from ..conf import live_settings
from ..models import Notification
from .common import (
    InvalidParameter,
    api_view,
    filter_notifications,
    json_body,
    json_error,
    json_object,
    page_url,
    parse_flag,
    parse_number,
    parse_type,
)


@api_view("GET")
@never_cache
def api_list(request: HttpRequest) -> HttpResponse:
    """Return a page of the user's notifications: newest first, or oldest first after an id."""
    try:
        unread_only = parse_flag(request.GET, "unread")
        notification_type = parse_type(request.GET)
        after = parse_number(request.GET, "after", minimum=0)
        page_number = parse_number(request.GET, "page", minimum=1) or 1
    except InvalidParameter as error:
        return json_error(str(error), 400)
    notifications = filter_notifications(Notification.objects.for_user(request.user), unread_only, notification_type)
    if after is None:
        notifications = notifications.order_by("-id")
    else:
        notifications = notifications.filter(pk__gt=after).order_by("id")
    paginator = Paginator(notifications.select_related("sender", "target_content_type"), live_settings.page_size)
    try:
        page = paginator.page(page_number)
    except EmptyPage:
        return json_error(f"Page {page_number} does not exist; there are {paginator.num_pages}.", 404)
    return JsonResponse(
        {
            "results": [notification.to_payload() for notification in page],
            "count": paginator.count,
            "next": page_url(request, page.next_page_number()) if page.has_next() else None,
            "previous": page_url(request, page.previous_page_number()) if page.has_previous() else None,
            "unread_count": reading.unread_count(request.user),
        }
    )


@api_view("GET")
@never_cache
def api_unread_count(request: HttpRequest) -> HttpResponse:
    """Return the user's unread count."""
    return JsonResponse({"count": reading.unread_count(request.user)})


@api_view("POST")
@csrf_protect
def api_mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification read and return the new unread count."""
    if not reading.mark_read(request.user, pk):
        return json_error("Not found.", 404)
    return JsonResponse({"id": pk, "is_read": True, "unread_count": reading.unread_count(request.user)})


@api_view("POST")
@csrf_protect
def api_mark_unread(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification unread (an archived or snoozed one comes back) and return the new unread count."""
    if not reading.mark_unread(request.user, pk):
        return json_error("Not found.", 404)
    return JsonResponse({"id": pk, "is_read": False, "unread_count": reading.unread_count(request.user)})


@api_view("POST")
@csrf_protect
def api_mark_all_read(request: HttpRequest) -> HttpResponse:
    """Mark every notification read and return how many changed."""
    marked = reading.mark_all_read(request.user)
    return JsonResponse({"marked": marked, "unread_count": reading.unread_count(request.user)})


@api_view("POST")
@csrf_protect
@never_cache
def api_token(request: HttpRequest) -> HttpResponse:
    """Return a short-lived token that authenticates a socket without cookies."""
    return JsonResponse(
        {
            "token": tokens.make_token(request.user),  # type: ignore[arg-type]  # api_view: signed in
            "expires_in": live_settings.token_max_age,
            "subprotocols": [tokens.SUBPROTOCOL, tokens.TOKEN_SUBPROTOCOL_PREFIX + "<token>"],
        }
    )


@api_view("GET", "POST")
@csrf_protect
@never_cache
def api_preferences(request: HttpRequest) -> HttpResponse:
    """Return the user's delivery per notification type; POST ``{type: delivery or null}`` changes some."""
    if request.method == "POST":
        try:
            changes = _preference_changes(request)
            channel_changes = {}
            for notification_type, value in list(changes.items()):
                # {"type": {"delivery": "store", "channels": {"email": false}}} sets both.
                if isinstance(value, dict):
                    unknown = set(value) - {"delivery", "channels"}
                    if unknown:
                        raise InvalidParameter(
                            f"Unknown keys for {notification_type!r}: {', '.join(sorted(map(str, unknown)))}; "
                            'send {"delivery": ..., "channels": {"<channel>": true | false | null}}.'
                        )
                    if "channels" in value:
                        channel_changes[notification_type] = value["channels"]
                    if "delivery" in value:
                        changes[notification_type] = value["delivery"]
                    else:
                        del changes[notification_type]
            with transaction.atomic():
                preferences.set_preferences(request.user, changes)
                preferences.set_channel_preferences(request.user, channel_changes)
        except (InvalidParameter, preferences.PreferenceError) as error:
            return json_error(str(error), 400)
    rows = preferences.preferences_for(request.user)
    body: dict[str, Any] = {
        "preferences": {
            row["notification_type"]: {key: row[key] for key in ("label", "delivery", "default", "mandatory")}
            for row in rows
        },
        "deliveries": list(preferences.DELIVERIES),
    }
    channels = preferences.channel_choices()
    if channels:
        chosen = preferences.channels_for(request.user, body["preferences"])
        for notification_type, entry in body["preferences"].items():
            entry["channels"] = chosen[notification_type]
        body["channels"] = [{"name": name, "label": label} for name, label in channels]
    return JsonResponse(body)


@api_view("GET")
@never_cache
def api_inbox(request: HttpRequest) -> HttpResponse:
    """Return a page of one inbox tab (``unread``, ``all``, ``archived``), newest first, with the counts.

    Snoozed rows whose time has come are brought back first, unread and unseen.
    """
    try:
        tab = request.GET.get("tab", "all")
        page_number = parse_number(request.GET, "page", minimum=1) or 1
        rows = inbox.feed(request.user, tab)
    except (InvalidParameter, inbox.InboxError) as error:
        return json_error(str(error), 400)
    inbox.wake_snoozed(request.user)
    paginator = Paginator(rows.select_related("sender", "target_content_type"), live_settings.page_size)
    try:
        page = paginator.page(page_number)
    except EmptyPage:
        return json_error(f"Page {page_number} does not exist; there are {paginator.num_pages}.", 404)
    body: dict[str, Any] = {
        "results": [_inbox_payload(notification) for notification in page],
        "count": paginator.count,
        "next": page_url(request, page.next_page_number()) if page.has_next() else None,
    }
    body.update(inbox.counts(request.user))
    return JsonResponse(body)


@api_view("POST")
@csrf_protect
def api_mark_seen(request: HttpRequest) -> HttpResponse:
    """Mark notifications seen: body ``{"ids": [...]}``, or ``{"all": true}`` for everything the feed shows."""
    try:
        body = json_body(request)
        if body.get("all") is True:
            changed = inbox.mark_all_seen(request.user)
        else:
            changed = inbox.mark_seen(request.user, inbox.clean_ids(body.get("ids")))
    except (InvalidParameter, inbox.InboxError) as error:
        return json_error(str(error), 400)
    return JsonResponse({"marked": changed, **inbox.counts(request.user)})


@api_view("POST")
@csrf_protect
def api_archive(request: HttpRequest, pk: int) -> HttpResponse:
    """Archive one notification (it is read and seen too)."""
    return _inbox_change(request, pk, inbox.archive, True)


@api_view("POST")
@csrf_protect
def api_unarchive(request: HttpRequest, pk: int) -> HttpResponse:
    """Move one notification back from the archive."""
    return _inbox_change(request, pk, inbox.archive, False)


@api_view("POST")
@csrf_protect
def api_snooze(request: HttpRequest, pk: int) -> HttpResponse:
    """Hide one notification until ``{"until": "<ISO 8601 time>"}``; it then comes back unread and unseen."""
    try:
        until = inbox.clean_until(json_body(request).get("until"))
    except (InvalidParameter, inbox.InboxError) as error:
        return json_error(str(error), 400)
    return _inbox_change(request, pk, inbox.snooze, until)


def _inbox_change(request: HttpRequest, pk: int, change: Callable[..., bool], argument: Any) -> HttpResponse:
    if not change(request.user, pk, argument):
        return json_error("Not found.", 404)
    notification = Notification.objects.select_related("sender", "target_content_type").get(pk=pk)
    return JsonResponse({"notification": _inbox_payload(notification), **inbox.counts(request.user)})


def _inbox_payload(notification: Notification) -> dict[str, Any]:
    payload = notification.to_payload()
    payload["type_label"] = live_settings.type_label(notification.notification_type)
    return payload


def _preference_changes(request: HttpRequest) -> dict[str, Any]:
    """Return ``{type: delivery or None}`` from a JSON object body or a form body."""
    if request.content_type == "application/json":
        return json_object(request, 'Send a JSON object: {"<type>": "live" | "store" | "off" | null}.')
    return {key: value or None for key, value in request.POST.items() if key != "csrfmiddlewaretoken"}
