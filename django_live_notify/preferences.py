"""Delivery preferences: per user and notification type, "live", "store" or "off", and each extra channel on or off.

``notify()`` and ``broadcast()`` read them for all their recipients at once,
one query per ``BATCH_SIZE`` users; mandatory types skip the query.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections, models, router, transaction
from django.utils.translation import gettext

from .api_types import RequestUser, UserId
from .backends import get_backends
from .batching import batches
from .conf import live_settings
from .models import ChannelPreference, Notification, NotificationPreference

__all__ = [
    "DELIVERIES",
    "LIVE",
    "OFF",
    "STORE",
    "PreferenceError",
    "channel_default",
    "channels_enabled",
    "default_delivery",
    "deliveries",
    "is_mandatory",
    "preferences_for",
    "set_channel_preferences",
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


# The reverse accessors the preference models give the user model, which AbstractBaseUser does not declare
# (and AnonymousUser has not: AttributeError).
def _chosen_types(user: RequestUser) -> models.Manager[NotificationPreference]:
    return user.live_notify_preferences  # type: ignore[union-attr,no-any-return]


def _chosen_channels(user: RequestUser) -> models.Manager[ChannelPreference]:
    return user.live_notify_channel_preferences  # type: ignore[union-attr,no-any-return]


def is_mandatory(notification_type: str) -> bool:
    """Return whether ``notification_type`` is in ``MANDATORY_TYPES``: always live, whatever users chose."""
    return notification_type in live_settings.mandatory_types


def default_delivery(notification_type: str) -> str:
    """Return the delivery of ``notification_type`` for users who chose nothing."""
    if is_mandatory(notification_type):
        return LIVE
    return live_settings.preference_defaults.get(notification_type, LIVE)


def deliveries(recipient_ids: Iterable[UserId], notification_type: str) -> dict[UserId, str]:
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


def type_choices(user: RequestUser) -> list[tuple[str, str]]:
    """Return the types a user can set, as (value, label) pairs.

    ``NOTIFICATION_TYPES`` when set; otherwise every type the settings name,
    the user has received or has a preference for.
    """
    configured = live_settings.type_choices()
    if configured is not None:
        return configured
    values = set(live_settings.preference_defaults) | live_settings.mandatory_types
    values.update(
        Notification.objects.for_user(user).order_by().values_list("notification_type", flat=True).distinct()
    )
    values.update(_chosen_types(user).values_list("notification_type", flat=True))
    return [(value, live_settings.type_label(value)) for value in sorted(values)]


def preferences_for(user: RequestUser) -> list[dict[str, Any]]:
    """Return the user's delivery of every type they can set, with its default and whether it is mandatory."""
    chosen = dict(_chosen_types(user).values_list("notification_type", "delivery"))
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


def _check_types(user: RequestUser, notification_types: Iterable[object]) -> None:
    """Raise PreferenceError unless every one of ``notification_types`` is a type the user may set."""
    allowed = live_settings.allowed_types
    # A CharField: its max_length is set.
    max_length: int = NotificationPreference._meta.get_field("notification_type").max_length  # type: ignore[assignment]
    known_to_user: set[str] | None = None
    for notification_type in notification_types:
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


def set_preferences(user: RequestUser, changes: Mapping[str, str | None]) -> None:
    """Save ``{type: "live" | "store" | "off" | None}`` for the user; None goes back to the default.

    Every change is checked first; on a PreferenceError nothing is saved. A
    user keeps at most ``MAX_PREFERENCES`` rows.
    """
    _check_types(user, changes.keys())
    for notification_type, delivery in changes.items():
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
        list(get_user_model()._default_manager.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))  # type: ignore[misc]
        existing = set(_chosen_types(user).values_list("notification_type", flat=True))
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
            _chosen_types(user).filter(notification_type__in=batch).delete()
        if chosen:
            NotificationPreference.objects.bulk_create(
                [
                    NotificationPreference(user=user, notification_type=key, delivery=value)  # type: ignore[misc]
                    for key, value in chosen.items()
                ],
                update_conflicts=True,
                unique_fields=unique_fields,
                update_fields=["delivery"],
            )


# --------------------------------------------------------------------------- channels (email, webpush, ...)


def channel_default(channel: str, notification_type: str) -> bool:
    """Return whether ``notification_type`` goes out on ``channel`` for users who chose nothing."""
    if is_mandatory(notification_type):
        return True
    defaults = live_settings.channel_defaults.get(channel, {})
    return bool(defaults.get(notification_type, defaults.get("default", True)))


def channels_enabled(channel: str, pairs: Iterable[tuple[UserId, str]]) -> dict[tuple[UserId, str], bool]:
    """Return, for each (user id, type) of ``pairs``, whether that user wants that type on ``channel``.

    One query per ``BATCH_SIZE`` users; mandatory types are always on.
    """
    pairs = set(pairs)
    result = {pair: channel_default(channel, pair[1]) for pair in pairs}
    user_ids = sorted({user_id for user_id, notification_type in pairs if not is_mandatory(notification_type)})
    types = {notification_type for _user_id, notification_type in pairs}
    for batch in batches(user_ids):
        chosen = ChannelPreference.objects.filter(
            channel=channel, user_id__in=batch, notification_type__in=types
        ).values_list("user_id", "notification_type", "enabled")
        for user_id, notification_type, enabled in chosen:
            if (user_id, notification_type) in result and not is_mandatory(notification_type):
                result[(user_id, notification_type)] = enabled
    return result


def channel_choices() -> list[tuple[str, str]]:
    """Return the channels users can choose, as (name, verbose name) pairs, in ``DELIVERY_BACKENDS`` order."""
    return [(backend.name, str(backend.verbose_name or backend.name)) for backend in get_backends()]


def channels_for(user: RequestUser, notification_types: Iterable[str]) -> dict[str, dict[str, bool]]:
    """Return ``{type: {channel: on}}`` for the user: their choices, else the defaults."""
    notification_types = list(notification_types)
    chosen = {
        (notification_type, channel): enabled
        for notification_type, channel, enabled in _chosen_channels(user).values_list(
            "notification_type", "channel", "enabled"
        )
    }
    result = {}
    for notification_type in notification_types:
        result[notification_type] = {
            channel: True
            if is_mandatory(notification_type)
            else chosen.get((notification_type, channel), channel_default(channel, notification_type))
            for channel, _label in channel_choices()
        }
    return result


def set_channel_preferences(user: RequestUser, changes: Mapping[str, Mapping[str, bool | None]]) -> None:
    """Save ``{type: {channel: True | False | None}}`` for the user; None goes back to the default.

    Types are checked as set_preferences() checks them; unknown channels, values that are not booleans and turning
    a mandatory type off are refused, and then nothing is saved. A choice equal to the default is stored as None.
    """
    if not changes:
        return
    known = dict(channel_choices())
    # Reuse set_preferences()'s checks of the type names, without changing any delivery.
    for notification_type, per_channel in changes.items():
        if not isinstance(per_channel, Mapping):
            raise PreferenceError(
                gettext('Channels of %(type)r must be an object such as {"email": false}.')
                % {"type": notification_type}
            )
        for channel, enabled in per_channel.items():
            if channel not in known:
                raise PreferenceError(
                    gettext("Unknown channel %(channel)r; channels: %(known)s.")
                    % {"channel": channel, "known": ", ".join(known) or "-"}
                )
            if enabled is not None and not isinstance(enabled, bool):
                raise PreferenceError(
                    gettext("%(type)r by %(channel)s must be true, false or null.")
                    % {"type": notification_type, "channel": channel}
                )
            if is_mandatory(notification_type) and enabled is False:
                raise PreferenceError(
                    gettext("%(type)r notifications are mandatory: they cannot be turned off by %(channel)s.")
                    % {"type": notification_type, "channel": channel}
                )
    _check_types(user, changes.keys())
    with transaction.atomic():
        list(get_user_model()._default_manager.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))  # type: ignore[misc]
        existing = set(_chosen_channels(user).values_list("notification_type", "channel"))
        stored = {
            (notification_type, channel)
            for notification_type, per_channel in changes.items()
            for channel, enabled in per_channel.items()
            if enabled is not None and enabled != channel_default(channel, notification_type)
        }
        dropped = {(t, c) for t, per_channel in changes.items() for c in per_channel} - stored
        after = len((existing - dropped) | stored)
        limit = live_settings.max_preferences * max(len(known), 1)
        if after > limit and after > len(existing):
            raise PreferenceError(
                gettext("At most %(limit)s channel choices can be stored; this change would make %(count)s.")
                % {"limit": limit, "count": after}
            )
        for notification_type, per_channel in changes.items():
            for channel, enabled in per_channel.items():
                rows = _chosen_channels(user).filter(notification_type=notification_type, channel=channel)
                if enabled is None or enabled == channel_default(channel, notification_type):
                    rows.delete()
                else:
                    ChannelPreference.objects.update_or_create(  # type: ignore[misc]
                        user=user, notification_type=notification_type, channel=channel, defaults={"enabled": enabled}
                    )
