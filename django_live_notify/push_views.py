"""Web Push over HTTP: the service worker script, subscribe and unsubscribe, and marking read from a push.

The service worker cannot read the CSRF cookie, so its "mark read" carries the push's signed read token instead:
the token names one notification of one user and expires (``WEBPUSH_READ_TOKEN_MAX_AGE``). A bad or expired token
changes nothing and gets a 400, the same whatever the notification it names.
"""

from __future__ import annotations

import hmac
import json
from functools import cache
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST, require_safe

from . import reading
from .conf import live_settings
from .models import PushSubscription, endpoint_hash
from .push_keys import InvalidSubscription, clean_subscription, unsign_read_token
from .views.common import api_view

SERVICE_WORKER = "django_live_notify/live-notify-sw.js"
USER_AGENT_MAX_LENGTH = 255
# Browsers one user may subscribe; past it the one that has gone longest without a push that arrived is dropped.
MAX_SUBSCRIPTIONS_PER_USER = 20
MAX_BODY = 8 * 1024


@require_safe
def service_worker(request: HttpRequest) -> HttpResponse:
    """Serve the service worker with a Service-Worker-Allowed header, so that it may control the whole site."""
    response = HttpResponse(_service_worker_source(), content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = live_settings.webpush_service_worker_scope
    # Browsers check for a new worker at most every 24 hours anyway; a short cache lets a deploy reach them soon.
    response["Cache-Control"] = "max-age=0, must-revalidate"
    return response


@cache
def _service_worker_source() -> bytes:
    found = finders.find(SERVICE_WORKER)
    path = Path(found) if isinstance(found, str) else Path(__file__).parent / "static" / SERVICE_WORKER
    return path.read_bytes()


@api_view("POST")
@csrf_protect
@never_cache
def subscribe(request: HttpRequest) -> HttpResponse:
    """Store the browser's push subscription for the signed-in user (moving it from another user if need be)."""
    try:
        cleaned = clean_subscription(_json(request))
    except InvalidSubscription as error:
        return _error(str(error))
    user_agent = request.headers.get("User-Agent", "")[:USER_AGENT_MAX_LENGTH]
    values = {"user": request.user, "p256dh": cleaned["p256dh"], "auth": cleaned["auth"], "user_agent": user_agent}
    digest = endpoint_hash(cleaned["endpoint"])
    try:
        with transaction.atomic():
            subscription, created = PushSubscription.objects.select_for_update().get_or_create(
                endpoint_sha256=digest, defaults={"endpoint": cleaned["endpoint"], **values}
            )
            if not created:
                for name, value in values.items():
                    setattr(subscription, name, value)
                subscription.failure_count = 0
                subscription.save()
    except IntegrityError:
        # The same browser subscribing twice at once: the other request stored it.
        subscription, created = PushSubscription.objects.get(endpoint_sha256=digest), False
    _drop_extra_subscriptions(request)
    return JsonResponse({"subscribed": True, "created": created}, status=201 if created else 200)


@api_view("POST")
@csrf_protect
@never_cache
def unsubscribe(request: HttpRequest) -> HttpResponse:
    """Forget the browser's push subscription; one of another user answers like a missing one."""
    body = _json(request)
    endpoint = body.get("endpoint") if isinstance(body, dict) else None
    if not isinstance(endpoint, str) or not endpoint:
        return _error('Send a JSON object: {"endpoint": "<the subscription\'s endpoint>"}.')
    deleted, _ = PushSubscription.objects.filter(
        user=_owner(request), endpoint_sha256=endpoint_hash(endpoint)
    ).delete()
    return JsonResponse({"subscribed": False, "deleted": bool(deleted)})


@csrf_exempt
@require_POST
@never_cache
def resubscribe(request: HttpRequest) -> HttpResponse:
    """Move a subscription the browser replaced to its new endpoint and keys; no session or CSRF token needed.

    The service worker proves it holds the old subscription with its auth secret, which only the browser and
    this server know (the push service never sees it). An unknown endpoint and a wrong secret get the same 400.
    """
    body = _json(request)
    if not isinstance(body, dict):
        return _error('Send a JSON object: {"old_endpoint": ..., "old_auth": ..., "subscription": {...}}.')
    old_endpoint, old_auth = body.get("old_endpoint"), body.get("old_auth")
    if not isinstance(old_endpoint, str) or not isinstance(old_auth, str):
        return _error("old_endpoint and old_auth are required.")
    try:
        cleaned = clean_subscription(body.get("subscription"))
    except InvalidSubscription as error:
        return _error(f"subscription: {error}")
    with transaction.atomic():
        subscription = (
            PushSubscription.objects.select_for_update().filter(endpoint_sha256=endpoint_hash(old_endpoint)).first()
        )
        if subscription is None or not hmac.compare_digest(subscription.auth, old_auth.rstrip("=")):
            return _error("Unknown subscription, or not its auth secret.")
        new_hash = endpoint_hash(cleaned["endpoint"])
        PushSubscription.objects.filter(endpoint_sha256=new_hash).exclude(pk=subscription.pk).delete()
        subscription.endpoint = cleaned["endpoint"]
        subscription.p256dh = cleaned["p256dh"]
        subscription.auth = cleaned["auth"]
        subscription.failure_count = 0
        subscription.save()
    return JsonResponse({"subscribed": True})


@csrf_exempt
@require_POST
@never_cache
def read(request: HttpRequest) -> HttpResponse:
    """Mark the notification a push's read token names read; no session or CSRF token needed."""
    body = _json(request)
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token or len(token) > 500:
        return _error('Send a JSON object: {"token": "<the push\'s read_token>"}.')
    try:
        notification_id, recipient_id = unsign_read_token(token)
    except signing.BadSignature:
        return _error("The read token is invalid or has expired.")
    user = get_user_model()._default_manager.filter(pk=recipient_id).first()
    if user is None or not user.is_active:
        return _error("The read token is invalid or has expired.")
    found = reading.mark_read(user, notification_id)
    return JsonResponse({"id": notification_id, "is_read": found})


def _drop_extra_subscriptions(request: HttpRequest) -> None:
    """Keep the user's MAX_SUBSCRIPTIONS_PER_USER subscriptions last heard of (a push arrived, or subscribed)."""
    mine = PushSubscription.objects.filter(user=_owner(request))
    # The subscription just stored has the newest created_at, so it is always kept.
    last_heard = Coalesce("last_success_at", "created_at")
    stale = mine.order_by(last_heard.desc(), "-pk")[MAX_SUBSCRIPTIONS_PER_USER:]
    stale_ids = list(stale.values_list("pk", flat=True))
    if stale_ids:
        PushSubscription.objects.filter(pk__in=stale_ids).delete()


def _owner(request: HttpRequest) -> Any:
    """Return the signed-in user (api_view lets no one else in)."""
    return request.user


def _json(request: HttpRequest) -> object:
    if len(request.body) > MAX_BODY:
        return None
    try:
        return json.loads(request.body or b"null")
    except (ValueError, RecursionError):
        return None


def _error(message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=400)
