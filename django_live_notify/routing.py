"""The WebSocket route, and a helper that wraps it in the security stack."""

from __future__ import annotations

from typing import Any

from django.urls import path

from .conf import live_settings
from .consumers import NotificationConsumer

websocket_urlpatterns = [
    path(live_settings.WEBSOCKET_PATH, NotificationConsumer.as_asgi(), name="live_notify_socket"),
]


def websocket_application(urlpatterns: list[Any] | None = None) -> Any:
    """Return the socket route behind origin checks, session authentication and token authentication.

    Cookie sockets must come from an origin in ``ALLOWED_HOSTS``
    (``AllowedHostsOriginValidator``); sockets that present a token (see
    ``django_live_notify.tokens``) may come from anywhere. Authentication is
    ``django_live_notify.auth.SocketAuthMiddleware``: what channels'
    ``AuthMiddlewareStack`` puts in the scope, with the sessions of concurrent
    handshakes looked up in batches. Pass ``urlpatterns`` to serve more
    WebSocket routes of your own beside it.
    """
    from channels.routing import URLRouter

    from .auth import SocketAuthMiddleware
    from .tokens import TokenOrOriginValidator

    routes = list(websocket_urlpatterns) + list(urlpatterns or [])
    return TokenOrOriginValidator(SocketAuthMiddleware(URLRouter(routes)))
