"""System checks: django_live_notify.E001 and friends (see docs/checks.rst)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from .conf import DEFAULTS, live_settings

IN_MEMORY_LAYER = "channels.layers.InMemoryChannelLayer"


@register(Tags.compatibility)
def check_setup(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Check that channels and a channel layer are set up for live delivery."""
    messages: list[Any] = []
    if not apps.is_installed("channels"):
        messages.append(
            Error(
                "'channels' is not in INSTALLED_APPS.",
                hint="Add 'channels' to INSTALLED_APPS; django-live-notify serves its socket through it.",
                id="django_live_notify.E001",
            )
        )
    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    alias = live_settings.CHANNEL_LAYER
    layer_config = layers.get(alias)
    if layer_config is None:
        messages.append(
            Error(
                f"No channel layer {alias!r} in CHANNEL_LAYERS.",
                hint=(
                    "Configure CHANNEL_LAYERS: channels.layers.InMemoryChannelLayer for one process, "
                    "channels_redis.core.RedisChannelLayer for several; or set LIVE_NOTIFY['CHANNEL_LAYER']."
                ),
                id="django_live_notify.E002",
            )
        )
    elif layer_config.get("BACKEND") == IN_MEMORY_LAYER and not settings.DEBUG:
        messages.append(
            Warning(
                "The in-memory channel layer only reaches sockets of the process that sends.",
                hint=(
                    "Notifications sent from other processes (workers, management commands, a second "
                    "server process) reach clients only when they resume. Use channels_redis in production."
                ),
                id="django_live_notify.W001",
            )
        )
    allowed = live_settings.NOTIFICATION_TYPES
    default_type = live_settings.DEFAULT_NOTIFICATION_TYPE
    if allowed is not None and default_type not in {value for value, _label in allowed}:
        messages.append(
            Error(
                f"LIVE_NOTIFY['DEFAULT_NOTIFICATION_TYPE'] ({default_type!r}) is not in NOTIFICATION_TYPES.",
                hint="Add it to NOTIFICATION_TYPES, or set DEFAULT_NOTIFICATION_TYPE to one of them.",
                id="django_live_notify.E004",
            )
        )
    unknown = sorted(set(getattr(settings, "LIVE_NOTIFY", None) or {}) - set(DEFAULTS))
    if unknown:
        messages.append(
            Error(
                "Unknown LIVE_NOTIFY key(s): " + ", ".join(unknown) + ".",
                hint="Valid keys: " + ", ".join(sorted(DEFAULTS)) + ".",
                id="django_live_notify.E003",
            )
        )
    return messages
