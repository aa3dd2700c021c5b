"""Live delivery over the socket: channels and its layer (E001, E002, W001), the outbox and socket timing
(E008, E011), and a development server that can serve the socket (W002, W003).

``check_setup`` also runs the checks of the settings' values (``values``: E003 to E006).
"""

from __future__ import annotations

import sys
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.management import get_commands
from django.utils.module_loading import import_string

from ..conf import live_settings
from .values import allowed_types, is_number, limit_errors, preference_errors, type_errors, unknown_key_errors

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
    configured = getattr(settings, "LIVE_NOTIFY", None) or {}
    if not isinstance(configured, dict):
        # Every setting is read from it: nothing else can be checked.
        error = Error(
            f"LIVE_NOTIFY must be a dict, not {type(configured).__name__}.",
            hint='Write LIVE_NOTIFY = {"HEARTBEAT_INTERVAL": 30, ...}; see the settings reference.',
            id="django_live_notify.E003",
        )
        return [*messages, error]
    messages += unknown_key_errors(configured)
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
    messages += type_errors()
    messages += preference_errors(allowed_types())
    messages += limit_errors()
    messages += _check_outbox()
    messages += _check_socket()
    return messages


def _check_outbox() -> list[Any]:
    """E008: MAX_PENDING_FRAMES must hold a full resume answer, WRITE_TIMEOUT must be a positive number."""
    problems = []
    pending = live_settings.MAX_PENDING_FRAMES
    replay_limit = live_settings.REPLAY_LIMIT
    needed = replay_limit + 2 if is_number(replay_limit, integer=True) else 2
    if not (is_number(pending, integer=True) and pending >= needed):
        problems.append(
            (
                f"MAX_PENDING_FRAMES must be an integer of at least REPLAY_LIMIT + 2 ({needed}), not {pending!r}.",
                "A resume answer queues up to REPLAY_LIMIT + 2 frames at once, so a smaller MAX_PENDING_FRAMES drops "
                f"healthy sockets. MAX_PENDING_FRAMES is a whole number of {needed} or more; the default is 256.",
            )
        )
    timeout = live_settings.WRITE_TIMEOUT
    if not (is_number(timeout, integer=False) and timeout > 0):
        problems.append(
            (
                f"WRITE_TIMEOUT must be a positive number of seconds, not {timeout!r}.",
                "WRITE_TIMEOUT is seconds, more than 0; the default is 10.",
            )
        )
    return [Error(problem, hint=hint, id="django_live_notify.E008") for problem, hint in problems]


# Close codes a server may send: 1009 (message too big) and the registered and private range.
CLOSE_CODES = "None, 1009, or 3000 to 4999"


def _check_socket() -> list[Any]:
    """E011: the socket's timing (heartbeat, idle timeout, token age) and its close code for oversized frames."""
    problems = []
    heartbeat = live_settings.HEARTBEAT_INTERVAL
    if not (is_number(heartbeat, integer=False) and heartbeat > 0):
        problems.append(
            (
                f"HEARTBEAT_INTERVAL must be a positive number of seconds, not {heartbeat!r}.",
                "HEARTBEAT_INTERVAL is seconds, more than 0 (the default is 30).",
            )
        )
    idle = live_settings.IDLE_TIMEOUT
    if idle is not None and not (is_number(idle, integer=False) and idle > 0):
        problems.append(
            (
                f"IDLE_TIMEOUT must be a positive number of seconds or None, not {idle!r}.",
                "IDLE_TIMEOUT is seconds, more than HEARTBEAT_INTERVAL, or None for 2.5 heartbeat intervals.",
            )
        )
    elif idle is not None and is_number(heartbeat, integer=False) and heartbeat > 0 and idle <= heartbeat:
        problems.append(
            (
                f"IDLE_TIMEOUT ({idle!r}) must be more than HEARTBEAT_INTERVAL ({heartbeat!r}): the server would "
                "close sockets whose client is only waiting for its next heartbeat.",
                "IDLE_TIMEOUT is seconds, more than HEARTBEAT_INTERVAL, or None for 2.5 heartbeat intervals.",
            )
        )
    token_age = live_settings.TOKEN_MAX_AGE
    if not (is_number(token_age, integer=True) and token_age >= 1):
        problems.append(
            (
                f"TOKEN_MAX_AGE must be a positive integer of seconds, not {token_age!r}.",
                "TOKEN_MAX_AGE is whole seconds, 1 or more (the default is 60).",
            )
        )
    code = live_settings.TOO_BIG_CLOSE_CODE
    if code is not None and not (is_number(code, integer=True) and (code == 1009 or 3000 <= code <= 4999)):
        problems.append(
            (
                f"TOO_BIG_CLOSE_CODE must be {CLOSE_CODES}, not {code!r}.",
                f"TOO_BIG_CLOSE_CODE is {CLOSE_CODES}; None sends 1009, or 4009 where the server refuses 1009.",
            )
        )
    return [Error(problem, hint=hint, id="django_live_notify.E011") for problem, hint in problems]


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
