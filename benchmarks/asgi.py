"""The benchmark's ASGI application: bench HTTP endpoints, the app's socket and the baseline's socket."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.asgi import get_asgi_application
from django.urls import path

django_asgi_app = get_asgi_application()

from benchmarks import bare  # noqa: E402
from benchmarks.baseline import BaselineConsumer  # noqa: E402
from django_live_notify.routing import websocket_application  # noqa: E402

# ws/notifications/: django-live-notify exactly as a project serves it.
live_sockets = websocket_application()
# ws/baseline/: the usual hand-written Channels stack around the baseline consumer.
baseline_sockets = AllowedHostsOriginValidator(
    AuthMiddlewareStack(URLRouter([path("ws/baseline/", BaselineConsumer.as_asgi())]))
)


def websockets(scope, receive, send):
    """Hand a socket to the baseline's stack, the bare floor or django-live-notify's, by path.

    A plain function that returns the chosen application's coroutine: as an ``async def`` it added a suspended
    coroutine to every socket of the three, which a project's router does not have.
    """
    if scope["path"].startswith("/ws/baseline/"):
        return baseline_sockets(scope, receive, send)
    if scope["path"].startswith("/ws/bare/"):
        return bare.application(scope, receive, send)
    return live_sockets(scope, receive, send)


application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websockets})

# As docs/deployment.rst suggests; BENCH_GC_TUNING=0 leaves the collector as Python sets it, to measure the
# difference.
if os.environ.get("BENCH_GC_TUNING", "1") != "0":
    from django_live_notify.routing import tune_garbage_collector

    tune_garbage_collector()
