"""The optional Prometheus metrics: the package where the view is routed (W006), the view's guard (E010)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.urls import URLResolver, get_resolver

from ..conf import live_settings


@register(Tags.compatibility)
def check_metrics_package(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """W006: the project asks for metrics (a METRICS* setting), the view is routed, but prometheus_client is missing.

    A project that never mentions metrics and lacks the extra gets no warning: the view answers 404 quietly.
    """
    from .. import metrics
    from ..views import metrics_view

    if metrics.prometheus_client is not None or not live_settings.METRICS:
        return []
    if not any(name.startswith("METRICS") for name in live_settings.user_settings):
        return []
    if not _routes_to(get_resolver().url_patterns, metrics_view):
        return []
    return [
        Warning(
            "The metrics view is routed, but prometheus_client is not installed: it answers 404.",
            hint="pip install 'django-live-notify[metrics]', or set LIVE_NOTIFY['METRICS'] = False.",
            id="django_live_notify.W006",
        )
    ]


@register(Tags.compatibility)
def check_metrics_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """E010: the metrics view's guard must be well formed: addresses or networks, and a token string or None."""
    from ..metrics import allowed_networks

    problems = []
    allowed = live_settings.METRICS_ALLOWED_IPS
    if not isinstance(allowed, (list, tuple)):
        problems.append(f"METRICS_ALLOWED_IPS must be a list of IP addresses or networks, not {allowed!r}.")
    else:
        try:
            allowed_networks()
        except ImproperlyConfigured as error:
            problems.append(str(error))
    token = live_settings.METRICS_TOKEN
    if token is not None and (not isinstance(token, str) or not token.strip()):
        problems.append(f"METRICS_TOKEN must be a non-empty string or None, not {token!r}.")
    return [
        Error(
            problem,
            hint='METRICS_ALLOWED_IPS lists addresses or CIDR networks, e.g. ["127.0.0.1", "10.0.0.0/8"] (default: '
            "127.0.0.1 and ::1); METRICS_TOKEN is a bearer token string, or None for none.",
            id="django_live_notify.E010",
        )
        for problem in problems
    ]


def _routes_to(patterns: list[Any], view: Any) -> bool:
    """Tell whether any of ``patterns``, or the patterns they include, serves ``view``."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if _routes_to(pattern.url_patterns, view):
                return True
        elif getattr(pattern, "callback", None) is view:
            return True
    return False
