"""Web Push: the delivery backend that sends notifications to the browsers (devices) a user subscribed.

Each push is encrypted for one browser (RFC 8291, ``aes128gcm``) and signed for the push service with the site's
VAPID key (RFC 8292), through ``pywebpush`` and ``py-vapid`` (the ``push`` extra). The push service sees the
endpoint, the size, the timing, the TTL, the urgency and a hash of the group key; never the content.

The payload carries a signed, short-lived read token, so the service worker can mark the notification read
without the CSRF cookie (see ``push_views.read``). The keys (VAPID, a browser's, the read token's) are in
push_keys.py, and importable from here.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.db.models import F
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from .backends import DeliveryBackend, SendResult, TemporaryFailure
from .conf import PushOptions, live_settings
from .models import PushSubscription
from .push_keys import (
    InvalidSubscription,
    clean_subscription,
    generate_vapid_keys,
    read_token,
    unsign_read_token,
    vapid_public_key,
)

if TYPE_CHECKING:
    from .api_types import User
    from .models import Notification

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "URGENCIES",
    "InvalidSubscription",
    "WebPushBackend",
    "clean_subscription",
    "generate_vapid_keys",
    "payload",
    "read_token",
    "topic",
    "unsign_read_token",
    "vapid_public_key",
]

logger = logging.getLogger("django_live_notify")

URGENCIES = ("very-low", "low", "normal", "high")
# A push service takes 4096 bytes of encrypted body; aes128gcm adds 86 bytes of header, a 16-byte tag and a
# padding delimiter. The rest is kept for the JSON, with a little room to spare.
MAX_PAYLOAD_BYTES = 3900
# A VAPID JWT may live 24 hours; one is signed per push service origin and reused until an hour before it expires.
JWT_LIFETIME = 12 * 60 * 60
JWT_RENEW_BEFORE = 60 * 60
ELLIPSIS = "…"


@dataclass(frozen=True)
class Outcome:
    """What one push service said about one push."""

    status: int
    retry_after: float | None = None

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300

    @property
    def gone(self) -> bool:
        return self.status in (404, 410)

    @property
    def temporary(self) -> bool:
        # 0 stands for no answer at all (refused connection, timeout).
        return self.status in (0, 429) or self.status >= 500


class WebPushBackend(DeliveryBackend):
    """Send each notification to every browser the user subscribed; one that took it is enough.

    A 404 or 410 means the browser dropped the subscription: the row is deleted. A 429, a 5xx or no answer
    counts a failure on the subscription and, when no browser took the notification, raises TemporaryFailure
    with the push service's Retry-After so that the worker tries again.
    """

    name = "webpush"
    verbose_name = "Browser push"
    batches = False
    # For the delivery worker: push only to users who had no open tab (the row was not seen or read meanwhile);
    # its DELIVERY_POLICIES setting can say "always" per type.
    policy = "offline"

    def __init__(self) -> None:
        self._local = threading.local()
        self._headers_lock = threading.Lock()
        self._headers: dict[tuple[str, str, str], tuple[float, dict[str, str]]] = {}

    def is_available(self, user: User) -> bool:
        """Return whether the user has subscribed at least one browser."""
        return PushSubscription.objects.filter(user=user).exists()  # type: ignore[misc]  # stubs expect auth.User

    def send(self, user: User, notifications: Sequence[Notification]) -> SendResult:
        """Push each notification in turn; stop at the first that only failed for now.

        When not one id was accepted or refused before it, TemporaryFailure is raised, so that all are retried.
        Otherwise the ids from that one on are in neither list of the result: the delivery worker counts them as
        not accepted. It hands this backend (``batches = False``) one notification per call, so there it does
        not arise.
        """
        result = SendResult()
        subscriptions = list(PushSubscription.objects.filter(user=user).order_by("pk"))  # type: ignore[misc]  # stubs: auth.User
        succeeded: set[int] = set()
        for position, notification in enumerate(notifications):
            if not subscriptions:
                result.refused.extend(item.pk for item in notifications[position:])
                break
            if _ttl(notification) is None:
                result.refused.append(notification.pk)  # expired: to the user it is gone
                continue
            outcomes = self._push_one(notification, subscriptions)
            failed = [sub.pk for sub, outcome in outcomes if not outcome.accepted and not outcome.gone]
            gone = [sub.pk for sub, outcome in outcomes if outcome.gone]
            took = [sub.pk for sub, outcome in outcomes if outcome.accepted]
            succeeded.update(took)
            if failed:
                PushSubscription.objects.filter(pk__in=failed).update(failure_count=F("failure_count") + 1)
            if gone:
                PushSubscription.objects.filter(pk__in=gone).delete()
                subscriptions = [sub for sub in subscriptions if sub.pk not in gone]
            if took:
                result.accepted.append(notification.pk)
                continue
            temporary = [outcome for _, outcome in outcomes if outcome.temporary]
            if not temporary:
                result.refused.append(notification.pk)
                continue
            self._record_success(succeeded)
            waits = [outcome.retry_after for outcome in temporary if outcome.retry_after is not None]
            if not result.accepted and not result.refused:
                statuses = ", ".join(sorted({str(outcome.status or "no answer") for outcome in temporary}))
                raise TemporaryFailure(
                    f"No push service took the notification ({statuses}).", max(waits, default=None)
                )
            return result
        self._record_success(succeeded)
        return result

    # ------------------------------------------------------------------ one push

    def _push_one(
        self, notification: Notification, subscriptions: list[PushSubscription]
    ) -> list[tuple[PushSubscription, Outcome]]:
        body = json.dumps(payload(notification), ensure_ascii=False, separators=(",", ":")).encode()
        options = _type_options(notification.notification_type)
        headers = {"Urgency": options["urgency"]}
        if notification.group_key:
            headers["Topic"] = topic(notification.group_key)
        ttl = _ttl(notification) or 0
        return [(sub, self._post(sub, body, headers, ttl)) for sub in subscriptions]

    def _post(self, subscription: PushSubscription, body: bytes, headers: dict[str, str], ttl: int) -> Outcome:
        from pywebpush import WebPusher
        from requests import RequestException

        info = {"endpoint": subscription.endpoint, "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}}
        all_headers = {**headers, **self._vapid_headers(subscription.endpoint)}
        try:
            response = WebPusher(info, requests_session=self._session()).send(
                body,
                headers=all_headers,
                ttl=ttl,
                content_encoding="aes128gcm",
                timeout=live_settings.webpush_timeout,
            )
        except RequestException as error:
            logger.warning("Push to %s failed: %s", _origin(subscription.endpoint), error)
            return Outcome(0)
        outcome = Outcome(response.status_code, _retry_after(response.headers.get("Retry-After")))
        if not outcome.accepted and not outcome.gone:
            logger.warning(
                "Push service %s answered %s: %s",
                _origin(subscription.endpoint),
                response.status_code,
                response.text[:200],
            )
        return outcome

    def _session(self) -> Any:
        """Return this thread's HTTP session (requests sessions are not thread-safe)."""
        session = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = self._local.session = requests.Session()
        return session

    def _vapid_headers(self, endpoint: str) -> dict[str, str]:
        """Return the Authorization header for the endpoint's push service, signing a new JWT when due."""
        from py_vapid import Vapid02

        private_key = live_settings.webpush_vapid_private_key
        subject = live_settings.webpush_vapid_subject
        audience = _origin(endpoint)
        key = (private_key, subject, audience)
        now = time.time()
        with self._headers_lock:
            cached = self._headers.get(key)
            if cached is not None and cached[0] - now > JWT_RENEW_BEFORE:
                return cached[1]
        expires = int(now) + JWT_LIFETIME
        vapid = Vapid02.from_string(private_key)
        headers = vapid.sign({"aud": audience, "sub": subject, "exp": expires})
        with self._headers_lock:
            self._headers[key] = (expires, headers)
        return headers

    def _record_success(self, subscription_ids: set[int]) -> None:
        if subscription_ids:
            PushSubscription.objects.filter(pk__in=subscription_ids).update(
                last_success_at=timezone.now(), failure_count=0
            )


# ---------------------------------------------------------------------- the payload


def payload(notification: Notification) -> dict[str, Any]:
    """Return what the service worker shows: title, body, url, id, actions, tag and a read token.

    The JSON stays under the push size limit: the body is shortened first, then the actions dropped,
    then the title shortened.
    """
    data: dict[str, Any] = {
        "id": notification.pk,
        "title": notification.title,
        "body": notification.message,
        "url": notification.url,
        "tag": notification.group_key,
        "type": notification.notification_type,
        "actions": _link_actions(notification),
        "read_token": read_token(notification),
        "read_url": _read_url(),
    }
    for field in ("body", "actions", "title"):
        overflow = _size(data) - MAX_PAYLOAD_BYTES
        if overflow <= 0:
            break
        if field == "actions":
            data["actions"] = []
        else:
            data[field] = _shorten(data[field], overflow)
    return data


def _read_url() -> str:
    try:
        return reverse("live_notify:push_read")
    except NoReverseMatch:
        return ""  # the app's URLs are not included (check E007): the worker then marks nothing


def _link_actions(notification: Notification) -> list[dict[str, str]]:
    """Return the actions a notification button can run: links. A POST action needs the page (CSRF)."""
    return [
        {"action": f"a{index}", "title": action["label"], "url": action["url"]}
        for index, action in enumerate(notification.action_payloads())
        if action.get("method", "GET") == "GET" and action.get("url")
    ]


def _size(data: dict[str, Any]) -> int:
    return len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())


def _shorten(text: str, overflow: int) -> str:
    """Return ``text`` at least ``overflow`` UTF-8 bytes shorter (JSON escapes make some characters longer)."""
    encoded = text.encode()
    keep = max(len(encoded) - overflow - len(ELLIPSIS.encode()) - 16, 0)
    return encoded[:keep].decode(errors="ignore") + ELLIPSIS if keep < len(encoded) else text


def topic(group_key: str) -> str:
    """Return the Topic header for a group key: 32 characters of URL-safe base64 of its SHA-256.

    Pushes with the same Topic replace each other while waiting at the push service for an offline device.
    """
    digest = hashlib.sha256(group_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:32]


def _ttl(notification: Notification) -> int | None:
    """Return the TTL of the type, cut to the notification's expiry; None when it has expired."""
    ttl = _type_options(notification.notification_type)["ttl"]
    if notification.expires_at is None:
        return ttl
    left = int((notification.expires_at - timezone.now()).total_seconds())
    return min(ttl, left) if left > 0 else None


def _type_options(notification_type: str) -> PushOptions:
    options = live_settings.webpush_type_options.get(notification_type, PushOptions())
    return PushOptions(
        ttl=options.get("ttl", live_settings.webpush_ttl),
        urgency=options.get("urgency", live_settings.webpush_urgency),
    )


# ---------------------------------------------------------------------- push services


def _origin(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


def _retry_after(value: str | None) -> float | None:
    """Return the seconds a Retry-After header asks for (a number or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - timezone.now()).total_seconds(), 0.0)
