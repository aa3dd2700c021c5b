"""The test project's ASGI application with the delivery worker routed, as docs/channels.rst shows."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings_delivery")

from channels.routing import ChannelNameRouter, ProtocolTypeRouter
from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from django_live_notify.delivery import DeliveryConsumer  # noqa: E402
from django_live_notify.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": websocket_application(),
        "channel": ChannelNameRouter({"live-notify-delivery": DeliveryConsumer.as_asgi()}),
    }
)
