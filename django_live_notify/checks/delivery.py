"""Delivery beyond the socket: the delivery settings and email links (E012, W007), and web push's keys (E009)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from ..backends import get_backends
from ..conf import live_settings
from .values import is_number

# The delivery worker's times (E012): (least value, whether the least value itself is allowed).
DELIVERY_NUMBERS = {
    "DELIVERY_OFFLINE_GRACE": (0, True),
    "DELIVERY_RETRY_BASE": (0, False),
    "DELIVERY_RETRY_MAX": (0, False),
    "DELIVERY_CLAIM_TIMEOUT": (0, False),
    "DELIVERY_LOOKBACK_HOURS": (0, False),
    "EMAIL_DIGEST_MINUTES": (0, True),
}


@register(Tags.compatibility)
def check_delivery(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """E012: the delivery settings name real backends, a known mode and known policies; W007: emails link back."""
    problems = []
    if live_settings.DELIVERY_MODE not in ("worker", "sweep", "inline"):
        problems.append(f"DELIVERY_MODE must be 'worker', 'sweep' or 'inline', not {live_settings.DELIVERY_MODE!r}.")
    backends: tuple[Any, ...] = ()
    try:
        backends = get_backends()
    except (ImportError, ImproperlyConfigured) as error:
        problems.append(f"DELIVERY_BACKENDS: {error}")
    for name, (minimum, inclusive) in DELIVERY_NUMBERS.items():
        value = getattr(live_settings, name)
        if not is_number(value, integer=False) or value < minimum or (not inclusive and value == minimum):
            bound = f"{minimum} or more" if inclusive else f"more than {minimum}"
            problems.append(f"{name} must be a number of {bound}, not {value!r}.")
    policies = live_settings.DELIVERY_POLICIES or {}
    for channel, per_type in policies.items() if isinstance(policies, dict) else [("?", policies)]:
        for notification_type, policy in per_type.items() if isinstance(per_type, dict) else [("?", per_type)]:
            if policy not in ("always", "offline", "unread"):
                problems.append(
                    f"DELIVERY_POLICIES[{channel!r}][{notification_type!r}] must be 'always', 'offline' or "
                    f"'unread', not {policy!r}."
                )
    messages: list[Any] = [
        Error(
            problem,
            hint="See the settings DELIVERY_BACKENDS, DELIVERY_MODE and DELIVERY_POLICIES in the docs' channels page.",
            id="django_live_notify.E012",
        )
        for problem in problems
    ]
    if any(backend.name == "email" for backend in backends) and not live_settings.EMAIL_BASE_URL:
        messages.append(
            Warning(
                "EMAIL_BASE_URL is not set: the unsubscribe link and the links of emails are not absolute, "
                "so mail clients cannot follow them.",
                hint="Set LIVE_NOTIFY['EMAIL_BASE_URL'] to the scheme and host users reach the site on, "
                "such as 'https://example.com'.",
                id="django_live_notify.W007",
            )
        )
    return messages


@register(Tags.compatibility)
def check_webpush_keys(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Check that the VAPID keys and subject are set, and match, when the web push backend is in use."""
    # Read directly: DELIVERY_BACKENDS belongs to the delivery worker, which may not define a default.
    listed = (getattr(settings, "LIVE_NOTIFY", None) or {}).get("DELIVERY_BACKENDS", []) or []
    if not any(_is_webpush_backend(path) for path in listed):
        return []
    hint = (
        "Run manage.py live_notify_vapid_keys and put the lines it prints into LIVE_NOTIFY, with "
        "WEBPUSH_VAPID_SUBJECT a mailto: or https: URL where push services can reach you."
    )
    private_key = live_settings.webpush_vapid_private_key
    public_key = live_settings.webpush_vapid_public_key
    subject = live_settings.webpush_vapid_subject
    missing = [
        name
        for name, value in (
            ("WEBPUSH_VAPID_PRIVATE_KEY", private_key),
            ("WEBPUSH_VAPID_PUBLIC_KEY", public_key),
            ("WEBPUSH_VAPID_SUBJECT", subject),
        )
        if not value
    ]
    if missing:
        return [
            Error(
                f"The web push backend is in DELIVERY_BACKENDS but LIVE_NOTIFY lacks {', '.join(missing)}.",
                hint=hint,
                id="django_live_notify.E009",
            )
        ]
    from ..webpush import vapid_public_key

    problem = ""
    try:
        derived = vapid_public_key(private_key)
    except Exception:  # py-vapid raises several kinds for a key it cannot read
        problem = "WEBPUSH_VAPID_PRIVATE_KEY is not a P-256 private key (base64url raw or DER)."
    else:
        if derived != public_key.rstrip("="):
            problem = "WEBPUSH_VAPID_PUBLIC_KEY is not the public key of WEBPUSH_VAPID_PRIVATE_KEY."
    if not problem and not subject.startswith(("mailto:", "https://")):
        problem = f"WEBPUSH_VAPID_SUBJECT must be a mailto: or https: URL, not {subject!r}."
    if not problem:
        problem = _webpush_option_problem()
        if problem:
            hint = (
                'TTL: whole seconds, 0 or more. Urgency: "very-low", "low", "normal" or "high". WEBPUSH_TIMEOUT: '
                "seconds, more than 0. WEBPUSH_READ_TOKEN_MAX_AGE: whole seconds, 1 or more."
            )
    return [Error(problem, hint=hint, id="django_live_notify.E009")] if problem else []


def _webpush_option_problem() -> str:
    from ..webpush import URGENCIES

    per_type = live_settings.WEBPUSH_TYPE_OPTIONS or {}
    if not isinstance(per_type, dict) or not all(isinstance(options, dict) for options in per_type.values()):
        return 'WEBPUSH_TYPE_OPTIONS must map types to dicts: {"security": {"ttl": 600, "urgency": "high"}}.'
    places = [("WEBPUSH_TTL", live_settings.WEBPUSH_TTL, "WEBPUSH_URGENCY", live_settings.WEBPUSH_URGENCY)]
    for name, options in per_type.items():
        places.append(
            (
                f"WEBPUSH_TYPE_OPTIONS[{name!r}]['ttl']",
                options.get("ttl", 0),
                f"WEBPUSH_TYPE_OPTIONS[{name!r}]['urgency']",
                options.get("urgency", "normal"),
            )
        )
    for ttl_name, ttl, urgency_name, urgency in places:
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0:
            return f"{ttl_name} must be whole seconds, 0 or more, not {ttl!r}."
        if urgency not in URGENCIES:
            return f"{urgency_name} must be one of {', '.join(URGENCIES)}, not {urgency!r}."
    timeout = live_settings.WEBPUSH_TIMEOUT
    if not (is_number(timeout, integer=False) and timeout > 0):
        return f"WEBPUSH_TIMEOUT must be a positive number of seconds, not {timeout!r}."
    max_age = live_settings.WEBPUSH_READ_TOKEN_MAX_AGE
    if not (is_number(max_age, integer=True) and max_age >= 1):
        return f"WEBPUSH_READ_TOKEN_MAX_AGE must be a positive integer of seconds, not {max_age!r}."
    return ""


def _is_webpush_backend(path: Any) -> bool:
    if not isinstance(path, str):
        return False
    try:
        backend = import_string(path)
    except ImportError:
        return False
    from ..webpush import WebPushBackend

    return isinstance(backend, type) and issubclass(backend, WebPushBackend)
