"""System checks: django_live_notify.E001 and friends (see docs/checks.rst)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import router

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
    messages += _check_preferences(allowed)
    messages += _check_limits()
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


def _check_preferences(allowed: Any) -> list[Any]:
    """E005: PREFERENCE_DEFAULTS and MANDATORY_TYPES must name known types and deliveries."""
    from .preferences import DELIVERIES, LIVE

    problems = []
    defaults = live_settings.PREFERENCE_DEFAULTS
    mandatory = live_settings.MANDATORY_TYPES
    known = None if allowed is None else {value for value, _label in allowed}
    if not isinstance(defaults, dict):
        problems.append(f"PREFERENCE_DEFAULTS must be a dict of type -> delivery, not {type(defaults).__name__}.")
        defaults = {}
    if not isinstance(mandatory, (list, tuple, set, frozenset)) or not all(isinstance(t, str) for t in mandatory):
        problems.append("MANDATORY_TYPES must be a list of notification type strings.")
        mandatory = []
    for notification_type, delivery in defaults.items():
        if delivery not in DELIVERIES:
            problems.append(
                f"PREFERENCE_DEFAULTS[{notification_type!r}] is {delivery!r}; use one of {', '.join(DELIVERIES)}."
            )
        elif notification_type in mandatory and delivery != LIVE:
            problems.append(
                f"{notification_type!r} is in MANDATORY_TYPES but PREFERENCE_DEFAULTS makes it {delivery!r}."
            )
    if known is not None:
        for name, types in (("PREFERENCE_DEFAULTS", defaults), ("MANDATORY_TYPES", mandatory)):
            problems += [
                f"{name} names {value!r}, which is not in NOTIFICATION_TYPES." for value in types if value not in known
            ]
    return [
        Error(
            problem,
            hint="PREFERENCE_DEFAULTS maps notification types to 'live', 'store' or 'off'; MANDATORY_TYPES lists "
            "types that are always delivered live. Both name types of NOTIFICATION_TYPES when it is set.",
            id="django_live_notify.E005",
        )
        for problem in problems
    ]


def _check_limits() -> list[Any]:
    """E006: MAX_ACTIONS must be a non-negative integer, RETENTION_DAYS a positive integer or None."""
    problems = []
    max_actions = live_settings.MAX_ACTIONS
    if type(max_actions) is not int or max_actions < 0:
        problems.append(f"MAX_ACTIONS must be a non-negative integer, not {max_actions!r}.")
    retention = live_settings.RETENTION_DAYS
    if retention is not None and (type(retention) is not int or retention < 1):
        problems.append(f"RETENTION_DAYS must be a positive number of days or None, not {retention!r}.")
    return [
        Error(
            problem,
            hint="See the settings reference: MAX_ACTIONS (default 3), RETENTION_DAYS (default 90; None keeps "
            "read notifications for good).",
            id="django_live_notify.E006",
        )
        for problem in problems
    ]


@register(Tags.compatibility)
def check_sqlite_transactions(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """W002: a SQLite file database should begin its transactions IMMEDIATE."""
    from .models import Notification

    alias = router.db_for_write(Notification)
    database = settings.DATABASES.get(alias, {})
    name = str(database.get("NAME") or "")
    if database.get("ENGINE") != "django.db.backends.sqlite3" or name == ":memory:" or "mode=memory" in name:
        return []
    mode = str((database.get("OPTIONS") or {}).get("transaction_mode") or "DEFERRED")
    if mode.upper() in ("IMMEDIATE", "EXCLUSIVE"):
        return []
    return [
        Warning(
            f"SQLite database {alias!r} begins transactions {mode.upper()}: when two processes send "
            "notifications at once, one fails with 'database is locked'.",
            hint=(
                f'Set DATABASES[{alias!r}]["OPTIONS"] = {{"transaction_mode": "IMMEDIATE", '
                '"init_command": "PRAGMA journal_mode=WAL;", "timeout": 20}.'
            ),
            id="django_live_notify.W002",
        )
    ]
