"""System checks: django_live_notify.E001 and friends (see docs/checks.rst)."""

from __future__ import annotations

import difflib
import math
import sys
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.core.management import get_commands
from django.db import router
from django.urls import NoReverseMatch, URLResolver, get_resolver, reverse
from django.utils.module_loading import import_string

from .backends import get_backends
from .conf import DEFAULTS, live_settings

IN_MEMORY_LAYER = "channels.layers.InMemoryChannelLayer"
URLS_HINT = (
    "Add path('notifications/', include('django_live_notify.urls')) to your ROOT_URLCONF's urlpatterns "
    "(any prefix will do); the template tags, the history page and the JS client's API need them."
)


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
    configured = getattr(settings, "LIVE_NOTIFY", None) or {}
    if not isinstance(configured, dict):
        # Every setting is read from it: nothing else can be checked.
        error = Error(
            f"LIVE_NOTIFY must be a dict, not {type(configured).__name__}.",
            hint='Write LIVE_NOTIFY = {"HEARTBEAT_INTERVAL": 30, ...}; see the settings reference.',
            id="django_live_notify.E003",
        )
        return [*messages, error]
    messages += _check_unknown_keys(configured)
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
                    "server process) reach open pages only through the recovery sweep, one to two sweep "
                    "intervals late (15 to 30 s by default), or when they resume. Use channels_redis in production."
                ),
                id="django_live_notify.W001",
            )
        )
    messages += _check_types()
    messages += _check_preferences(_allowed_types())
    messages += _check_limits()
    messages += _check_outbox()
    messages += _check_socket()
    return messages


def _check_unknown_keys(configured: dict[str, Any]) -> list[Any]:
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


def _allowed_types() -> frozenset[str] | None:
    """Return the values of NOTIFICATION_TYPES as far as they can be read; None when it is not set."""
    pairs = live_settings.NOTIFICATION_TYPES
    if pairs is None or not isinstance(pairs, (list, tuple)):
        return None
    return frozenset(pair[0] for pair in pairs if isinstance(pair, (list, tuple)) and len(pair) == 2)


def _check_types() -> list[Any]:
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


def _check_preferences(known: frozenset[str] | None) -> list[Any]:
    """E005: PREFERENCE_DEFAULTS and MANDATORY_TYPES must name known types and deliveries."""
    from .preferences import DELIVERIES, LIVE

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


def _check_outbox() -> list[Any]:
    """E008: MAX_PENDING_FRAMES must hold a full resume answer, WRITE_TIMEOUT must be a positive number."""
    problems = []
    pending = live_settings.MAX_PENDING_FRAMES
    replay_limit = live_settings.REPLAY_LIMIT
    needed = replay_limit + 2 if _is_number(replay_limit, integer=True) else 2
    if not (_is_number(pending, integer=True) and pending >= needed):
        problems.append(
            (
                f"MAX_PENDING_FRAMES must be an integer of at least REPLAY_LIMIT + 2 ({needed}), not {pending!r}.",
                "A resume answer queues up to REPLAY_LIMIT + 2 frames at once, so a smaller MAX_PENDING_FRAMES drops "
                f"healthy sockets. MAX_PENDING_FRAMES is a whole number of {needed} or more; the default is 256.",
            )
        )
    timeout = live_settings.WRITE_TIMEOUT
    if not (_is_number(timeout, integer=False) and timeout > 0):
        problems.append(
            (
                f"WRITE_TIMEOUT must be a positive number of seconds, not {timeout!r}.",
                "WRITE_TIMEOUT is seconds, more than 0; the default is 10.",
            )
        )
    return [Error(problem, hint=hint, id="django_live_notify.E008") for problem, hint in problems]


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
# The delivery worker's times (E012): (least value, whether the least value itself is allowed).
DELIVERY_NUMBERS = {
    "DELIVERY_OFFLINE_GRACE": (0, True),
    "DELIVERY_RETRY_BASE": (0, False),
    "DELIVERY_RETRY_MAX": (0, False),
    "DELIVERY_CLAIM_TIMEOUT": (0, False),
    "DELIVERY_LOOKBACK_HOURS": (0, False),
    "EMAIL_DIGEST_MINUTES": (0, True),
}


def _is_number(value: object, *, integer: bool) -> bool:
    """Tell whether ``value`` is a finite int (or float, unless ``integer``); True and False are not numbers here."""
    if type(value) is int:
        return True
    return not integer and type(value) is float and math.isfinite(value)


def _check_limits() -> list[Any]:
    """E006: sizes, counts and budgets must be integers in range, RETENTION_DAYS a positive one or None."""
    messages = []
    for name, (minimum, zero) in SIZES.items():
        value = getattr(live_settings, name)
        if _is_number(value, integer=True) and value >= minimum:
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
    if retention is not None and not (_is_number(retention, integer=True) and retention >= 1):
        messages.append(
            Error(
                f"RETENTION_DAYS must be a positive number of days or None, not {retention!r}.",
                hint="RETENTION_DAYS is a whole number of 1 or more, or None to keep read notifications for good; "
                "the default is 90.",
                id="django_live_notify.E006",
            )
        )
    return messages


# Close codes a server may send: 1009 (message too big) and the registered and private range.
CLOSE_CODES = "None, 1009, or 3000 to 4999"


def _check_socket() -> list[Any]:
    """E011: the socket's timing (heartbeat, idle timeout, token age) and its close code for oversized frames."""
    problems = []
    heartbeat = live_settings.HEARTBEAT_INTERVAL
    if not (_is_number(heartbeat, integer=False) and heartbeat > 0):
        problems.append(
            (
                f"HEARTBEAT_INTERVAL must be a positive number of seconds, not {heartbeat!r}.",
                "HEARTBEAT_INTERVAL is seconds, more than 0 (the default is 30).",
            )
        )
    idle = live_settings.IDLE_TIMEOUT
    if idle is not None and not (_is_number(idle, integer=False) and idle > 0):
        problems.append(
            (
                f"IDLE_TIMEOUT must be a positive number of seconds or None, not {idle!r}.",
                "IDLE_TIMEOUT is seconds, more than HEARTBEAT_INTERVAL, or None for 2.5 heartbeat intervals.",
            )
        )
    elif idle is not None and _is_number(heartbeat, integer=False) and heartbeat > 0 and idle <= heartbeat:
        problems.append(
            (
                f"IDLE_TIMEOUT ({idle!r}) must be more than HEARTBEAT_INTERVAL ({heartbeat!r}): the server would "
                "close sockets whose client is only waiting for its next heartbeat.",
                "IDLE_TIMEOUT is seconds, more than HEARTBEAT_INTERVAL, or None for 2.5 heartbeat intervals.",
            )
        )
    token_age = live_settings.TOKEN_MAX_AGE
    if not (_is_number(token_age, integer=True) and token_age >= 1):
        problems.append(
            (
                f"TOKEN_MAX_AGE must be a positive integer of seconds, not {token_age!r}.",
                "TOKEN_MAX_AGE is whole seconds, 1 or more (the default is 60).",
            )
        )
    code = live_settings.TOO_BIG_CLOSE_CODE
    if code is not None and not (_is_number(code, integer=True) and (code == 1009 or 3000 <= code <= 4999)):
        problems.append(
            (
                f"TOO_BIG_CLOSE_CODE must be {CLOSE_CODES}, not {code!r}.",
                f"TOO_BIG_CLOSE_CODE is {CLOSE_CODES}; None sends 1009, or 4009 where the server refuses 1009.",
            )
        )
    return [Error(problem, hint=hint, id="django_live_notify.E011") for problem, hint in problems]


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


@register(Tags.compatibility)
def check_websocket_server(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """W002/W003: ``runserver`` must be able to serve the socket; checked under runserver, and check with DEBUG."""
    command = sys.argv[1] if len(sys.argv) > 1 else None
    if command != "runserver" and not (command == "check" and settings.DEBUG):
        return []
    path = "/" + live_settings.websocket_path
    if get_commands().get("runserver") != "daphne":
        return [
            Warning(
                f"manage.py runserver is Django's own server here, which cannot serve the WebSocket at {path}: "
                "pages load, but no notification arrives live.",
                hint="pip install 'django-live-notify[daphne]' and put 'daphne' first in INSTALLED_APPS, or serve "
                "your ASGI application with uvicorn (then silence this warning).",
                id="django_live_notify.W002",
            )
        ]
    problem = _asgi_problem()
    if problem is None:
        return []
    return [
        Warning(
            f"{problem}: daphne's runserver cannot serve the WebSocket at {path}.",
            hint="Set ASGI_APPLICATION = 'mysite.asgi.application', a ProtocolTypeRouter whose 'websocket' entry is "
            "django_live_notify.routing.websocket_application() (see the installation docs).",
            id="django_live_notify.W003",
        )
    ]


def _asgi_problem() -> str | None:
    """Tell what keeps ASGI_APPLICATION from serving WebSockets, when that can be told without running it."""
    from channels.routing import ProtocolTypeRouter
    from django.core.handlers.asgi import ASGIHandler

    dotted = getattr(settings, "ASGI_APPLICATION", None)
    if not dotted:
        return "ASGI_APPLICATION is not set"
    try:
        application = import_string(dotted)
    except Exception as error:
        # Any error: a system check must report, not crash the command it runs for.
        return f"ASGI_APPLICATION {dotted!r} cannot be imported ({error!r})"
    # ASGIStaticFilesHandler and friends wrap the application they serve.
    while not isinstance(application, (ProtocolTypeRouter, ASGIHandler)) and hasattr(application, "application"):
        application = application.application
    if isinstance(application, ASGIHandler) or (
        isinstance(application, ProtocolTypeRouter) and "websocket" not in application.application_mapping
    ):
        return f"ASGI_APPLICATION {dotted!r} serves HTTP only"
    return None


@register(Tags.compatibility)
def check_sqlite_transactions(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """W004: a SQLite file database should begin its transactions IMMEDIATE."""
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
            id="django_live_notify.W004",
        )
    ]


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
        if not _is_number(value, integer=False) or value < minimum or (not inclusive and value == minimum):
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
    from .webpush import vapid_public_key

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
    from .webpush import URGENCIES

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
    if not (_is_number(timeout, integer=False) and timeout > 0):
        return f"WEBPUSH_TIMEOUT must be a positive number of seconds, not {timeout!r}."
    max_age = live_settings.WEBPUSH_READ_TOKEN_MAX_AGE
    if not (_is_number(max_age, integer=True) and max_age >= 1):
        return f"WEBPUSH_READ_TOKEN_MAX_AGE must be a positive integer of seconds, not {max_age!r}."
    return ""


def _is_webpush_backend(path: Any) -> bool:
    if not isinstance(path, str):
        return False
    try:
        backend = import_string(path)
    except ImportError:
        return False
    from .webpush import WebPushBackend

    return isinstance(backend, type) and issubclass(backend, WebPushBackend)


@register(Tags.compatibility)
def check_metrics_package(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """W006: the project asks for metrics (a METRICS* setting), the view is routed, but prometheus_client is missing.

    A project that never mentions metrics and lacks the extra gets no warning: the view answers 404 quietly.
    """
    from . import metrics, views

    if metrics.prometheus_client is not None or not live_settings.METRICS:
        return []
    if not any(name.startswith("METRICS") for name in live_settings.user_settings):
        return []
    if not _routes_to(get_resolver().url_patterns, views.metrics_view):
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
    from .metrics import allowed_networks

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
