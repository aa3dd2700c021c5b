"""The values of LIVE_NOTIFY's settings: known keys (E003), types (E004), preferences (E005), sizes (E006).

``check_setup`` (in ``websocket``) runs these; each returns its messages.
"""

from __future__ import annotations

import difflib
import math
from typing import Any

from django.core.checks import Error

from ..conf import DEFAULTS, live_settings


def unknown_key_errors(configured: dict[str, Any]) -> list[Any]:
    """E003: every key of LIVE_NOTIFY must be a setting; a typo is silently ignored otherwise."""
    messages = []
    for key in sorted(set(configured) - set(DEFAULTS), key=str):
        guesses = difflib.get_close_matches(str(key), DEFAULTS, n=1)
        suggestion = f"; did you mean {guesses[0]}?" if guesses else "."
        messages.append(
            Error(
                f"LIVE_NOTIFY[{key!r}] is not a setting{suggestion}",
                hint="Valid keys: " + ", ".join(sorted(DEFAULTS)) + ".",
                id="django_live_notify.E003",
            )
        )
    return messages


def allowed_types() -> frozenset[str] | None:
    """Return the values of NOTIFICATION_TYPES as far as they can be read; None when it is not set."""
    pairs = live_settings.NOTIFICATION_TYPES
    if pairs is None or not isinstance(pairs, (list, tuple)):
        return None
    return frozenset(pair[0] for pair in pairs if isinstance(pair, (list, tuple)) and len(pair) == 2)


def type_errors() -> list[Any]:
    """E004: NOTIFICATION_TYPES must be (value, label) pairs, and DEFAULT_NOTIFICATION_TYPE among them."""
    pairs = live_settings.NOTIFICATION_TYPES
    default_type = live_settings.DEFAULT_NOTIFICATION_TYPE
    problem = ""
    if pairs is not None and (
        not isinstance(pairs, (list, tuple))
        or not all(isinstance(pair, (list, tuple)) and len(pair) == 2 and _is_name(pair[0]) for pair in pairs)
    ):
        problem = f"LIVE_NOTIFY['NOTIFICATION_TYPES'] must be a list of (value, label) pairs or None, not {pairs!r}."
    elif not _is_name(default_type):
        problem = f"LIVE_NOTIFY['DEFAULT_NOTIFICATION_TYPE'] must be a non-empty string, not {default_type!r}."
    elif pairs is not None and default_type not in {value for value, _label in pairs}:
        problem = f"LIVE_NOTIFY['DEFAULT_NOTIFICATION_TYPE'] ({default_type!r}) is not in NOTIFICATION_TYPES."
    if not problem:
        return []
    return [
        Error(
            problem,
            hint="NOTIFICATION_TYPES is None (any type) or a list of (value, label) pairs such as "
            '[("system", "System"), ("message", "Message")]; add DEFAULT_NOTIFICATION_TYPE to it, or set '
            "DEFAULT_NOTIFICATION_TYPE to one of them.",
            id="django_live_notify.E004",
        )
    ]


def _is_name(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def preference_errors(known: frozenset[str] | None) -> list[Any]:
    """E005: PREFERENCE_DEFAULTS and MANDATORY_TYPES must name known types and deliveries."""
    from ..preferences import DELIVERIES, LIVE

    problems = []
    defaults = live_settings.PREFERENCE_DEFAULTS
    mandatory = live_settings.MANDATORY_TYPES
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


# Sizes and limits (E006): each setting's least value, and what 0 means where 0 is allowed.
SIZES = {
    "PAGE_SIZE": (1, ""),
    "BATCH_SIZE": (1, ""),
    "MAX_MESSAGE_SIZE": (1, ""),
    "REPLAY_LIMIT": (1, ""),
    "MAX_ACTIONS": (0, "no actions"),
    "MAX_PREFERENCES": (0, "no stored preferences"),
    "MAX_MESSAGES_PER_SECOND": (0, "no limit"),
    "MAX_REPLAYED_PER_MINUTE": (0, "no limit"),
    "MAX_CONNECTIONS_PER_USER": (0, "no limit"),
    "ACK_INTERVAL": (0, "sent at once"),
    "DELIVERY_MAX_ATTEMPTS": (1, ""),
    "DELIVERY_BATCH_SIZE": (1, ""),
    "EMAIL_MAX_PER_HOUR": (0, "no limit"),
}


def is_number(value: object, *, integer: bool) -> bool:
    """Tell whether ``value`` is a finite int (or float, unless ``integer``); True and False are not numbers here."""
    if type(value) is int:
        return True
    return not integer and type(value) is float and math.isfinite(value)


def limit_errors() -> list[Any]:
    """E006: sizes, counts and budgets must be integers in range, RETENTION_DAYS a positive one or None."""
    messages = []
    for name, (minimum, zero) in SIZES.items():
        value = getattr(live_settings, name)
        if is_number(value, integer=True) and value >= minimum:
            continue
        kind = "a non-negative" if minimum == 0 else "a positive"
        meaning = f" (0 = {zero})" if zero else ""
        messages.append(
            Error(
                f"{name} must be {kind} integer, not {value!r}.",
                hint=f"{name} is a whole number of {minimum} or more{meaning}; the default is {DEFAULTS[name]}.",
                id="django_live_notify.E006",
            )
        )
    retention = live_settings.RETENTION_DAYS
    if retention is not None and not (is_number(retention, integer=True) and retention >= 1):
        messages.append(
            Error(
                f"RETENTION_DAYS must be a positive number of days or None, not {retention!r}.",
                hint="RETENTION_DAYS is a whole number of 1 or more, or None to keep read notifications for good; "
                "the default is 90.",
                id="django_live_notify.E006",
            )
        )
    return messages
