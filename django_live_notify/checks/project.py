"""The project around the app: its URLconf includes the app's URLs (E007); ALLOWED_HOSTS names hosts (W005)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.urls import NoReverseMatch, reverse

URLS_HINT = (
    "Add path('notifications/', include('django_live_notify.urls')) to your ROOT_URLCONF's urlpatterns "
    "(any prefix will do); the template tags, the history page and the JS client's API need them."
)


@register(Tags.urls)
def check_urls(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """E007: the app's URLs must be included, or every page with the template tag fails."""
    try:
        reverse("live_notify:list")
    except NoReverseMatch:
        return [
            Error(
                "The URLs of django_live_notify are not included (no 'live_notify' namespace).",
                hint=URLS_HINT,
                id="django_live_notify.E007",
            )
        ]
    return []


@register(Tags.security)
def check_allowed_hosts(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """W005: with DEBUG off, ALLOWED_HOSTS should name the site's hosts, not "*"."""
    if settings.DEBUG or "*" not in settings.ALLOWED_HOSTS:
        return []
    return [
        Warning(
            "ALLOWED_HOSTS contains '*': any Host header is taken as the site's own, so the socket's origin check "
            "accepts every page whose Origin names the host the handshake was sent to, whatever that host is.",
            hint="List your site's hosts in ALLOWED_HOSTS (ALLOWED_HOSTS = ['www.example.com']). With '*', any "
            "domain that resolves to your server, such as an attacker's through DNS rebinding, is an origin of "
            "your own, and Django no longer checks the Host header of pages either.",
            id="django_live_notify.W005",
        )
    ]
