"""The WebSocket route, and a helper that wraps it in the usual security stack."""

from __future__ import annotations

from typing import Any

from django.urls import path

from .conf import live_settings
from .consumers import NotificationConsumer

websocket_urlpatterns = [
    path(live_settings.WEBSOCKET_PATH, NotificationConsumer.as_asgi(), name="live_notify_socket"),
]


def websocket_application(urlpatterns: list[Any] | None = None) -> Any:
    """Return ``AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(...)))`` for the socket route.

    Pass ``urlpatterns`` to serve more WebSocket routes of your own beside it.
    """
    from channels.auth import AuthMiddlewareStack
    from channels.routing import URLRouter
    from channels.security.websocket import AllowedHostsOriginValidator

    routes = list(websocket_urlpatterns) + list(urlpatterns or [])
    return AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(routes)))
