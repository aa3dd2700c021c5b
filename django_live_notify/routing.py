"""The WebSocket route, and a helper that wraps it in the security stack."""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

from django.urls import URLPattern, URLResolver, path

from .conf import live_settings
from .consumers import NotificationConsumer

#: What an ASGI application receives with the scope: a coroutine function to read the next event, and one to send.
Receive: TypeAlias = Callable[[], Awaitable[dict[str, Any]]]
Send: TypeAlias = Callable[[dict[str, Any]], Awaitable[None]]

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path(live_settings.websocket_path, NotificationConsumer.as_asgi(), name="live_notify_socket"),
]


def websocket_application(urlpatterns: list[URLPattern | URLResolver] | None = None) -> SocketApplication:
    """Return the socket route behind origin checks, session authentication and token authentication.

    Sockets must come from their own origin or one in ``CSRF_TRUSTED_ORIGINS``,
    matched on scheme, host and port (``django_live_notify.origins``); sockets
    that present a token (see ``django_live_notify.tokens``) may also come
    with no Origin at all. Authentication is
    ``django_live_notify.auth.SocketAuthMiddleware``: what channels'
    ``AuthMiddlewareStack`` puts in the scope, with the sessions of concurrent
    handshakes looked up in batches. Pass ``urlpatterns`` to serve more
    WebSocket routes of your own beside it.

    It behaves as ``TokenOrOriginValidator(SocketAuthMiddleware(URLRouter(routes)))``
    but runs all three in one coroutine, which an open socket holds for its
    whole life: fewer frames and scope copies per connection.
    """
    return SocketApplication(list(websocket_urlpatterns) + list(urlpatterns or []))


class SocketApplication:
    """Origin check, authentication and routing of WebSockets in one step (see websocket_application())."""

    def __init__(self, routes: list[URLPattern | URLResolver]) -> None:
        from channels.routing import URLRouter

        from .auth import SocketAuthMiddleware
        from .tokens import TokenOrOriginValidator

        self.validator = TokenOrOriginValidator(None)
        self.resolve = SocketAuthMiddleware.resolve
        self.router = URLRouter(routes)
        # The notification socket's own path is matched here, without the router's extra frame and scope copy.
        self.path = "/" + live_settings.websocket_path if "<" not in live_settings.websocket_path else None

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> object:
        from channels.security.websocket import WebsocketDenier

        if scope["type"] != "websocket":
            raise ValueError("websocket_application() serves WebSocket connections only")
        if not self.validator.allows(scope):
            return await WebsocketDenier()(scope, receive, send)
        if self.path is not None and scope.get("path") == self.path and not scope.get("root_path"):
            scope = await self.resolve(scope, url_route={"args": (), "kwargs": {}})
            # What NotificationConsumer.as_asgi() would do, without its coroutine waiting for this socket's end.
            await NotificationConsumer()(scope, receive, send)
            return None
        return await self.router(await self.resolve(scope), receive, send)


def tune_garbage_collector(threshold: int = 50_000) -> None:
    """Make full garbage collections rare in a server process that holds thousands of sockets.

    Call it once at the end of ``asgi.py``. It collects once, then freezes what start-up left (Django, the
    URLconf, the models: objects that live as long as the process) so that no later collection scans them, and
    raises the first generation's threshold from 700 to ``threshold`` allocations, so that the thousands of
    objects each batch of handshakes creates do not each time trigger a collection that climbs to a full one.
    Measured with 10,000 sockets, it cut the server's CPU per handshake by about a quarter; see
    docs/deployment.rst. It changes the whole process, which is why it is a call and not a default.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise ValueError(f"threshold must be a positive int, not {threshold!r}")
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold, 20, 100)
