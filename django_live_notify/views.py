"""The history page, the preferences page and the JSON API: the signed-in user's notifications over HTTP.

Every query starts from ``Notification.objects.for_user(request.user)``, so a
notification of another user is "not found", exactly like a missing one. Read
state only changes through ``reading``, which pushes ``read`` and
``unread_count`` frames to the user's open sockets after commit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import EmptyPage, Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from . import actions, inbox, metrics, preferences, reading, tokens
from .conf import live_settings
from .models import Notification, NotificationPreference, NotificationQuerySet

# Largest value a 64-bit id column holds; bigger ``after`` or ``page`` values are invalid input.
MAX_NUMBER = 2**63 - 1
DIGITS = re.compile(r"[0-9]+")
TRUE_VALUES = frozenset({"1", "true"})
FALSE_VALUES = frozenset({"", "0", "false"})
# Names of the preferences form's fields: "delivery:<notification type>".
DELIVERY_FIELD_PREFIX = "delivery:"


class InvalidParameter(ValueError):
    """A query-string value the JSON API cannot use; its message is shown to the client."""


# --------------------------------------------------------------------------- the history page


@require_safe
@login_required
@never_cache
def notification_list(request: HttpRequest) -> HttpResponse:
    """Show the user's notifications, newest first, a page at a time."""
    notifications = Notification.objects.for_user(request.user)
    # The page is forgiving: a value it cannot use shows everything rather than an error.
    unread_only = request.GET.get("unread", "").lower() in TRUE_VALUES
    try:
        notification_type = _notification_type(request.GET)
    except InvalidParameter:
        notification_type = ""
    shown = _filter(notifications, unread_only, notification_type)
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


@require_POST
@csrf_protect
@login_required
def mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification read, then go back to ``next`` or the list."""
    if not reading.mark_read(request.user, pk):
        raise Http404("No such notification.")
    return _redirect_back(request)


@require_POST
@csrf_protect
@login_required
def mark_unread(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification unread (django-notifications-hq's ``mark_as_unread``), then go back."""
    if not reading.mark_unread(request.user, pk):
        raise Http404("No such notification.")
    return _redirect_back(request)


@require_POST
@csrf_protect
@login_required
def archive(request: HttpRequest, pk: int) -> HttpResponse:
    """Archive one notification (django-notifications-hq's ``delete``), then go back."""
    if not inbox.archive(request.user, pk):
        raise Http404("No such notification.")
    return _redirect_back(request)


@require_POST
@csrf_protect
@login_required
def mark_all_read(request: HttpRequest) -> HttpResponse:
    """Mark every notification read, then go back to ``next`` or the list."""
    reading.mark_all_read(request.user)
    return _redirect_back(request)


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
        try:
            preferences.set_preferences(request.user, changes)
        except preferences.PreferenceError as exception:
            error = str(exception)
        else:
            return HttpResponseRedirect(f"{request.path}?saved=1")
    context = {
        "preferences": preferences.preferences_for(request.user),
        "choices": list(NotificationPreference.DELIVERY),
        "field_prefix": DELIVERY_FIELD_PREFIX,
        "saved": request.GET.get("saved") == "1" and not error,
        "error": error,
    }
    return render(request, "django_live_notify/preferences.html", context, status=400 if error else 200)


# --------------------------------------------------------------------------- the JSON API


def api_view(*methods: str) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Answer other methods with JSON 405 and anonymous users with JSON 403 (never a login redirect)."""
    allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())

    def decorator(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method not in allowed:
                response = _error(f"Method {request.method} not allowed.", 405)
                response["Allow"] = ", ".join(sorted(allowed))
                return response
            if not request.user.is_authenticated:
                return _error("Authentication required.", 403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


@api_view("GET")
@never_cache
def api_list(request: HttpRequest) -> HttpResponse:
    """Return a page of the user's notifications: newest first, or oldest first after an id."""
    try:
        unread_only = _flag(request.GET, "unread")
        notification_type = _notification_type(request.GET)
        after = _number(request.GET, "after", minimum=0)
        page_number = _number(request.GET, "page", minimum=1) or 1
    except InvalidParameter as error:
        return _error(str(error), 400)
    notifications = _filter(Notification.objects.for_user(request.user), unread_only, notification_type)
    if after is None:
        notifications = notifications.order_by("-id")
    else:
        notifications = notifications.filter(pk__gt=after).order_by("id")
    paginator = Paginator(notifications.select_related("sender", "target_content_type"), live_settings.page_size)
    try:
        page = paginator.page(page_number)
    except EmptyPage:
        return _error(f"Page {page_number} does not exist; there are {paginator.num_pages}.", 404)
    return JsonResponse(
        {
            "results": [notification.to_payload() for notification in page],
            "count": paginator.count,
            "next": _page_url(request, page.next_page_number()) if page.has_next() else None,
            "previous": _page_url(request, page.previous_page_number()) if page.has_previous() else None,
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
        return _error("Not found.", 404)
    return JsonResponse({"id": pk, "is_read": True, "unread_count": reading.unread_count(request.user)})


@api_view("POST")
@csrf_protect
def api_mark_unread(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification unread (an archived or snoozed one comes back) and return the new unread count."""
    if not reading.mark_unread(request.user, pk):
        return _error("Not found.", 404)
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
            "token": tokens.make_token(request.user),
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
            preferences.set_preferences(request.user, _preference_changes(request))
        except (InvalidParameter, preferences.PreferenceError) as error:
            return _error(str(error), 400)
    return JsonResponse(
        {
            "preferences": {
                row["notification_type"]: {key: row[key] for key in ("label", "delivery", "default", "mandatory")}
                for row in preferences.preferences_for(request.user)
            },
            "deliveries": list(preferences.DELIVERIES),
        }
    )


@api_view("POST")
@csrf_protect
def run_action(request: HttpRequest, pk: int, name: str) -> HttpResponseBase:
    """Run the handler of a POST action of one of the user's notifications, then mark the notification read.

    A notification of another user, a missing one, and an action it does not
    carry (or that has no handler) all answer the same 404. The handler runs
    in a transaction with the mark read; an error response from it (status 400
    or more) leaves the notification unread.
    """
    html = _prefers_html(request)
    notification = Notification.objects.for_user(request.user).filter(pk=pk).first()
    handler = actions.get_handler(name)
    stored = None if notification is None else actions.find_action(notification.actions, name)
    if notification is None or handler is None or stored is None:
        if html:
            raise Http404("No such action.")
        return _error("Not found.", 404)
    with transaction.atomic():
        # Claimed before the handler runs, so two clicks (two tabs) never run it twice.
        claimed = inbox.record_outcome(request.user, notification, name, stored.get("outcome") or _("Done"))
        if not claimed:
            if html:
                return _redirect_back(request)
            outcome = notification.outcome_payload() or {}
            response = _error(f"This notification's action was used already: {outcome.get('label', '')}", 409)
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
        return _redirect_back(request)
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


@api_view("GET")
@never_cache
def api_inbox(request: HttpRequest) -> HttpResponse:
    """Return a page of one inbox tab (``unread``, ``all``, ``archived``), newest first, with the counts.

    Snoozed rows whose time has come are brought back first, unread and unseen.
    """
    try:
        tab = request.GET.get("tab", "all")
        page_number = _number(request.GET, "page", minimum=1) or 1
        rows = inbox.feed(request.user, tab)
    except (InvalidParameter, inbox.InboxError) as error:
        return _error(str(error), 400)
    inbox.wake_snoozed(request.user)
    paginator = Paginator(rows.select_related("sender", "target_content_type"), live_settings.page_size)
    try:
        page = paginator.page(page_number)
    except EmptyPage:
        return _error(f"Page {page_number} does not exist; there are {paginator.num_pages}.", 404)
    body: dict[str, Any] = {
        "results": [_inbox_payload(notification) for notification in page],
        "count": paginator.count,
        "next": _page_url(request, page.next_page_number()) if page.has_next() else None,
    }
    body.update(inbox.counts(request.user))
    return JsonResponse(body)


@api_view("POST")
@csrf_protect
def api_mark_seen(request: HttpRequest) -> HttpResponse:
    """Mark notifications seen: body ``{"ids": [...]}``, or ``{"all": true}`` for everything the feed shows."""
    try:
        body = _json_body(request)
        if body.get("all") is True:
            changed = inbox.mark_all_seen(request.user)
        else:
            changed = inbox.mark_seen(request.user, inbox.clean_ids(body.get("ids")))
    except (InvalidParameter, inbox.InboxError) as error:
        return _error(str(error), 400)
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
        until = inbox.clean_until(_json_body(request).get("until"))
    except (InvalidParameter, inbox.InboxError) as error:
        return _error(str(error), 400)
    return _inbox_change(request, pk, inbox.snooze, until)


def _inbox_change(request: HttpRequest, pk: int, change: Callable[..., bool], argument: Any) -> HttpResponse:
    if not change(request.user, pk, argument):
        return _error("Not found.", 404)
    notification = Notification.objects.select_related("sender", "target_content_type").get(pk=pk)
    return JsonResponse({"notification": _inbox_payload(notification), **inbox.counts(request.user)})


def _inbox_payload(notification: Notification) -> dict[str, Any]:
    payload = notification.to_payload()
    payload["type_label"] = live_settings.type_label(notification.notification_type)
    return payload


def _json_body(request: HttpRequest) -> dict[str, Any]:
    """Return the request's JSON object body, or its form fields; raise InvalidParameter for anything else."""
    if request.content_type != "application/json":
        return {key: request.POST.get(key) for key in request.POST if key != "csrfmiddlewaretoken"}
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):
        raise InvalidParameter("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidParameter("Send a JSON object.")
    return body


# --------------------------------------------------------------------------- helpers


def _prefers_html(request: HttpRequest) -> bool:
    """Tell a browser's form post (redirect it) from a script asking for JSON (answer JSON)."""
    return request.get_preferred_type(["application/json", "text/html"]) == "text/html"


def _preference_changes(request: HttpRequest) -> dict[str, Any]:
    """Return ``{type: delivery or None}`` from a JSON object body or a form body."""
    if request.content_type == "application/json":
        try:
            changes = json.loads(request.body or b"{}")
        except (ValueError, RecursionError):
            raise InvalidParameter("The body is not valid JSON.") from None
        if not isinstance(changes, dict):
            raise InvalidParameter('Send a JSON object: {"<type>": "live" | "store" | "off" | null}.')
        return changes
    return {key: value or None for key, value in request.POST.items() if key != "csrfmiddlewaretoken"}


def _filter(notifications: NotificationQuerySet, unread_only: bool, notification_type: str) -> QuerySet:
    if unread_only:
        notifications = notifications.unread()
    if notification_type:
        notifications = notifications.filter(notification_type=notification_type)
    return notifications


def _type_choices(notifications: QuerySet[Notification]) -> list[tuple[str, str]]:
    """Return the configured types, else the types the user has, as (value, label) pairs."""
    configured = live_settings.type_choices()
    if configured is not None:
        return configured
    present = notifications.order_by("notification_type").values_list("notification_type", flat=True).distinct()
    return [(value, live_settings.type_label(value)) for value in present]


def _flag(query: QueryDict, name: str) -> bool:
    value = query.get(name, "").lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise InvalidParameter(f"{name} must be 1 or 0 (or true or false).")


def _notification_type(query: QueryDict) -> str:
    notification_type = query.get("type", "")
    if "\x00" in notification_type:
        # PostgreSQL refuses NUL in text: say so instead of failing the query.
        raise InvalidParameter("type must not contain NUL characters.")
    allowed = live_settings.allowed_types
    if notification_type and allowed is not None and notification_type not in allowed:
        values = [value for value, _label in live_settings.notification_types or ()]
        raise InvalidParameter("type must be one of: " + ", ".join(values) + ".")
    return notification_type


def _number(query: QueryDict, name: str, minimum: int) -> int | None:
    """Return the integer parameter ``name`` (None when absent or empty); raise for anything else."""
    value = query.get(name, "")
    if not value:
        return None
    kind = "a non-negative" if minimum == 0 else "a positive"
    if not DIGITS.fullmatch(value) or len(value) > len(str(MAX_NUMBER)) or not minimum <= int(value) <= MAX_NUMBER:
        raise InvalidParameter(f"{name} must be {kind} integer, not {value[:20]!r}.")
    return int(value)


def _page_url(request: HttpRequest, number: int) -> str:
    """Return this request's path and query with ``page`` set (relative, so it keeps the page's scheme)."""
    query = request.GET.copy()
    query["page"] = str(number)
    return f"{request.path}?{query.urlencode()}"


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _redirect_back(request: HttpRequest) -> HttpResponse:
    """Redirect to ``next`` when it is a URL of this site, else to the list."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    namespace = request.resolver_match.namespace if request.resolver_match else None
    return HttpResponseRedirect(reverse("live_notify:list", current_app=namespace))


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Serve the Prometheus metrics to an allowed address or a bearer of ``METRICS_TOKEN``; 404 to anyone else.

    404, not 403: the view does not tell that it exists. 404 too when metrics are off or
    prometheus_client is not installed.
    """
    if not metrics.enabled() or not metrics.request_allowed(request):
        raise Http404
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)
