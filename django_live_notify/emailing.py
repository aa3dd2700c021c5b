"""Email fallback: a digest of the notifications a user left unread and unseen, with a one-click unsubscribe.

Add ``"django_live_notify.emailing.EmailBackend"`` to ``DELIVERY_BACKENDS``. A row still unread and unseen
``EMAIL_DELAY_MINUTES`` after it was stored is emailed once through Django's email backend; what comes due for one
user within ``EMAIL_DIGEST_MINUTES`` of their last email goes out together as one digest, and no user gets more
than ``EMAIL_MAX_PER_HOUR`` emails an hour. The unsubscribe link (RFC 8058) turns email off for the types in that
email, signed so that no login is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import preferences
from .api_types import User
from .backends import DeliveryBackend, SendResult
from .conf import live_settings
from .models import Notification

__all__ = ["EmailBackend", "unsubscribe", "unsubscribe_token", "unsubscribe_url"]

UNSUBSCRIBE_SALT = "django_live_notify.emailing.unsubscribe"


class EmailBackend(DeliveryBackend):
    """Email what a user left unread and unseen, several rows as one digest, through Django's email backend."""

    name = "email"
    verbose_name = _("Email")  # type: ignore[assignment]
    batches = True
    policy = "unread"

    @property
    def max_per_hour(self) -> int | None:  # type: ignore[override]
        return live_settings.email_max_per_hour or None

    @property
    def min_interval(self) -> float:  # type: ignore[override]
        return 60.0 * live_settings.email_digest_minutes

    def delay_for(self, notification_type: str) -> float:
        """Return ``EMAIL_DELAY_MINUTES`` of the type (or its "default") in seconds, for the "unread" policy."""
        if self.policy_for(notification_type) != "unread":
            return super().delay_for(notification_type)
        delays = live_settings.email_delay_minutes
        return 60.0 * delays.get(notification_type, delays.get("default", 30.0))

    def is_available(self, user: User) -> bool:
        """Return whether the user has an email address and is active."""
        return bool(email_address(user)) and getattr(user, "is_active", True)

    def language_for(self, user: User) -> str:
        """Return the language of the user's emails; override to read it from a profile. Default: LANGUAGE_CODE."""
        return str(getattr(user, "language", "") or settings.LANGUAGE_CODE)

    def build_message(self, user: User, notifications: Sequence[Notification]) -> EmailMultiAlternatives:
        """Return the digest email of ``notifications`` for ``user``, in the user's language."""
        types = sorted({row.notification_type for row in notifications})
        optional = [
            notification_type for notification_type in types if not preferences.is_mandatory(notification_type)
        ]
        with translation.override(self.language_for(user)):
            unsubscribe_link = unsubscribe_url(user, optional) if optional else ""
            context = {
                "user": user,
                "notifications": list(notifications),
                "count": len(notifications),
                "base_url": live_settings.email_base_url,
                "unsubscribe_url": unsubscribe_link,
                "type_labels": [live_settings.type_label(notification_type) for notification_type in optional],
            }
            subject = " ".join(render_to_string("django_live_notify/email/digest_subject.txt", context).split())
            text = render_to_string("django_live_notify/email/digest.txt", context)
            html = render_to_string("django_live_notify/email/digest.html", context)
        headers = {}
        if unsubscribe_link:
            headers["List-Unsubscribe"] = f"<{unsubscribe_link}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message = EmailMultiAlternatives(
            subject=subject,
            body=text,
            from_email=live_settings.email_from or settings.DEFAULT_FROM_EMAIL,
            to=[email_address(user)],
            headers=headers,
        )
        message.attach_alternative(html, "text/html")
        return message

    def send(self, user: User, notifications: Sequence[Notification]) -> SendResult:
        """Send one digest of ``notifications``; an SMTP error propagates and the worker retries."""
        self.build_message(user, notifications).send(fail_silently=False)
        return SendResult(accepted=[row.pk for row in notifications])


def email_address(user: User) -> str:
    """Return the user's address: the field the user model names in ``EMAIL_FIELD`` ("email" by default)."""
    return str(getattr(user, user.get_email_field_name(), "") or "")


def unsubscribe_token(user: User, notification_types: Sequence[str]) -> str:
    """Return a signed token that turns email off for ``notification_types`` of ``user``."""
    return signing.dumps({"u": str(user.pk), "t": list(notification_types)}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_url(user: User, notification_types: Sequence[str]) -> str:
    """Return the absolute one-click unsubscribe URL (``EMAIL_BASE_URL`` + the view's path)."""
    path = reverse("live_notify:email_unsubscribe", kwargs={"token": unsubscribe_token(user, notification_types)})
    return live_settings.email_base_url + path


def _read_token(token: str) -> tuple[Any, list[str]] | None:
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), str) or not isinstance(data.get("t"), list):
        return None
    types = [value for value in data["t"] if isinstance(value, str)]
    if len(types) != len(data["t"]):
        return None
    from django.contrib.auth import get_user_model

    user = get_user_model()._default_manager.filter(pk=data["u"]).first()
    if user is None:
        return None
    return user, types


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: ask to confirm. POST (a mail client's one-click, RFC 8058, or the page's button): turn the email off.

    No login and no CSRF token: the signed token is the authorization. A bad or tampered token is a 400 that
    changes nothing.
    """
    found = _read_token(token)
    if found is None:
        return render(request, "django_live_notify/email/unsubscribe_invalid.html", status=400)
    user, types = found
    labels = [live_settings.type_label(notification_type) for notification_type in types]
    done = False
    if request.method == "POST":
        optional = [
            notification_type for notification_type in types if not preferences.is_mandatory(notification_type)
        ]
        try:
            preferences.set_channel_preferences(
                user, {notification_type: {"email": False} for notification_type in optional}
            )
        except preferences.PreferenceError:
            return render(request, "django_live_notify/email/unsubscribe_invalid.html", status=400)
        done = True
    return render(
        request, "django_live_notify/email/unsubscribe.html", {"type_labels": labels, "done": done, "token": token}
    )
