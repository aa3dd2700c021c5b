"""What the pages and the JSON API share: reading the query string and body, the JSON error, the redirect back.

``api_view`` guards every JSON view (and the push views): JSON 405 and 403, never a login redirect.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from ..conf import live_settings
from ..models import NotificationQuerySet

# Largest value a 64-bit id column holds; bigger ``after`` or ``page`` values are invalid input.
MAX_NUMBER = 2**63 - 1
DIGITS = re.compile(r"[0-9]+")
TRUE_VALUES = frozenset({"1", "true"})
FALSE_VALUES = frozenset({"", "0", "false"})


class InvalidParameter(ValueError):
    """A query-string value the JSON API cannot use; its message is shown to the client."""


def api_view(*methods: str) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Answer other methods with JSON 405 and anonymous users with JSON 403 (never a login redirect)."""
    allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())

    def decorator(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method not in allowed:
                response = json_error(f"Method {request.method} not allowed.", 405)
                response["Allow"] = ", ".join(sorted(allowed))
                return response
            if not request.user.is_authenticated:
                return json_error("Authentication required.", 403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def json_error(message: str, status: int) -> JsonResponse:
    """Return ``{"error": message}`` with ``status``."""
    return JsonResponse({"error": message}, status=status)


def redirect_back(request: HttpRequest) -> HttpResponse:
    """Redirect to ``next`` when it is a URL of this site, else to the list."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    namespace = request.resolver_match.namespace if request.resolver_match else None
    return HttpResponseRedirect(reverse("live_notify:list", current_app=namespace))


def json_body(request: HttpRequest) -> dict[str, Any]:
    """Return the request's JSON object body, or its form fields; raise InvalidParameter for anything else."""
    if request.content_type != "application/json":
        return {key: request.POST.get(key) for key in request.POST if key != "csrfmiddlewaretoken"}
    return json_object(request)


def json_object(request: HttpRequest, shape: str = "Send a JSON object.") -> dict[str, Any]:
    """Return the request's body parsed as a JSON object (empty: ``{}``); raise InvalidParameter, saying ``shape``."""
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):
        raise InvalidParameter("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidParameter(shape)
    return body


def filter_notifications(notifications: NotificationQuerySet, unread_only: bool, notification_type: str) -> QuerySet:
    if unread_only:
        notifications = notifications.unread()
    if notification_type:
        notifications = notifications.filter(notification_type=notification_type)
    return notifications


def parse_flag(query: QueryDict, name: str) -> bool:
    value = query.get(name, "").lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise InvalidParameter(f"{name} must be 1 or 0 (or true or false).")


def parse_type(query: QueryDict) -> str:
    notification_type = query.get("type", "")
    if "\x00" in notification_type:
        # PostgreSQL refuses NUL in text: say so instead of failing the query.
        raise InvalidParameter("type must not contain NUL characters.")
    allowed = live_settings.allowed_types
    if notification_type and allowed is not None and notification_type not in allowed:
        values = [value for value, _label in live_settings.notification_types or ()]
        raise InvalidParameter("type must be one of: " + ", ".join(values) + ".")
    return notification_type


def parse_number(query: QueryDict, name: str, minimum: int) -> int | None:
    """Return the integer parameter ``name`` (None when absent or empty); raise for anything else."""
    value = query.get(name, "")
    if not value:
        return None
    kind = "a non-negative" if minimum == 0 else "a positive"
    if not DIGITS.fullmatch(value) or len(value) > len(str(MAX_NUMBER)) or not minimum <= int(value) <= MAX_NUMBER:
        raise InvalidParameter(f"{name} must be {kind} integer, not {value[:20]!r}.")
    return int(value)


def page_url(request: HttpRequest, number: int) -> str:
    """Return this request's path and query with ``page`` set (relative, so it keeps the page's scheme)."""
    query = request.GET.copy()
    query["page"] = str(number)
    return f"{request.path}?{query.urlencode()}"
