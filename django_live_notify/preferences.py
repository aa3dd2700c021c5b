"""Delivery preferences: per user and notification type, "live", "store" or "off".

``notify()`` and ``broadcast()`` read them for all their recipients at once,
one query per ``BATCH_SIZE`` users; mandatory types skip the query.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections, router, transaction
from django.utils.translation import gettext

from .batching import batches
from .conf import live_settings
from .models import Notification, NotificationPreference

__all__ = [
    "DELIVERIES",
    "LIVE",
    "OFF",
    "STORE",
    "PreferenceError",
    "default_delivery",
    "deliveries",
    "is_mandatory",
    "preferences_for",
    "set_preferences",
]

LIVE = NotificationPreference.DELIVERY.live
STORE = NotificationPreference.DELIVERY.store
OFF = NotificationPreference.DELIVERY.off
DELIVERIES = (LIVE, STORE, OFF)


# What set_preferences() accepts as a new type when NOTIFICATION_TYPES is not set.
TYPE_NAME = re.compile(r"[\w.:-]+")


class PreferenceError(ValueError):
    """A preference change that cannot be made; its message is shown to the user."""


def is_mandatory(notification_type: str) -> bool:
    """Return whether ``notification_type`` is in ``MANDATORY_TYPES``: always live, whatever users chose."""
    return notification_type in live_settings.mandatory_types


def default_delivery(notification_type: str) -> str:
    """Return the delivery of ``notification_type`` for users who chose nothing."""
    if is_mandatory(notification_type):
        return LIVE
    return live_settings.preference_defaults.get(notification_type, LIVE)


def deliveries(recipient_ids: Iterable[Any], notification_type: str) -> dict[Any, str]:
    """Return the delivery of ``notification_type`` for each of ``recipient_ids``.

    One query per ``BATCH_SIZE`` recipients; none for a mandatory type.
    """
    ids = list(recipient_ids)
    result = dict.fromkeys(ids, default_delivery(notification_type))
    if not ids or is_mandatory(notification_type):
        return result
    for batch in batches(ids):
        result.update(
            NotificationPreference.objects.filter(notification_type=notification_type, user_id__in=batch).values_list(
                "user_id", "delivery"
            )
        )
    return result


def type_choices(user: Any) -> list[tuple[str, str]]:
    """Return the types a user can set, as (value, label) pairs.

    ``NOTIFICATION_TYPES`` when set; otherwise every type the settings name,
    the user has received or has a preference for.
    """
    configured = live_settings.type_choices()
    if configured is not None:
        return configured
    values = set(live_settings.preference_defaults) | live_settings.mandatory_types
    values.update(
        Notification.objects.filter(recipient_id=user.pk)
        .order_by()
        .values_list("notification_type", flat=True)
        .distinct()
    )
    values.update(user.live_notify_preferences.values_list("notification_type", flat=True))
    return [(value, live_settings.type_label(value)) for value in sorted(values)]


def preferences_for(user: Any) -> list[dict[str, Any]]:
    """Return the user's delivery of every type they can set, with its default and whether it is mandatory."""
    chosen = dict(user.live_notify_preferences.values_list("notification_type", "delivery"))
    rows = []
    for value, label in type_choices(user):
        mandatory = is_mandatory(value)
        default = default_delivery(value)
        rows.append(
            {
                "notification_type": value,
                "label": label,
                "delivery": default if mandatory else chosen.get(value, default),
                "default": default,
                "mandatory": mandatory,
            }
        )
    return rows


def set_preferences(user: Any, changes: Mapping[str, Any]) -> None:
    """Save ``{type: "live" | "store" | "off" | None}`` for the user; None goes back to the default.

    Every change is checked first; on a PreferenceError nothing is saved. A
    user keeps at most ``MAX_PREFERENCES`` rows.
    """
    allowed = live_settings.allowed_types
    # A CharField: its max_length is set.
    max_length: int = NotificationPreference._meta.get_field("notification_type").max_length  # type: ignore[assignment]
    known_to_user: set[str] | None = None
    for notification_type, delivery in changes.items():
        if not isinstance(notification_type, str) or not notification_type or len(notification_type) > max_length:
            raise PreferenceError(
                gettext("Notification types are strings of 1 to %(max_length)s characters.")
                % {"max_length": max_length}
            )
        if allowed is not None and notification_type not in allowed:
            raise PreferenceError(
                gettext("Unknown notification type %(type)r; known types: %(known)s.")
                % {"type": notification_type, "known": ", ".join(sorted(allowed))}
            )
        if allowed is None and not TYPE_NAME.fullmatch(notification_type):
            # Any string is a type for notify(): one the user has received or that the settings name stays settable.
            if known_to_user is None:
                known_to_user = {value for value, _label in type_choices(user)}
            if notification_type not in known_to_user:
                raise PreferenceError(
                    gettext(
                        "%(type)r is not a notification type: type names are letters, digits and the "
                        "characters _ . : -"
                    )
                    % {"type": notification_type}
                )
        if delivery is not None and delivery not in DELIVERIES:
            raise PreferenceError(
                gettext("Delivery of %(type)r must be one of %(choices)s, not %(delivery)r.")
                % {"type": notification_type, "choices": ", ".join(DELIVERIES), "delivery": delivery}
            )
        if is_mandatory(notification_type) and delivery not in (None, LIVE):
            raise PreferenceError(
                gettext("%(type)r notifications are mandatory: they cannot be %(delivery)r.")
                % {"type": notification_type, "delivery": delivery}
            )
    chosen = {key: value for key, value in changes.items() if value is not None and not is_mandatory(key)}
    reset = {key for key, value in changes.items() if value is None}
    # MySQL and MariaDB upsert on any unique key and refuse to be told which.
    features = connections[router.db_for_write(NotificationPreference)].features
    unique_fields = ["user", "notification_type"] if features.supports_update_conflicts_with_target else None
    with transaction.atomic():
        # Lock the user's row so that concurrent requests cannot each pass the bound.
        list(get_user_model()._default_manager.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
        existing = set(user.live_notify_preferences.values_list("notification_type", flat=True))
        after = len((existing - reset) | chosen.keys())
        limit = live_settings.max_preferences
        # A user already over the bound (a lowered setting) may still change and remove rows, not add.
        if after > limit and after > len(existing):
            raise PreferenceError(
                gettext(
                    "At most %(limit)s notification types can have a preference; this change would make "
                    "%(count)s. Set some types back to their default first."
                )
                % {"limit": limit, "count": after}
            )
        reset &= existing
        for batch in batches(sorted(reset)):
            user.live_notify_preferences.filter(notification_type__in=batch).delete()
        if chosen:
            NotificationPreference.objects.bulk_create(
                [
                    NotificationPreference(user=user, notification_type=key, delivery=value)
                    for key, value in chosen.items()
                ],
                update_conflicts=True,
                unique_fields=unique_fields,
                update_fields=["delivery"],
            )
