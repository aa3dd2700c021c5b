"""The HTML side: the history page, its form posts, the preferences page, and running a notification's action.

The form views redirect back to ``next`` (a URL of this site) or the list; a
notification of another user is a 404, exactly like a missing one.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from .. import actions, inbox, preferences, reading
from ..conf import live_settings
from ..models import Notification, NotificationPreference
from .common import (
    TRUE_VALUES,
    InvalidParameter,
    api_view,
    filter_notifications,
    json_error,
    parse_type,
    redirect_back,
)

# Names of the preferences form's fields: "delivery:<notification type>".
DELIVERY_FIELD_PREFIX = "delivery:"
# The channel checkboxes: "channel:<channel>:<type>", and "channels:<type>" on rows that show them.
CHANNEL_FIELD_PREFIX = "channel:"
CHANNEL_ROW_PREFIX = "channels:"


@require_safe
@login_required
@never_cache
def notification_list(request: HttpRequest) -> HttpResponse:
    """Show the user's notifications, newest first, a page at a time."""
    notifications = Notification.objects.for_user(request.user)
    # The page is forgiving: a value it cannot use shows everything rather than an error.
    unread_only = request.GET.get("unread", "").lower() in TRUE_VALUES
    try:
        notification_type = parse_type(request.GET)
    except InvalidParameter:
        notification_type = ""
    shown = filter_notifications(notifications, unread_only, notification_type)
    paginator = Paginator(shown.select_related("sender").order_by("-id"), live_settings.page_size)
    page = paginator.get_page(request.GET.get("page"))
    filter_query = request.GET.copy()
    filter_query.pop("page", None)
    context = {
        "page_obj": page,
        "notifications": page.object_list,
        "unread_only": unread_only,
        "notification_type": notification_type,
        "type_choices": _type_choices(notifications),
        "unread_count": reading.unread_count(request.user),
        "filter_query": filter_query.urlencode(),
        "next_url": request.get_full_path(),
    }
    return render(request, "django_live_notify/notification_list.html", context)


def _type_choices(notifications: QuerySet[Notification]) -> list[tuple[str, str]]:
    """Return the configured types, else the types the user has, as (value, label) pairs."""
    configured = live_settings.type_choices()
    if configured is not None:
        return configured
    present = notifications.order_by("notification_type").values_list("notification_type", flat=True).distinct()
    return [(value, live_settings.type_label(value)) for value in present]


@require_POST
@csrf_protect
@login_required
def mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification read, then go back to ``next`` or the list."""
    if not reading.mark_read(request.user, pk):
        raise Http404("No such notification.")
    return redirect_back(request)


@require_POST
@csrf_protect
@login_required
def mark_unread(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification unread (django-notifications-hq's ``mark_as_unread``), then go back."""
    if not reading.mark_unread(request.user, pk):
        raise Http404("No such notification.")
    return redirect_back(request)


@require_POST
@csrf_protect
@login_required
def archive(request: HttpRequest, pk: int) -> HttpResponse:
    """Archive one notification (django-notifications-hq's ``delete``), then go back."""
    if not inbox.archive(request.user, pk):
        raise Http404("No such notification.")
    return redirect_back(request)


@require_POST
@csrf_protect
@login_required
def mark_all_read(request: HttpRequest) -> HttpResponse:
    """Mark every notification read, then go back to ``next`` or the list."""
    reading.mark_all_read(request.user)
    return redirect_back(request)


@require_http_methods(["GET", "HEAD", "POST"])
@csrf_protect
@login_required
@never_cache
def preferences_page(request: HttpRequest) -> HttpResponse:
    """Show the user's delivery choice per notification type, and save it (a choice of the default follows it)."""
    error = ""
    if request.method == "POST":
        changes: dict[str, Any] = {}
        for key, value in request.POST.items():
            if key.startswith(DELIVERY_FIELD_PREFIX):
                notification_type = key[len(DELIVERY_FIELD_PREFIX) :]
                # Choosing the default means following it, should it change later.
                is_default = value == preferences.default_delivery(notification_type)
                changes[notification_type] = None if is_default else value
        channel_changes = {
            key[len(CHANNEL_ROW_PREFIX) :]: {
                channel: f"{CHANNEL_FIELD_PREFIX}{channel}:{key[len(CHANNEL_ROW_PREFIX) :]}" in request.POST
                for channel, _label in preferences.channel_choices()
            }
            for key in request.POST
            if key.startswith(CHANNEL_ROW_PREFIX)
        }
        try:
            with transaction.atomic():
                preferences.set_preferences(request.user, changes)
                preferences.set_channel_preferences(request.user, channel_changes)
        except preferences.PreferenceError as exception:
            error = str(exception)
        else:
            return HttpResponseRedirect(f"{request.path}?saved=1")
    rows = preferences.preferences_for(request.user)
    channels = preferences.channel_choices()
    if channels:
        chosen = preferences.channels_for(request.user, [row["notification_type"] for row in rows])
        for row in rows:
            row["channels"] = [
                {"name": name, "label": label, "enabled": chosen[row["notification_type"]][name]}
                for name, label in channels
            ]
    context = {
        "preferences": rows,
        "channels": channels,
        "choices": list(NotificationPreference.DELIVERY),
        "field_prefix": DELIVERY_FIELD_PREFIX,
        "channel_prefix": CHANNEL_FIELD_PREFIX,
        "channel_row_prefix": CHANNEL_ROW_PREFIX,
        "saved": request.GET.get("saved") == "1" and not error,
        "error": error,
    }
    return render(request, "django_live_notify/preferences.html", context, status=400 if error else 200)


@api_view("POST")
@csrf_protect
def run_action(request: HttpRequest, pk: int, name: str) -> HttpResponseBase:
    """Run the handler of a POST action of one of the user's notifications, then mark the notification read.

    A notification of another user, a missing one, and an action it does not
    carry (or that has no handler) all answer the same 404. The handler runs
    in a transaction with the mark read; an error response from it (status 400
    or more) leaves the notification unread. A browser's form post is
    redirected back; a script gets JSON.
    """
    html = _prefers_html(request)
    notification = Notification.objects.for_user(request.user).filter(pk=pk).first()
    handler = actions.get_handler(name)
    stored = None if notification is None else actions.find_action(notification.actions, name)
    if notification is None or handler is None or stored is None:
        if html:
            raise Http404("No such action.")
        return json_error("Not found.", 404)
    with transaction.atomic():
        # Claimed before the handler runs, so two clicks (two tabs) never run it twice.
        claimed = inbox.record_outcome(request.user, notification, name, stored.get("outcome") or _("Done"))
        if not claimed:
            if html:
                return redirect_back(request)
            outcome = notification.outcome_payload() or {}
            response = json_error(f"This notification's action was used already: {outcome.get('label', '')}", 409)
            return response
        result = handler(request, notification)
        if isinstance(result, HttpResponseBase) and result.status_code >= 400:
            transaction.set_rollback(True)
        else:
            if isinstance(result, dict) and isinstance(result.get("outcome"), str) and result["outcome"]:
                Notification.objects.filter(pk=notification.pk).update(action_outcome=result["outcome"][:100])
                notification.action_outcome = result["outcome"][:100]
            reading.mark_read(request.user, notification.pk)
    if isinstance(result, HttpResponseBase):
        return result
    if html:
        return redirect_back(request)
    return JsonResponse(
        {
            "id": notification.pk,
            "action": name,
            "is_read": True,
            "unread_count": reading.unread_count(request.user),
            "outcome": notification.outcome_payload(),
            "result": result,
        }
    )


def _prefers_html(request: HttpRequest) -> bool:
    """Tell a browser's form post (redirect it) from a script asking for JSON (answer JSON)."""
    return request.get_preferred_type(["application/json", "text/html"]) == "text/html"
